// Ledger sync at the operator: station export -> ledger import, reconciliation
// findings from natural situations (a key reused across sites, issuance after
// retirement, a rolled-back station) and from bundles tampered with and re-signed
// with the station key (a rogue station): forged duplicate serial from a second
// site, forged out-of-range entry, over quota, removed records.
#include <set>
#include <thread>

#include "integration/factory_fixture.h"

namespace hallmark::testing {
namespace {

using nlohmann::json;

std::multiset<std::string> codes(const json& report) {
  std::multiset<std::string> out;
  for (const auto& f : report["findings"]) out.insert(f["code"].get<std::string>());
  return out;
}

class LedgerTest : public FactoryTest {
 protected:
  // A certificate for `device` signed by the station's site CA with openssl (not by Hallmark).
  std::string forged_certificate_line(const std::string& station, const std::string& site, const std::string& device,
                                      const std::string& cert_serial) {
    const auto ca_key = file("site-ca-plain.pem");
    EXPECT_EQ(
        run("openssl pkey -in " + station + "/keys/site-ca.key -passin pass:" + std::string(kPass) + " -out " + ca_key)
            .exit_code,
        0);
    auto r = run("openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " + file("forged.key") +
                 " -subj '/O=Hallmark Example Devices/serialNumber=" + device +
                 "' 2>/dev/null | openssl x509 -req -CA " + station + "/ca/site-ca.pem -CAkey " + ca_key +
                 " -set_serial 0x" + cert_serial + " -days 3650 -outform DER 2>/dev/null | base64 -w0");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return json{
        {"type", "certificate"},     {"serial", cert_serial},  {"profile", "idevid"},
        {"device_serial", device},   {"product", "sensor-v2"}, {"origin", "site:" + site + "/station:1/batch:forged"},
        {"evidence_digest", "none"}, {"created", 0},           {"der", r.out}}
        .dump();
  }

  json import_json(const std::string& bundle, int expected_exit) {
    auto r = hallmark("ledger import --json --dir " + dir() + " " + bundle);
    EXPECT_EQ(r.exit_code, expected_exit) << r.out << r.err;
    return r.out.empty() ? json::object() : json::parse(r.out);
  }
};

TEST_F(LedgerTest, CleanBundleImportsWithChannelAndOriginAndReimportIsANoOp) {
  const auto st = init_station("a", create_site("a", "SN-00001000..SN-00001999", 100));
  write_lines(file("m.jsonl"), {line(serial(1000), fresh_csr()),
                                line(serial(1001), fresh_csr(), "sensor-v2", R"({"profiles":["ldevid"]})")});
  ASSERT_EQ(provision(st, file("m.jsonl"), file("o"), "--batch b-1").exit_code, 0);
  ASSERT_EQ(hallmark("station export --dir " + st + " --out " + file("a1.bundle")).exit_code, 0);
  auto rep = import_json(file("a1.bundle"), 0);
  EXPECT_EQ(rep["imported"], 3);
  EXPECT_TRUE(rep["findings"].empty()) << rep.dump(2);
  auto again = import_json(file("a1.bundle"), 0);
  EXPECT_EQ(again["imported"], 0);
  EXPECT_EQ(again["already_imported"], 3);
  auto rows =
      run("sqlite3 " + dir() +
          "/hallmark.db \"SELECT channel, origin, issuer FROM certificates WHERE device_serial='SN-00001000'\"");
  EXPECT_EQ(rows.out, "factory|site:a/station:1/batch:b-1|site:a\n");
  // The imported IDevID verifies with openssl against the operator's own chain.
  const auto cert = run("sqlite3 " + dir() +
                        "/hallmark.db \"SELECT hex(der) FROM certificates WHERE device_serial='SN-00001000'\" | xxd -r "
                        "-p | openssl x509 -inform DER -out " +
                        file("i.pem"));
  ASSERT_EQ(cert.exit_code, 0);
  ASSERT_EQ(run(bin() + " ca export --dir " + dir() + " --issuer site:a > " + file("site-a.pem")).exit_code, 0);
  ASSERT_EQ(run("cat " + file("site-a.pem") + " " + file("factory.pem") + " > " + file("inter.pem")).exit_code, 0);
  auto v = openssl_verify(file("i.pem"), file("inter.pem"));
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  // An export never overwrites an earlier bundle (its records would be lost).
  const auto before = read_text(file("a1.bundle"));
  auto over = hallmark("station export --dir " + st + " --out " + file("a1.bundle"));
  EXPECT_EQ(over.exit_code, 3) << over.err;
  EXPECT_NE(over.err.find("already exists"), std::string::npos) << over.err;
  EXPECT_EQ(read_text(file("a1.bundle")), before);
  // The second export carries only what is new.
  ASSERT_EQ(hallmark("station export --dir " + st + " --out " + file("a2.bundle")).exit_code, 0);
  auto second = import_json(file("a2.bundle"), 0);
  EXPECT_EQ(second["imported"], 0);
  EXPECT_TRUE(second["findings"].empty()) << second.dump(2);
  // Altered without the station key: refused as a whole.
  ASSERT_EQ(run("sed -i 's/b-1/b-2/' " + file("a1.bundle")).exit_code, 0);
  auto refused = hallmark("ledger import --dir " + dir() + " " + file("a1.bundle"));
  EXPECT_EQ(refused.exit_code, 3) << refused.err;
}

TEST_F(LedgerTest, TwoImportsOfOneBundleAtOnceImportItOnceAndBothSucceed) {
  const auto st = init_station("a", create_site("a", "SN-00001000..SN-00001999", 100));
  std::vector<std::string> lines;
  for (int i = 0; i < 50; ++i) lines.push_back(line(serial(1000 + i), fresh_csr()));
  write_lines(file("m.jsonl"), lines);
  ASSERT_EQ(provision(st, file("m.jsonl"), file("o")).exit_code, 0);
  ASSERT_EQ(hallmark("station export --dir " + st + " --out " + file("a.bundle")).exit_code, 0);
  const std::string cmd = bin() + " ledger import --json --dir " + dir() + " " + file("a.bundle");
  auto both = run("(" + cmd + " > " + file("i1.json") + "; echo $? > " + file("i1.rc") + ") & (" + cmd + " > " +
                  file("i2.json") + "; echo $? > " + file("i2.rc") + ") & wait");
  ASSERT_EQ(both.exit_code, 0) << both.err;
  EXPECT_EQ(read_text(file("i1.rc")), "0\n");
  EXPECT_EQ(read_text(file("i2.rc")), "0\n");
  const auto a = json::parse(read_text(file("i1.json")));
  const auto b = json::parse(read_text(file("i2.json")));
  EXPECT_EQ(a["imported"].get<int>() + b["imported"].get<int>(), 50) << a.dump() << b.dump();
  EXPECT_TRUE(a["findings"].empty() && b["findings"].empty()) << a.dump() << b.dump();
}

TEST_F(LedgerTest, RogueStationBundleReportsEveryFinding) {
  const auto sa = init_station("a", create_site("a", "SN-00001000..SN-00001999", 100));
  const auto sb = init_station("b", create_site("b", "SN-00002000..SN-00002999", 2));
  const auto key = fresh_csr();
  write_lines(file("ma.jsonl"), {line(serial(1000), key)});
  write_lines(file("mb.jsonl"), {line(serial(2000), key), line(serial(2001), fresh_csr())});  // same key, other site
  ASSERT_EQ(provision(sa, file("ma.jsonl"), file("oa")).exit_code, 0);
  ASSERT_EQ(provision(sb, file("mb.jsonl"), file("ob")).exit_code, 0);
  ASSERT_EQ(hallmark("station export --dir " + sa + " --out " + file("a.bundle")).exit_code, 0);
  ASSERT_EQ(hallmark("station export --dir " + sb + " --out " + file("b.bundle")).exit_code, 0);
  EXPECT_TRUE(import_json(file("a.bundle"), 0)["findings"].empty());

  // Tamper with b's bundle: drop the certificate of SN-00002001 and one audit
  // record, add a forged IDevID for a serial of site a and one out of range; re-sign.
  auto lines = read_lines(file("b.bundle"));
  lines.pop_back();  // the signature
  std::vector<std::string> body;
  const auto b2001 = results(file("ob"))[1]["cert_serial"].get<std::string>();
  bool dropped_record = false;
  for (const auto& l : lines) {
    auto j = json::parse(l);
    if (j["type"] == "certificate" && j["serial"] == b2001) continue;
    if (!dropped_record && j["type"] == "record" && j["action"] == "signing" && j["cert_serial"] == b2001) {
      dropped_record = true;
      continue;
    }
    if (j["type"] == "checkpoint") {
      body.push_back(forged_certificate_line(sb, "b", serial(1000), "4ABCDEF0123456789ABCDEF012345678"));
      body.push_back(forged_certificate_line(sb, "b", serial(9999), "4ABCDEF0123456789ABCDEF012345679"));
    }
    body.push_back(l);
  }
  ASSERT_TRUE(dropped_record);
  resign_bundle(sb, file("b.bundle"), body);
  auto rep = import_json(file("b.bundle"), 1);
  const auto found = codes(rep);
  for (const char* code : {"duplicate_key", "duplicate_serial", "serial_out_of_range", "over_quota",
                           "missing_certificate", "unrecorded_certificate", "chain_gap"}) {
    EXPECT_TRUE(found.contains(code)) << code << " missing from " << rep.dump(2);
  }
  // The forged certificates exist in the world: they are imported so they can be revoked, and flagged.
  EXPECT_EQ(rep["imported"], 3);
  // Imported again (or after an import cut off half way): the same content findings, nothing new imported.
  auto again = import_json(file("b.bundle"), 1);
  EXPECT_EQ(again["imported"], 0);
  const auto found_again = codes(again);
  for (const char* code : {"duplicate_key", "duplicate_serial", "serial_out_of_range"}) {
    EXPECT_TRUE(found_again.contains(code)) << code << " missing from " << again.dump(2);
  }
}

TEST_F(LedgerTest, RetirementFlagsLaterIssuanceAndARolledBackStationShowsAsAFork) {
  const auto st = init_station("c", create_site("c", "SN-00003000..SN-00003999", 100));
  write_lines(file("m1.jsonl"), {line(serial(3000), fresh_csr())});
  ASSERT_EQ(provision(st, file("m1.jsonl"), file("o1")).exit_code, 0);
  ASSERT_EQ(run("cp -a " + st + " " + file("c-snapshot")).exit_code, 0);
  ASSERT_EQ(hallmark("station export --final --dir " + st + " --out " + file("final.bundle")).exit_code, 0);
  auto retire = hallmark("site retire --dir " + dir() + " c --final-bundle " + file("final.bundle"));
  ASSERT_EQ(retire.exit_code, 0) << retire.err << retire.out;
  auto show = json::parse(hallmark("site show --json --dir " + dir() + " c").out);
  EXPECT_EQ(show["status"], "retired");
  EXPECT_EQ(show["devices_imported"], 1);
  std::this_thread::sleep_for(std::chrono::seconds(1));  // issuance strictly after the retirement second

  // The station keeps issuing (it cannot know): flagged at import.
  write_lines(file("m2.jsonl"), {line(serial(3001), fresh_csr())});
  ASSERT_EQ(provision(st, file("m2.jsonl"), file("o2")).exit_code, 0);
  ASSERT_EQ(hallmark("station export --dir " + st + " --out " + file("late.bundle")).exit_code, 0);
  auto late = import_json(file("late.bundle"), 1);
  EXPECT_TRUE(codes(late).contains("after_retirement")) << late.dump(2);

  // A copy of the station from before the export issues something else: its
  // chain diverges from the one already imported.
  write_lines(file("m3.jsonl"), {line(serial(3002), fresh_csr())});
  ASSERT_EQ(provision(file("c-snapshot"), file("m3.jsonl"), file("o3")).exit_code, 0);
  ASSERT_EQ(hallmark("station export --dir " + file("c-snapshot") + " --out " + file("fork.bundle")).exit_code, 0);
  auto fork = import_json(file("fork.bundle"), 1);
  EXPECT_TRUE(codes(fork).contains("chain_fork")) << fork.dump(2);
}

}  // namespace
}  // namespace hallmark::testing
