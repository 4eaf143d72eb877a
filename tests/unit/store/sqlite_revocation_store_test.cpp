#include <gtest/gtest.h>

#include "store/sqlite/sqlite_revocation_store.h"
#include "store_test_util.h"

namespace hallmark::store {
namespace {

using base::ErrorCode;
using ca::CertificateState;
using ca::RevocationReason;
using testing::event;
using testing::kT0;
using testing::open_db;
using testing::pending_entry;

class SqliteRevocationStoreTest : public ::testing::Test {
 protected:
  SqliteRevocationStoreTest()
      : m_db(open_db(m_dir / "hallmark.db")),
        m_audit(*m_db),
        m_ledger(*m_db, m_audit, m_clock),
        m_store(*m_db, m_audit) {}

  void issued(const std::string& serial, const std::string& origin = "est:abcd") {
    auto e = pending_entry(serial);
    e.origin = origin;
    ASSERT_TRUE(m_ledger.reserve(e, event("signing", serial)).ok());
    ASSERT_TRUE(m_ledger.complete(serial, base::Bytes{0x30, 0x00}, event("signed", serial)).ok());
  }

  hallmark::testing::TempDir m_dir;
  base::FixedClock m_clock{kT0};
  std::unique_ptr<SqliteDatabase> m_db;
  SqliteAuditStore m_audit;
  SqliteLedger m_ledger;
  SqliteRevocationStore m_store;
};

TEST_F(SqliteRevocationStoreTest, RevokeMarksTheCertificateBumpsTheGenerationAndAudits) {
  issued("7A01");
  issued("7A02");
  EXPECT_EQ(m_store.state("runtime", "7A01")->kind, CertificateState::Kind::Good);
  EXPECT_EQ(m_store.state("factory", "7A01")->kind, CertificateState::Kind::Unknown);  // another issuer
  EXPECT_EQ(m_store.state("runtime", "FFFF")->kind, CertificateState::Kind::Unknown);
  const auto g0 = m_store.generation().value();
  auto n = m_store.revoke({"7A01"}, RevocationReason::KeyCompromise, kT0, "cli:alice", "lost", event("revoke", "7A01"));
  ASSERT_TRUE(n.ok()) << n.error().describe();
  EXPECT_EQ(n.value(), 1u);
  EXPECT_EQ(m_store.generation().value(), g0 + 1);
  auto st = m_store.state("runtime", "7A01").value();
  ASSERT_EQ(st.kind, CertificateState::Kind::Revoked);
  EXPECT_EQ(st.revocation->reason, RevocationReason::KeyCompromise);
  EXPECT_EQ(st.revocation->actor, "cli:alice");
  EXPECT_EQ(st.revocation->comment, "lost");
  EXPECT_EQ(m_ledger.find("7A01").value()->status, ca::CertificateStatus::Revoked);
  EXPECT_EQ(m_store.state("runtime", "7A02")->kind, CertificateState::Kind::Good);
  EXPECT_EQ(m_audit.head().value()->event.action, "revoke");
  // Revoking again changes nothing but is not an error.
  EXPECT_EQ(m_store.revoke({"7A01"}, RevocationReason::Superseded, kT0, "x", "", event("revoke", "7A01")).value(), 0u);
  EXPECT_EQ(m_store.state("runtime", "7A01")->revocation->reason, RevocationReason::KeyCompromise);
  ASSERT_EQ(m_store.revoked_by("runtime").value().size(), 1u);
}

TEST_F(SqliteRevocationStoreTest, RevokeWithAnUnknownSerialChangesNothing) {
  issued("7A01");
  const auto g0 = m_store.generation().value();
  const auto head = m_audit.head().value()->sequence;
  auto r = m_store.revoke({"7A01", "DEAD"}, RevocationReason::Unspecified, kT0, "x", "", event("revoke", ""));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::NotFound);
  EXPECT_EQ(m_store.state("runtime", "7A01")->kind, CertificateState::Kind::Good);
  EXPECT_EQ(m_store.generation().value(), g0);
  EXPECT_EQ(m_audit.head().value()->sequence, head);
}

TEST_F(SqliteRevocationStoreTest, BatchSerialsMatchTheBatchSuffixLiterally) {
  issued("0A", "site:s/station:1/batch:b_1");
  issued("0B", "site:s/station:1/batch:bx1");  // '_' is not a wildcard
  issued("0C", "site:s/station:2/batch:b_1");
  auto serials = m_store.batch_serials("b_1").value();
  EXPECT_EQ(serials, (std::vector<std::string>{"0A", "0C"}));
  EXPECT_TRUE(m_store.batch_serials("b%").value().empty());
}

TEST_F(SqliteRevocationStoreTest, CrlNumbersIncreaseAndTheLatestIsReturned) {
  EXPECT_FALSE(m_store.latest_crl("root").value().has_value());
  for (int i = 1; i <= 3; ++i) {
    auto crl = m_store.store_next_crl("root", [](std::int64_t number) -> base::Result<ca::StoredCrl> {
      return ca::StoredCrl{"root", number, 7, kT0, kT0 + std::chrono::hours(1), base::Bytes{0x30, 0x00}};
    });
    ASSERT_TRUE(crl.ok());
    EXPECT_EQ(crl->number, i);
  }
  // A failed signing stores nothing and consumes no number.
  auto failed = m_store.store_next_crl("root", [](std::int64_t) -> base::Result<ca::StoredCrl> {
    return base::make_error(ErrorCode::Internal, "signer down");
  });
  EXPECT_FALSE(failed.ok());
  auto latest = m_store.latest_crl("root").value();
  ASSERT_TRUE(latest.has_value());
  EXPECT_EQ(latest->number, 3);
  EXPECT_EQ(latest->generation, 7);
  EXPECT_FALSE(m_store.latest_crl("runtime").value().has_value());
}

}  // namespace
}  // namespace hallmark::store
