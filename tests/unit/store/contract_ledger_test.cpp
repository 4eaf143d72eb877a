// Contract of ca::Ledger and ca::IssuerRegistry (see store_contract.h).
#include "store_contract.h"

namespace hallmark::store {
namespace {

using base::ErrorCode;
using ca::CertificateStatus;
using testing::event;
using testing::kT0;
using testing::pending_entry;

class LedgerContract : public testing::StoreContract {
 protected:
  std::size_t audit_count() {
    auto r = m_store->audit().records(1, 1'000'000);
    EXPECT_TRUE(r.ok());
    return r.ok() ? r->size() : 0;
  }
};

TEST_P(LedgerContract, ReserveRecordsAPendingEntryWithItsTbsAndTheSigningEvent) {
  const auto e = pending_entry("7A01");
  ASSERT_TRUE(m_store->ledger().reserve(e, event("signing", "7A01")).ok());

  auto found = m_store->ledger().find("7A01");
  ASSERT_TRUE(found.ok()) << found.error().describe();
  ASSERT_TRUE(found->has_value());
  const auto& got = **found;
  EXPECT_EQ(got.status, CertificateStatus::Pending);
  EXPECT_EQ(got.tbs, e.tbs);
  EXPECT_TRUE(got.der.empty());
  // Every field round-trips.
  EXPECT_EQ(got.serial, e.serial);
  EXPECT_EQ(got.issuer, e.issuer);
  EXPECT_EQ(got.profile, e.profile);
  EXPECT_EQ(got.device_serial, e.device_serial);
  EXPECT_EQ(got.product, e.product);
  EXPECT_EQ(got.channel, e.channel);
  EXPECT_EQ(got.origin, e.origin);
  EXPECT_EQ(got.evidence_digest, e.evidence_digest);
  EXPECT_EQ(got.key_fingerprint, e.key_fingerprint);
  EXPECT_EQ(got.subject, e.subject);
  EXPECT_EQ(got.created, e.created);
  EXPECT_EQ(got.not_after, e.not_after);

  const auto records = audit_records();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].event, event("signing", "7A01"));
  EXPECT_EQ(records[0].time, kT0);
}

TEST_P(LedgerContract, FindOfAnUnknownSerialIsEmpty) {
  auto found = m_store->ledger().find("DEAD");
  ASSERT_TRUE(found.ok());
  EXPECT_FALSE(found->has_value());
}

TEST_P(LedgerContract, CompleteStoresTheCertificateAndMarksItIssued) {
  ASSERT_TRUE(m_store->ledger().reserve(pending_entry("7A02"), event("signing", "7A02")).ok());
  const base::Bytes der = {0x30, 0x82, 0x01, 0x02, 0xAA};
  ASSERT_TRUE(m_store->ledger().complete("7A02", der, event("signed", "7A02")).ok());

  auto found = m_store->ledger().find("7A02");
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->status, CertificateStatus::Issued);
  EXPECT_EQ((*found)->der, der);
  EXPECT_EQ((*found)->tbs, pending_entry("7A02").tbs);

  const auto records = audit_records();
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].event.action, "signing");
  EXPECT_EQ(records[1].event.action, "signed");
}

TEST_P(LedgerContract, CompletingTwiceFailsAndWritesNoAuditRecord) {
  ASSERT_TRUE(m_store->ledger().reserve(pending_entry("7A03"), event("signing", "7A03")).ok());
  const base::Bytes first = {0x30, 0x01, 0x01};
  ASSERT_TRUE(m_store->ledger().complete("7A03", first, event("signed", "7A03")).ok());
  const auto before = audit_count();

  auto again = m_store->ledger().complete("7A03", base::Bytes{0x30, 0x01, 0x02}, event("signed", "7A03"));
  EXPECT_FALSE(again.ok());
  EXPECT_EQ(audit_count(), before);
  EXPECT_EQ(m_store->ledger().find("7A03").value()->der, first);  // the stored certificate is untouched
}

TEST_P(LedgerContract, CompletingAnUnknownSerialFails) {
  auto st = m_store->ledger().complete("0BAD", base::Bytes{0x30, 0x00}, event("signed", "0BAD"));
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(audit_count(), 0u);
}

TEST_P(LedgerContract, AGroupCommitIsAllOrNothingBothWays) {
  ASSERT_TRUE(m_store->ledger().reserve(pending_entry("7C01", "SN-A"), event("signing", "7C01")).ok());
  ASSERT_EQ(audit_count(), 1u);

  // One taken serial in a batch: nothing of the batch is recorded.
  std::vector<ca::Reservation> taken{{pending_entry("7C02", "SN-B"), event("signing", "7C02")},
                                     {pending_entry("7C01", "SN-C"), event("signing", "7C01")}};
  auto st = m_store->ledger().reserve_all(taken);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, ErrorCode::AlreadyExists);
  EXPECT_FALSE(m_store->ledger().find("7C02").value().has_value());
  EXPECT_EQ(audit_count(), 1u);

  std::vector<ca::Reservation> fine{{pending_entry("7C02", "SN-B"), event("signing", "7C02")},
                                    {pending_entry("7C03", "SN-C"), event("signing", "7C03")}};
  ASSERT_TRUE(m_store->ledger().reserve_all(fine).ok());
  EXPECT_EQ(audit_count(), 3u);

  // One completion of a serial that is not pending: none of the batch is stored.
  std::vector<ca::Completion> bad{{"7C02", base::Bytes{0x30, 0x00}, event("signed", "7C02")},
                                  {"0BAD", base::Bytes{0x30, 0x00}, event("signed", "0BAD")}};
  EXPECT_FALSE(m_store->ledger().complete_all(bad).ok());
  EXPECT_EQ(m_store->ledger().find("7C02").value()->status, CertificateStatus::Pending);
  EXPECT_EQ(audit_count(), 3u);

  std::vector<ca::Completion> good{{"7C02", base::Bytes{0x30, 0x00}, event("signed", "7C02")},
                                   {"7C03", base::Bytes{0x30, 0x01, 0x00}, event("signed", "7C03")}};
  ASSERT_TRUE(m_store->ledger().complete_all(good).ok());
  EXPECT_EQ(m_store->ledger().find("7C03").value()->status, CertificateStatus::Issued);
  EXPECT_EQ(m_store->ledger().find("7C03").value()->der, (base::Bytes{0x30, 0x01, 0x00}));
  EXPECT_EQ(audit_count(), 5u);
}

TEST_P(LedgerContract, ReservingATakenSerialIsAlreadyExistsAndTheTransactionLeavesNoAuditRecord) {
  ASSERT_TRUE(m_store->ledger().reserve(pending_entry("7A04", "SN-A"), event("signing", "7A04")).ok());
  const auto before = audit_count();
  ASSERT_EQ(before, 1u);

  auto taken = m_store->ledger().reserve(pending_entry("7A04", "SN-B"), event("signing", "7A04"));
  ASSERT_FALSE(taken.ok());
  EXPECT_EQ(taken.error().code, ErrorCode::AlreadyExists);
  // Atomicity: neither the row nor the audit record of the failed transaction remain.
  EXPECT_EQ(audit_count(), before);
  EXPECT_EQ(m_store->ledger().find("7A04").value()->device_serial, "SN-A");

  // The chain is still whole and the next append links to the first record.
  ASSERT_TRUE(m_store->ledger().reserve(pending_entry("7A05"), event("signing", "7A05")).ok());
  const auto records = audit_records();
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[1].sequence, 2u);
  EXPECT_EQ(records[1].prev_hash, records[0].hash);
}

TEST_P(LedgerContract, ListFiltersByStatusOldestFirstAndHonoursTheLimit) {
  for (int i = 0; i < 5; ++i) {
    const std::string serial = "7B0" + std::to_string(i);
    ASSERT_TRUE(m_store->ledger()
                    .reserve(pending_entry(serial, "SN-" + std::to_string(i), kT0 + std::chrono::seconds(10 - i)),
                             event("signing", serial))
                    .ok());
  }
  ASSERT_TRUE(m_store->ledger().complete("7B01", base::Bytes{0x30, 0x00}, event("signed", "7B01")).ok());
  ASSERT_TRUE(m_store->ledger().complete("7B03", base::Bytes{0x30, 0x00}, event("signed", "7B03")).ok());

  auto all = m_store->ledger().list("", 100);
  ASSERT_TRUE(all.ok()) << all.error().describe();
  ASSERT_EQ(all->size(), 5u);
  // Oldest (by creation time) first: 7B04 was created first.
  EXPECT_EQ((*all)[0].serial, "7B04");
  EXPECT_EQ((*all)[4].serial, "7B00");

  auto issued = m_store->ledger().list("issued", 100);
  ASSERT_TRUE(issued.ok());
  ASSERT_EQ(issued->size(), 2u);
  EXPECT_EQ((*issued)[0].serial, "7B03");
  EXPECT_EQ((*issued)[1].serial, "7B01");
  for (const auto& e : *issued) EXPECT_EQ(e.status, CertificateStatus::Issued);

  auto pending = m_store->ledger().list("pending", 2);
  ASSERT_TRUE(pending.ok());
  ASSERT_EQ(pending->size(), 2u);
  EXPECT_EQ((*pending)[0].serial, "7B04");
  EXPECT_EQ((*pending)[1].serial, "7B02");

  EXPECT_EQ(m_store->ledger().list("", 3)->size(), 3u);
  EXPECT_TRUE(m_store->ledger().list("revoked", 100)->empty());
}

TEST_P(LedgerContract, ByDeviceReturnsOnlyThatDevicesEntriesOldestFirst) {
  ASSERT_TRUE(m_store->ledger()
                  .reserve(pending_entry("7C01", "SN-X", kT0 + std::chrono::seconds(5)), event("signing", "7C01"))
                  .ok());
  ASSERT_TRUE(m_store->ledger().reserve(pending_entry("7C02", "SN-Y"), event("signing", "7C02")).ok());
  ASSERT_TRUE(m_store->ledger().reserve(pending_entry("7C03", "SN-X", kT0), event("signing", "7C03")).ok());

  auto x = m_store->ledger().by_device("SN-X");
  ASSERT_TRUE(x.ok()) << x.error().describe();
  ASSERT_EQ(x->size(), 2u);
  EXPECT_EQ((*x)[0].serial, "7C03");
  EXPECT_EQ((*x)[1].serial, "7C01");
  EXPECT_EQ(m_store->ledger().by_device("SN-Y")->size(), 1u);
  EXPECT_TRUE(m_store->ledger().by_device("SN-Z")->empty());
}

TEST_P(LedgerContract, EntriesSurviveReopeningTheStore) {
  ASSERT_TRUE(m_store->ledger().reserve(pending_entry("7D01"), event("signing", "7D01")).ok());
  auto other = open_node();
  auto found = other->ledger().find("7D01");
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->status, CertificateStatus::Pending);
}

ca::IssuerRecord issuer(const std::string& name, const std::string& role, const std::string& parent) {
  ca::IssuerRecord r;
  r.name = name;
  r.role = role;
  r.parent = parent;
  r.cert_der = {0x30, 0x01, static_cast<std::uint8_t>(name.size())};
  r.key_ref = "/keys/" + name + ".key";
  r.status = "active";
  return r;
}

TEST_P(LedgerContract, IssuersAreAddedFoundAndListedInInsertionOrder) {
  ASSERT_TRUE(m_store->issuers().add_issuer(issuer("root", "root", "")).ok());
  ASSERT_TRUE(m_store->issuers().add_issuer(issuer("factory", "factory", "root")).ok());
  ASSERT_TRUE(m_store->issuers().add_issuer(issuer("runtime", "runtime", "root")).ok());

  auto found = m_store->issuers().find_issuer("factory");
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->role, "factory");
  EXPECT_EQ((*found)->parent, "root");
  EXPECT_EQ((*found)->cert_der, issuer("factory", "factory", "root").cert_der);
  EXPECT_EQ((*found)->key_ref, "/keys/factory.key");
  EXPECT_EQ((*found)->status, "active");

  auto missing = m_store->issuers().find_issuer("site-9");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());

  auto all = m_store->issuers().issuers();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].name, "root");
  EXPECT_EQ((*all)[1].name, "factory");
  EXPECT_EQ((*all)[2].name, "runtime");
}

TEST_P(LedgerContract, AddingAnIssuerTwiceIsAlreadyExists) {
  ASSERT_TRUE(m_store->issuers().add_issuer(issuer("root", "root", "")).ok());
  auto again = m_store->issuers().add_issuer(issuer("root", "root", ""));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::AlreadyExists);
  EXPECT_NE(again.error().detail.find("root"), std::string::npos);
  EXPECT_EQ(m_store->issuers().issuers()->size(), 1u);
}

HALLMARK_STORE_CONTRACT(LedgerContract);

}  // namespace
}  // namespace hallmark::store
