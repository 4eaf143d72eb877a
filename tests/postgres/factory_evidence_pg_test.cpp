// Evidence records with the operator on PostgreSQL (the `postgres` tier):
// SE evidence imported from two sites' ledger bundles is stored in the
// `evidence` table of migration 6 (PostgreSQL's own sha256() agrees with every
// digest), `cert show` and `cert evidence` read it back, and a cloned SE at the
// second site is a duplicate_hardware_identity finding.
#include <fstream>

#include "integration/factory_fixture.h"
#include "support/postgres_support.h"

namespace hallmark::testing {
namespace {

using nlohmann::json;

class FactoryEvidencePgTest : public FactoryTest {
 protected:
  void SetUp() override {
    ::setenv("HALLMARK_KEY_PASSPHRASE", kPass, 1);
    auto r = hallmark("init --dir " + dir() + " --store " + shell_quote(m_db.dsn()));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    ASSERT_EQ(hallmark("device se vendor-init --dir " + file("vendor")).exit_code, 0);
  }

  std::string se_station(const std::string& site, const std::string& range) {
    return init_station(site + "-st", create_site(site, range, 50,
                                                  "--attestation required --se-roots " + file("vendor") + "/root.pem"));
  }
  std::string challenge(const std::string& station) {
    auto r = hallmark("station challenge --dir " + station);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out.substr(0, r.out.find('\n'));
  }
  json provision_one(const std::string& station, const json& l, const std::string& name) {
    write_lines(file(name + ".jsonl"), {l.dump()});
    EXPECT_EQ(provision(station, file(name + ".jsonl"), file(name)).exit_code, 0);
    return results(file(name)).at(0);
  }
  std::pair<int, json> export_and_import(const std::string& station, const std::string& name) {
    EXPECT_EQ(hallmark("station export --dir " + station + " --out " + file(name)).exit_code, 0);
    auto r = hallmark("ledger import --json --dir " + dir() + " " + file(name));
    return {r.exit_code, json::parse(r.out, nullptr, false)};
  }

  PostgresDatabase m_db;
};

TEST_F(FactoryEvidencePgTest, ImportedEvidenceIsStoredUnderItsSha256AndACloneAtAnotherSiteIsFlagged) {
  const auto st1 = se_station("se1", "SN-00002000..SN-00002099");
  const auto st2 = se_station("se2", "SN-00005000..SN-00005099");
  auto made = hallmark("device se make --vendor " + file("vendor") + " --serial " + serial(2000) +
                       " --product sensor-v2 --key-out " + file("se.key") + " --nonce " + challenge(st1));
  ASSERT_EQ(made.exit_code, 0) << made.err;
  const auto original = json::parse(made.out);
  const auto first = provision_one(st1, original, "b1");
  ASSERT_EQ(first["status"], "issued") << first.dump();
  auto [code1, report1] = export_and_import(st1, "st1.bundle");
  ASSERT_EQ(code1, 0) << report1.dump();
  EXPECT_EQ(report1["evidence_stored"], 1);

  // The operator's copy: the same octets, byte for byte.
  const auto cert_serial = first["cert_serial"].get<std::string>();
  auto octets = hallmark("cert evidence --dir " + dir() + " " + cert_serial + " --out " + file("ev.json"));
  ASSERT_EQ(octets.exit_code, 0) << octets.err;
  EXPECT_EQ(read_text(file("ev.json")), original["evidence"].dump());
  auto show = hallmark("cert show --json --dir " + dir() + " " + cert_serial);
  ASSERT_EQ(show.exit_code, 0) << show.err;
  const auto doc = json::parse(show.out);
  EXPECT_EQ(doc["evidence"]["type"], "se") << doc.dump();
  EXPECT_EQ(doc["evidence"]["digest_matches"], true);
  EXPECT_EQ(doc["evidence"]["digest"], doc["evidence_digest"]);

  // A clone of that SE at the second site (same key and vendor certificate).
  const auto nonce = challenge(st2);
  {
    std::ofstream msg(file("msg.bin"), std::ios::binary | std::ios::trunc);
    msg << "hallmark-se-attestation-v1";
    const auto n = base::hex_decode(nonce).value();
    msg.write(reinterpret_cast<const char*>(n.data()), static_cast<std::streamsize>(n.size()));
  }
  auto sig = run("openssl dgst -sha256 -sign " + file("se.key") + " " + file("msg.bin") + " | base64 -w0");
  ASSERT_EQ(sig.exit_code, 0) << sig.err;
  auto clone = original;
  clone["serial"] = serial(5000);
  clone["evidence"]["nonce"] = nonce;
  clone["evidence"]["signature"] = sig.out;
  ASSERT_EQ(provision_one(st2, clone, "b2")["status"], "issued");
  auto [code2, report2] = export_and_import(st2, "st2.bundle");
  EXPECT_EQ(code2, 1) << report2.dump();
  bool flagged = false;
  for (const auto& f : report2["findings"]) {
    if (f["code"] == "duplicate_hardware_identity" && f["device_serial"] == serial(5000)) {
      flagged = f["detail"].get<std::string>().find(serial(2000)) != std::string::npos;
    }
  }
  EXPECT_TRUE(flagged) << report2.dump();

  // What a person checks with psql: two rows, each filed under its own SHA-256,
  // both naming the one SE attestation key.
  EXPECT_EQ(m_db.query("SELECT count(*) FROM evidence"), "2");
  EXPECT_EQ(m_db.query("SELECT count(*) FROM evidence WHERE encode(sha256(content), 'hex') <> digest"), "0");
  EXPECT_EQ(m_db.query("SELECT count(DISTINCT hardware_id) FROM evidence"), "1");
  EXPECT_EQ(m_db.query("SELECT version FROM hallmark_schema"), "6");
}

}  // namespace
}  // namespace hallmark::testing
