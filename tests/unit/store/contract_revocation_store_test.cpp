// Contract of ca::RevocationStore (see store_contract.h): the same answers from
// SQLite and PostgreSQL, and what two nodes on one database see.
#include "store_contract.h"

namespace hallmark::store {
namespace {

using base::ErrorCode;
using ca::CertificateState;
using ca::RevocationReason;
using testing::event;
using testing::kT0;
using testing::pending_entry;

class RevocationStoreContract : public testing::StoreContract {
 protected:
  ca::RevocationStore& revocations() { return m_store->revocations(); }
  void issued(const std::string& serial, const std::string& origin = "est:abcd") {
    auto e = pending_entry(serial);
    e.origin = origin;
    ASSERT_TRUE(m_store->ledger().reserve(e, event("signing", serial)).ok());
    ASSERT_TRUE(m_store->ledger().complete(serial, base::Bytes{0x30, 0x00}, event("signed", serial)).ok());
  }
};

TEST_P(RevocationStoreContract, RevokeMarksTheCertificateBumpsTheGenerationAndAudits) {
  issued("7A01");
  issued("7A02");
  EXPECT_EQ(revocations().state("runtime", "7A01")->kind, CertificateState::Kind::Good);
  EXPECT_EQ(revocations().state("factory", "7A01")->kind, CertificateState::Kind::Unknown);  // another issuer
  EXPECT_EQ(revocations().state("runtime", "FFFF")->kind, CertificateState::Kind::Unknown);
  const auto g0 = revocations().generation().value();
  auto n = revocations().revoke({"7A01"}, RevocationReason::KeyCompromise, kT0, "cli:alice", "lost",
                                event("revoke", "7A01"));
  ASSERT_TRUE(n.ok()) << n.error().describe();
  EXPECT_EQ(n.value(), 1u);
  EXPECT_EQ(revocations().generation().value(), g0 + 1);
  auto st = revocations().state("runtime", "7A01").value();
  ASSERT_EQ(st.kind, CertificateState::Kind::Revoked);
  EXPECT_EQ(st.revocation->reason, RevocationReason::KeyCompromise);
  EXPECT_EQ(st.revocation->actor, "cli:alice");
  EXPECT_EQ(st.revocation->comment, "lost");
  EXPECT_EQ(m_store->ledger().find("7A01").value()->status, ca::CertificateStatus::Revoked);
  EXPECT_EQ(revocations().state("runtime", "7A02")->kind, CertificateState::Kind::Good);
  EXPECT_EQ(m_store->audit().head().value()->event.action, "revoke");
  // Revoking again changes nothing but is not an error.
  EXPECT_EQ(revocations().revoke({"7A01"}, RevocationReason::Superseded, kT0, "x", "", event("revoke", "7A01")).value(),
            0u);
  EXPECT_EQ(revocations().state("runtime", "7A01")->revocation->reason, RevocationReason::KeyCompromise);
  ASSERT_EQ(revocations().revoked_by("runtime").value().size(), 1u);
}

TEST_P(RevocationStoreContract, RevokeWithAnUnknownSerialChangesNothing) {
  issued("7A01");
  const auto g0 = revocations().generation().value();
  const auto head = m_store->audit().head().value()->sequence;
  auto r = revocations().revoke({"7A01", "DEAD"}, RevocationReason::Unspecified, kT0, "x", "", event("revoke", ""));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::NotFound);
  EXPECT_EQ(revocations().state("runtime", "7A01")->kind, CertificateState::Kind::Good);
  EXPECT_EQ(revocations().generation().value(), g0);
  EXPECT_EQ(m_store->audit().head().value()->sequence, head);
}

TEST_P(RevocationStoreContract, BatchSerialsMatchTheBatchSuffixLiterally) {
  issued("0A", "site:s/station:1/batch:b_1");
  issued("0B", "site:s/station:1/batch:bx1");  // '_' is not a wildcard
  issued("0C", "site:s/station:2/batch:b_1");
  auto serials = revocations().batch_serials("b_1").value();
  EXPECT_EQ(serials, (std::vector<std::string>{"0A", "0C"}));
  EXPECT_TRUE(revocations().batch_serials("b%").value().empty());
}

TEST_P(RevocationStoreContract, CrlNumbersIncreaseAndTheLatestIsReturned) {
  EXPECT_FALSE(revocations().latest_crl("root").value().has_value());
  for (int i = 1; i <= 3; ++i) {
    auto crl = revocations().store_next_crl("root", [](std::int64_t number) -> base::Result<ca::StoredCrl> {
      return ca::StoredCrl{"root", number, 7, kT0, kT0 + std::chrono::hours(1), base::Bytes{0x30, 0x00}};
    });
    ASSERT_TRUE(crl.ok());
    EXPECT_EQ(crl->number, i);
  }
  // A failed signing stores nothing and consumes no number.
  auto failed = revocations().store_next_crl("root", [](std::int64_t) -> base::Result<ca::StoredCrl> {
    return base::make_error(ErrorCode::Internal, "signer down");
  });
  EXPECT_FALSE(failed.ok());
  auto latest = revocations().latest_crl("root").value();
  ASSERT_TRUE(latest.has_value());
  EXPECT_EQ(latest->number, 3);
  EXPECT_EQ(latest->generation, 7);
  EXPECT_FALSE(revocations().latest_crl("runtime").value().has_value());
}

TEST_P(RevocationStoreContract, ARevocationThroughOneNodeIsSeenByTheOtherAtOnce) {
  issued("7B01");
  auto other = open_node();
  const auto g0 = other->revocations().generation().value();
  ASSERT_TRUE(
      revocations().revoke({"7B01"}, RevocationReason::KeyCompromise, kT0, "x", "", event("revoke", "7B01")).ok());
  EXPECT_EQ(other->revocations().generation().value(), g0 + 1);
  EXPECT_EQ(other->revocations().state("runtime", "7B01")->kind, CertificateState::Kind::Revoked);
  EXPECT_EQ(other->certificates().by_serial("7B01").value()->status, "revoked");
}

HALLMARK_STORE_CONTRACT(RevocationStoreContract);

}  // namespace
}  // namespace hallmark::store
