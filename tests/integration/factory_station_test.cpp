// The offline station: site create -> station init -> station provision, with
// every refusal reason, bad manifest lines, a 10,000-device manifest, kill -9
// and resume; chains checked with `openssl verify`.
#include <csignal>
#include <fstream>
#include <set>
#include <thread>

#include "integration/factory_fixture.h"

namespace hallmark::testing {
namespace {

using nlohmann::json;

TEST_F(FactoryTest, SiteCreateSplitsRangesAndQuotaBetweenStationsAndRefusesOverlaps) {
  const auto auth = create_site("split", "SN-00001000..SN-00001999", 101, "--stations 2");
  auto a1 = json::parse(read_text(auth + "/station-1/authorization.json"));
  auto a2 = json::parse(read_text(auth + "/station-2/authorization.json"));
  EXPECT_EQ(a1["serial_ranges"], json::array({"SN-00001000..SN-00001499"}));
  EXPECT_EQ(a2["serial_ranges"], json::array({"SN-00001500..SN-00001999"}));
  EXPECT_EQ(a1["quota"].get<int>() + a2["quota"].get<int>(), 101);
  // The authorization is checkable by a third party with the factory CA's public key.
  ASSERT_EQ(run("openssl x509 -in " + file("factory.pem") + " -pubkey -noout > " + file("factory-pub.pem")).exit_code,
            0);
  auto v = run("openssl dgst -sha256 -verify " + file("factory-pub.pem") + " -signature " + auth +
               "/station-1/authorization.sig " + auth + "/station-1/authorization.json");
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  // Two stations: the --out folder itself is ambiguous.
  auto amb = hallmark("station init --dir " + file("amb") + " --authorization " + auth);
  EXPECT_EQ(amb.exit_code, 3) << amb.err;
  init_station("st2", auth + "/station-2");
  // Overlap with an active site is refused.
  auto overlap = hallmark("site create --dir " + dir() +
                          " --id other --serial-range SN-00001900..SN-00002100 --quota 5"
                          " --not-after 2040-01-01 --products sensor-v2 --attestation none --out " +
                          file("auth-other"));
  EXPECT_EQ(overlap.exit_code, 3);
  EXPECT_NE(overlap.err.find("overlaps"), std::string::npos) << overlap.err;
  // A quota that is not a plain count of devices is refused, never read as "unlimited".
  for (const char* quota : {"-5", "abc", "5x", "+5", "99999999999999999999"}) {
    auto bad = hallmark("site create --dir " + dir() + " --id q --serial-range QQ-100..QQ-199 --quota " + quota +
                        " --not-after 2040-01-01 --products sensor-v2 --attestation none --out " + file("auth-q"));
    EXPECT_EQ(bad.exit_code, 3) << quota << ": " << bad.err;
    EXPECT_NE(bad.err.find("--quota"), std::string::npos) << bad.err;
  }
  // A window past the site CA is clamped, and the command says so.
  auto clamp = hallmark("site create --dir " + dir() +
                        " --id far --serial-range AB-100..AB-199 --quota 5"
                        " --not-after 2999-01-01 --products sensor-v2 --attestation none --out " +
                        file("auth-far"));
  EXPECT_EQ(clamp.exit_code, 0) << clamp.err;
  EXPECT_NE(clamp.err.find("clamped"), std::string::npos) << clamp.err;
  auto list = hallmark("site list --json --dir " + dir());
  ASSERT_EQ(list.exit_code, 0);
  EXPECT_EQ(json::parse(list.out).size(), 2u);
}

TEST_F(FactoryTest, EveryRefusalReasonIsReportedPerLineAndTheBatchGoesOn) {
  const auto st = init_station("st", create_site("main", "SN-00001000..SN-00001999", 6));
  const auto dup_key = fresh_csr();
  std::string bad_sig = dup_key;
  {
    auto der = base::base64_decode(bad_sig).value();
    der[der.size() - 5] ^= 0x01;  // inside the signature
    bad_sig = base::base64_encode(der);
  }
  ASSERT_EQ(run("openssl req -new -newkey rsa:1024 -nodes -keyout " + file("rsa.key") +
                " -subj /CN=x -outform DER -out " + file("rsa.der") + " 2>/dev/null")
                .exit_code,
            0);
  const auto rsa1024 = run("base64 -w0 " + file("rsa.der")).out;
  std::vector<std::string> lines = {
      line(serial(1000), dup_key),                                                     // 1 issued
      std::string(10 * 1024 * 1024, 'x'),                                              // 2 a 10 MB line
      "{not json",                                                                     // 3
      R"({"serial":"SN-00001001","product":"sensor-v2"})",                             // 4 no csr
      R"({"serial":42,"product":"sensor-v2","csr":"AAAA"})",                           // 5 wrong type
      line(serial(1002), "!!!not base64!!!"),                                          // 6
      line(serial(1003), bad_sig),                                                     // 7
      line(serial(1004), rsa1024),                                                     // 8
      line(serial(1005), fresh_csr(), "toaster"),                                      // 9
      line(serial(1006), fresh_csr(), "sensor-v2", R"({"profiles":["tls-server"]})"),  // 10
      line(serial(5000), fresh_csr()),                                                 // 11
      line(serial(1000), fresh_csr()),                                                 // 12 serial taken by another key
      line(serial(1007), dup_key),      // 13 in-range serial, key of line 1
      line(serial(1008), fresh_csr()),  // 14 issued (2)
      line(serial(1009), fresh_csr(), "gateway-x1", R"({"profiles":["idevid","ldevid"]})"),     // 15 issued (3)
      line(serial(1010), fresh_csr()),                                                          // 16 (4)
      line(serial(1011), fresh_csr()),                                                          // 17 (5)
      line(serial(1012), fresh_csr()),                                                          // 18 (6)
      line(serial(1013), fresh_csr()),                                                          // 19 quota
      R"({"serial":"SN-00001014","serial":"SN-00005000","product":"sensor-v2","csr":"AAAA"})",  // 20 ambiguous
  };
  write_lines(file("m.jsonl"), lines);
  auto r = provision(st, file("m.jsonl"), file("out"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto rows = results(file("out"));
  ASSERT_EQ(rows.size(), lines.size());
  const std::vector<std::string> expected = {"issued",
                                             "line_too_long",
                                             "invalid_json",
                                             "missing_field",
                                             "invalid_field",
                                             "bad_csr",
                                             "csr_signature",
                                             "unsupported_csr",
                                             "product_not_allowed",
                                             "profile_not_allowed",
                                             "serial_out_of_range",
                                             "serial_already_issued",
                                             "duplicate_key",
                                             "issued",
                                             "issued",
                                             "issued",
                                             "issued",
                                             "issued",
                                             "quota_exhausted",
                                             "invalid_json"};
  for (std::size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i]["line"], i + 1);
    const auto got = rows[i]["status"] == "refused" ? rows[i]["reason_code"].get<std::string>()
                                                    : rows[i]["status"].get<std::string>();
    EXPECT_EQ(got, expected[i]) << "line " << i + 1 << ": " << rows[i].dump();
    if (rows[i]["status"] == "refused") {
      EXPECT_FALSE(rows[i]["reason"].get<std::string>().empty());
    }
  }
  auto summary = json::parse(read_text(file("out/summary.json")));
  EXPECT_EQ(summary["issued"], 6);
  EXPECT_EQ(summary["refused"], 14);

  // The device bundle verifies with a third party; the IDevID binds the serial.
  auto get = hallmark("station bundle get --dir " + st + " " + serial(1009) + " --out " + file("dev.pem"));
  ASSERT_EQ(get.exit_code, 0) << get.err;
  ASSERT_EQ(run("openssl x509 -in " + file("dev.pem") + " -out " + file("leaf.pem")).exit_code, 0);
  auto v = run("openssl verify -x509_strict -CAfile " + st + "/ca/root.pem -untrusted " + file("dev.pem") + " " +
               file("leaf.pem"));
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  auto subj = run("openssl x509 -noout -subject -in " + file("leaf.pem"));
  EXPECT_NE(subj.out.find("SN-00001009"), std::string::npos) << subj.out;
  EXPECT_TRUE(get.out.empty());  // written to --out, not stdout
  // Every certificate records channel factory and origin site/station/batch.
  auto origin = run("sqlite3 " + st + "/station.db \"SELECT DISTINCT channel || ' ' || origin FROM certificates\"");
  EXPECT_NE(origin.out.find("factory site:main/station:1/batch:m-"), std::string::npos) << origin.out;
}

TEST_F(FactoryTest, ALaterLineOfTheSameDeviceAskingForMoreProfilesGetsThemAsInASequentialRun) {
  const auto st = init_station("again", create_site("again", "SN-00300000..SN-00300099", 50));
  const auto csr = fresh_csr();
  write_lines(file("m.jsonl"),
              {line(serial(300000), csr), line(serial(300000), csr, "sensor-v2", R"({"profiles":["ldevid"]})"),
               line(serial(300000), csr, "sensor-v2", R"({"profiles":["ldevid"]})")});
  auto r = provision(st, file("m.jsonl"), file("out"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto rows = results(file("out"));
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0]["status"], "issued");
  EXPECT_EQ(rows[1]["status"], "existing");
  EXPECT_EQ(rows[2]["status"], "existing");
  std::vector<std::vector<std::string>> profiles;
  std::ifstream devices(file("out/devices.jsonl"));
  for (std::string l; std::getline(devices, l);) {
    const auto d = json::parse(l);
    if (!d.contains("certificates")) continue;
    std::vector<std::string> p;
    for (const auto& c : d["certificates"]) p.push_back(c["profile"]);
    profiles.push_back(p);
  }
  const std::vector<std::vector<std::string>> expected{{"idevid"}, {"idevid", "ldevid"}, {"idevid", "ldevid"}};
  EXPECT_EQ(profiles, expected);
}

TEST_F(FactoryTest, AuthorizationWindowAndAttestationRequirementAreEnforced) {
  const auto later =
      init_station("later", create_site("later", "SN-00003000..SN-00003099", 5, "--not-before 2039-01-01"));
  const auto attest =
      init_station("attest", create_site("attest", "SN-00004000..SN-00004099", 5, "--attestation required"));
  write_lines(file("m1.jsonl"), {line(serial(3000), fresh_csr())});
  write_lines(file("m2.jsonl"), {line(serial(4000), fresh_csr())});
  ASSERT_EQ(provision(later, file("m1.jsonl"), file("o1")).exit_code, 0);
  ASSERT_EQ(provision(attest, file("m2.jsonl"), file("o2")).exit_code, 0);
  EXPECT_EQ(results(file("o1"))[0]["reason_code"], "outside_window");
  EXPECT_EQ(results(file("o2"))[0]["reason_code"], "attestation_required");
  auto evidence = json::parse(read_text(file("auth-attest") + "/station-1/authorization.json"));
  EXPECT_EQ(evidence["attestation"], "required");
}

TEST_F(FactoryTest, TenThousandDevicesWithTwoWorkersEqualInputOrderAndVerify) {
  const auto st = init_station("big", create_site("big", "SN-00100000..SN-00199999", 20000));
  std::vector<std::string> lines;
  lines.reserve(10000);
  const auto shared = fresh_csr();
  for (int i = 0; i < 10000; ++i) {
    // Every 1000th line repeats a key: the later one must be refused, as in a sequential run.
    lines.push_back(line(serial(100000 + i), i % 1000 == 999 ? shared : fresh_csr()));
  }
  lines[0] = line(serial(100000), shared);
  write_lines(file("big.jsonl"), lines);
  auto r = provision(st, file("big.jsonl"), file("out"), "--workers 2 --batch big-1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto rows = results(file("out"));
  ASSERT_EQ(rows.size(), 10000u);
  std::set<std::string> cert_serials;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    ASSERT_EQ(rows[i]["line"], i + 1);
    if (i % 1000 == 999) {
      EXPECT_EQ(rows[i]["reason_code"], "duplicate_key") << rows[i].dump();
    } else {
      ASSERT_EQ(rows[i]["status"], "issued") << rows[i].dump();
      cert_serials.insert(rows[i]["cert_serial"].get<std::string>());
    }
  }
  EXPECT_EQ(cert_serials.size(), 9990u);
  // Spot-check chains with openssl: the first and last device of the stream.
  for (const auto& sn : {serial(100000), serial(109998)}) {
    ASSERT_EQ(hallmark("station bundle get --dir " + st + " " + sn + " --out " + file("b.pem")).exit_code, 0);
    ASSERT_EQ(run("openssl x509 -in " + file("b.pem") + " -out " + file("l.pem")).exit_code, 0);
    auto v = run("openssl verify -x509_strict -CAfile " + st + "/ca/root.pem -untrusted " + file("b.pem") + " " +
                 file("l.pem"));
    EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  }
  // One stream of device bundles per batch, with a chain header.
  EXPECT_EQ(run("wc -l < " + file("out/devices.jsonl")).out, "9991\n");
}

TEST_F(FactoryTest, KillDashNineMidBatchThenRerunIssuesNothingTwiceAndLosesNothing) {
  const auto st = init_station("crash", create_site("crash", "SN-00200000..SN-00209999", 10000));
  std::vector<std::string> lines;
  for (int i = 0; i < 3000; ++i) lines.push_back(line(serial(200000 + i), fresh_csr()));
  write_lines(file("m.jsonl"), lines);
  const auto cmd = bin() + " station provision --quiet --workers 2 --dir " + st + " --input " + file("m.jsonl") +
                   " --out " + file("o1");
  auto started = run(cmd + " >/dev/null 2>&1 & echo $!");
  const int pid = std::stoi(started.out);
  for (int i = 0; i < 600; ++i) {
    auto n = run("wc -l < " + file("o1/results.jsonl") + " 2>/dev/null");
    if (n.exit_code == 0 && !n.out.empty() && std::stoi(n.out) >= 300) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const auto done_before =
      std::stoi(run("sqlite3 " + st +
                    "/station.db \"SELECT COUNT(*) FROM certificates WHERE status='issued' AND profile='idevid'\"")
                    .out);
  EXPECT_GT(done_before, 0);
  EXPECT_LT(done_before, 3000);

  auto r = provision(st, file("m.jsonl"), file("o2"), "--workers 2");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto rows = results(file("o2"));
  ASSERT_EQ(rows.size(), 3000u);
  int existing = 0;
  for (const auto& row : rows) {
    ASSERT_NE(row["status"], "refused") << row.dump();
    existing += row["status"] == "existing";
  }
  EXPECT_GE(existing, done_before);
  auto q = [&](const std::string& sql) { return run("sqlite3 " + st + "/station.db \"" + sql + "\"").out; };
  EXPECT_EQ(q("SELECT COUNT(*) FROM certificates WHERE status='issued' AND profile='idevid'"), "3000\n");
  EXPECT_EQ(q("SELECT COUNT(*) FROM (SELECT device_serial FROM certificates WHERE status='issued' GROUP BY "
              "device_serial HAVING COUNT(*) > 1)"),
            "0\n");
  EXPECT_EQ(q("SELECT COUNT(*) FROM certificates WHERE status='pending'"), "0\n");
}

TEST_F(FactoryTest, ReservationLeftByACrashBeforeSigningIsCompletedOnRerun) {
  const auto st = init_station("pend", create_site("pend", "SN-00300000..SN-00300099", 10));
  write_lines(file("m.jsonl"), {line(serial(300000), fresh_csr())});
  auto killed = run("HALLMARK_FAULT=after-reserve " + bin() + " station provision --quiet --dir " + st + " --input " +
                    file("m.jsonl") + " --out " + file("o1"));
  EXPECT_EQ(killed.exit_code, 128 + 9) << killed.err;
  const auto pending =
      run("sqlite3 " + st + "/station.db \"SELECT serial FROM certificates WHERE status='pending'\"").out;
  ASSERT_FALSE(pending.empty());
  ASSERT_EQ(provision(st, file("m.jsonl"), file("o2")).exit_code, 0);
  // The same --out again: refused, the earlier results stay as they were.
  const auto before = read_text(file("o2/results.jsonl"));
  auto again = provision(st, file("m.jsonl"), file("o2"));
  EXPECT_EQ(again.exit_code, 3) << again.err;
  EXPECT_NE(again.err.find("earlier batch"), std::string::npos) << again.err;
  EXPECT_EQ(read_text(file("o2/results.jsonl")), before);
  const auto rows = results(file("o2"));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0]["status"], "issued");
  EXPECT_EQ(rows[0]["cert_serial"].get<std::string>() + "\n", pending);  // the reserved serial, now signed
}

}  // namespace
}  // namespace hallmark::testing
