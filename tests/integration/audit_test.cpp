// The audit trail detects tampering made directly in the database, and an
// export verifies offline with only the audit public key.
#include <nlohmann/json.hpp>

#include "audit/record.h"
#include "integration/cli_fixture.h"
#include "store/sqlite/sqlite_database.h"

namespace hallmark::testing {
namespace {

using nlohmann::json;

class AuditTamperTest : public CliTest {
 protected:
  void SetUp() override {
    CliTest::SetUp();
    for (int i = 0; i < 4; ++i) {  // four devices, four keys
      ASSERT_EQ(hallmark("issue --dir " + dir() + " --profile ldevid --serial-number SN-" + std::to_string(i) +
                         " --csr " + openssl_csr("dev" + std::to_string(i)) + " --out " + file("c.pem"))
                    .exit_code,
                0);
    }
    auto v = verify();
    ASSERT_EQ(v["verified"], true) << v.dump();
    m_records = v["records"].get<int>();
    ASSERT_GE(m_records, 10);
  }

  json verify() {
    auto r = hallmark("audit verify --json --dir " + dir());
    EXPECT_TRUE(r.exit_code == 0 || r.exit_code == 1) << r.err;
    return json::parse(r.out);
  }

  void sql(const std::string& statement) {
    auto r = run("sqlite3 " + dir() + "/hallmark.db " + shell_quote(statement));
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  // Re-links every record from `from` on, as an attacker who edits a record and
  // recomputes the chain after it would.
  void recompute_chain_from(std::uint64_t from) {
    auto db = store::SqliteDatabase::open(dir() + "/hallmark.db");
    ASSERT_TRUE(db.ok());
    auto& d = *db.value();
    auto s = d.write_transaction([&]() -> base::Status {
      auto& sel = d.statement(
          "SELECT sequence, time, actor, channel, action, cert_serial, profile, evidence_digest, detail, hash "
          "FROM audit_records ORDER BY sequence");
      std::vector<audit::Record> all;
      for (;;) {
        HM_TRY(bool row, sel.step());
        if (!row) break;
        audit::Record r;
        r.sequence = static_cast<std::uint64_t>(sel.integer(0));
        r.time = base::TimePoint{std::chrono::seconds{sel.integer(1)}};
        r.event = {
            sel.text(2), audit::parse_channel(sel.text(3)).value(), sel.text(4), sel.text(5), sel.text(6), sel.text(7),
            sel.text(8)};
        r.hash = sel.blob(9);
        all.push_back(r);
      }
      sel.reset();
      base::Bytes prev = audit::genesis_hash();
      for (auto& r : all) {
        if (r.sequence >= from) {
          r.hash = audit::chain_hash(prev, r.sequence, r.time, r.event);
          auto& up = d.statement("UPDATE audit_records SET prev_hash = ?, hash = ? WHERE sequence = ?");
          up.bind(1, base::ByteView(prev))
              .bind(2, base::ByteView(r.hash))
              .bind(3, static_cast<std::int64_t>(r.sequence));
          HM_CHECK(up.run());
        }
        prev = r.hash;
      }
      return {};
    });
    ASSERT_TRUE(s.ok()) << s.error().describe();
  }

  int m_records = 0;
};

TEST_F(AuditTamperTest, EditedRecordIsNamed) {
  sql("UPDATE audit_records SET detail = 'device SN-forged' WHERE sequence = 7");
  auto v = verify();
  EXPECT_EQ(v["verified"], false);
  EXPECT_EQ(v["first_bad_record"], 7) << v.dump();
}

TEST_F(AuditTamperTest, EditWithRecomputedChainIsCaughtByCheckpoint) {
  sql("UPDATE audit_records SET detail = 'device SN-forged' WHERE sequence = 7");
  recompute_chain_from(7);
  auto v = verify();
  EXPECT_EQ(v["verified"], false) << v.dump();
  EXPECT_NE(v["problem"].get<std::string>().find("checkpoint"), std::string::npos) << v.dump();
}

TEST_F(AuditTamperTest, DeletedNewestRecordsAreDetected) {
  sql("DELETE FROM audit_records WHERE sequence > " + std::to_string(m_records - 2));
  auto v = verify();
  EXPECT_EQ(v["verified"], false) << v.dump();
  EXPECT_NE(v["problem"].get<std::string>().find("deleted"), std::string::npos) << v.dump();
}

TEST_F(AuditTamperTest, AnEmptiedAuditTrailIsNotVerified) {
  sql("DELETE FROM audit_records; DELETE FROM audit_checkpoints;");
  auto v = verify();
  EXPECT_EQ(v["verified"], false) << v.dump();
  EXPECT_NE(v["problem"].get<std::string>().find("deleted"), std::string::npos) << v.dump();
}

TEST_F(AuditTamperTest, ADroppedTableIsNamedAtOpenInsteadOfACrash) {
  sql("DROP TABLE audit_checkpoints;");
  auto r = hallmark("audit verify --dir " + dir());
  EXPECT_EQ(r.exit_code, 5) << r.err;
  EXPECT_NE(r.err.find("table 'audit_checkpoints' is missing"), std::string::npos) << r.err;
}

TEST_F(AuditTamperTest, ReorderedRecordsAreDetected) {
  sql("UPDATE audit_records SET sequence = -1 WHERE sequence = 5;"
      "UPDATE audit_records SET sequence = 5 WHERE sequence = 6;"
      "UPDATE audit_records SET sequence = 6 WHERE sequence = -1;");
  auto v = verify();
  EXPECT_EQ(v["verified"], false) << v.dump();
  EXPECT_EQ(v["first_bad_record"], 5) << v.dump();
}

TEST_F(AuditTamperTest, InsertedRecordIsDetected) {
  // Shift records 6.. up by one and insert a forged record 6 that links to record 5.
  sql("UPDATE audit_records SET sequence = sequence + 1000 WHERE sequence >= 6;"
      "UPDATE audit_records SET sequence = sequence - 999 WHERE sequence >= 1006;"
      "INSERT INTO audit_records SELECT 6, time, actor, channel, 'revoke', cert_serial, profile, evidence_digest, "
      "'forged', hash, hash FROM audit_records WHERE sequence = 5;");
  auto v = verify();
  EXPECT_EQ(v["verified"], false) << v.dump();
  EXPECT_EQ(v["first_bad_record"], 6) << v.dump();
}

TEST_F(AuditTamperTest, ExportVerifiesOfflineWithOnlyThePublicKey) {
  const auto exported = file("audit.jsonl");
  ASSERT_EQ(hallmark("audit export --dir " + dir() + " --out " + exported).exit_code, 0);
  const auto pub = file("audit.pub");
  ASSERT_EQ(run("cp " + dir() + "/audit-public.pem " + pub).exit_code, 0);
  auto ok = hallmark("audit verify --json --export " + exported + " --pubkey " + pub);
  ASSERT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_EQ(json::parse(ok.out)["records"], m_records);

  // Change one character of one record line: detected.
  auto text = read_text(exported);
  const auto pos = text.find("SN-2");
  ASSERT_NE(pos, std::string::npos);
  text[pos + 3] = '9';
  write_text(file("tampered.jsonl"), text);
  auto bad = hallmark("audit verify --json --export " + file("tampered.jsonl") + " --pubkey " + pub);
  EXPECT_EQ(bad.exit_code, 1) << bad.out << bad.err;
  EXPECT_EQ(json::parse(bad.out)["verified"], false);

  // Another key does not verify the checkpoints.
  ASSERT_EQ(run("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 | openssl pkey -pubout > " +
                file("other.pub"))
                .exit_code,
            0);
  auto other = hallmark("audit verify --json --export " + exported + " --pubkey " + file("other.pub"));
  EXPECT_EQ(other.exit_code, 1) << other.out << other.err;
}

}  // namespace
}  // namespace hallmark::testing
