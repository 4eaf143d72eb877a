// Contract of ra::CertificateStatusLookup (see store_contract.h), and what
// several nodes on one database must agree on.
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <latch>
#include <thread>

#include "audit/audit_log.h"
#include "store_contract.h"

namespace hallmark::store {
namespace {

using base::ErrorCode;
using testing::event;
using testing::kT0;
using testing::pending_entry;

class EnrollmentStoreContract : public testing::StoreContract {};

TEST_P(EnrollmentStoreContract, LooksUpBySerialKeyAndDeviceWithPendingKeysIgnored) {
  auto a = pending_entry("CA01", "SN-1", kT0);
  a.key_fingerprint = "k1";
  auto b = pending_entry("CA02", "SN-1", kT0 + std::chrono::seconds(1));
  b.key_fingerprint = "k2";
  ASSERT_TRUE(m_store->ledger().reserve(a, event("signing", "CA01")).ok());
  ASSERT_TRUE(m_store->ledger().complete("CA01", base::Bytes{0x30, 0x00}, event("signed", "CA01")).ok());
  ASSERT_TRUE(m_store->ledger().reserve(b, event("signing", "CA02")).ok());

  auto& lookup = m_store->certificates();
  auto one = lookup.by_serial("CA01").value();
  ASSERT_TRUE(one.has_value());
  EXPECT_EQ(one->status, "issued");
  EXPECT_EQ(one->device_serial, "SN-1");
  EXPECT_EQ(one->issuer, "runtime");
  EXPECT_EQ(one->profile, "ldevid");
  EXPECT_EQ(one->key_fingerprint, "k1");
  EXPECT_EQ(one->created, kT0);
  EXPECT_FALSE(lookup.by_serial("CAFF")->has_value());

  EXPECT_EQ(lookup.by_key_fingerprint("k1")->size(), 1u);
  EXPECT_TRUE(lookup.by_key_fingerprint("k2")->empty());  // still pending: not a key holder yet
  auto dev = lookup.by_device("SN-1").value();
  ASSERT_EQ(dev.size(), 2u);
  EXPECT_EQ(dev[0].serial, "CA01");
  EXPECT_EQ(dev[1].status, "pending");
}

TEST_P(EnrollmentStoreContract, WhatOneNodeRecordsTheOtherSeesAtItsNextRequest) {
  auto other = open_node();
  EXPECT_FALSE(other->certificates().by_serial("CB01")->has_value());
  ASSERT_TRUE(m_store->ledger().reserve(pending_entry("CB01"), event("signing", "CB01")).ok());
  ASSERT_TRUE(m_store->ledger().complete("CB01", base::Bytes{0x30, 0x00}, event("signed", "CB01")).ok());
  auto seen = other->certificates().by_serial("CB01").value();
  ASSERT_TRUE(seen.has_value());
  EXPECT_EQ(seen->status, "issued");
  EXPECT_EQ(other->audit().head().value()->sequence, 2u);
}

TEST_P(EnrollmentStoreContract, TwoNodesReservingTheSameSerialAtOnceRecordItOnce) {
  constexpr int kSerials = 40;
  auto other = open_node();
  std::atomic<int> won{0};
  std::atomic<int> refused{0};
  std::atomic<int> failed{0};
  std::latch start(2);
  auto worker = [&](Store* node, const std::string& device) {
    start.arrive_and_wait();
    for (int i = 0; i < kSerials; ++i) {
      const auto serial = "CC" + std::to_string(100 + i);
      auto r = node->ledger().reserve(pending_entry(serial, device), event("signing", serial));
      if (r.ok()) {
        ++won;
      } else if (r.error().code == ErrorCode::AlreadyExists) {
        ++refused;
      } else {
        ++failed;
      }
    }
  };
  std::thread a(worker, m_store.get(), "SN-A");
  std::thread b(worker, other.get(), "SN-B");
  a.join();
  b.join();
  EXPECT_EQ(won.load(), kSerials);
  EXPECT_EQ(refused.load(), kSerials);
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(m_store->ledger().list("", 1000)->size(), static_cast<std::size_t>(kSerials));
  // One signing record per serial actually reserved, one unbroken chain.
  auto records = audit_records();
  EXPECT_EQ(records.size(), static_cast<std::size_t>(kSerials));
  EXPECT_TRUE(audit::verify_chain(records, {}, {}).ok);
}

// A clock that kills the process when the ledger asks it for the audit time,
// which happens inside the reserve transaction after the certificate row was
// written: a node killed mid-request.
class KillingClock final : public base::Clock {
 public:
  base::TimePoint now() const override {
    ::kill(::getpid(), SIGKILL);
    return kT0;
  }
};

TEST_P(EnrollmentStoreContract, ANodeKilledMidTransactionLeavesNothingHalfWritten) {
  ASSERT_TRUE(m_store->ledger().reserve(pending_entry("CD01"), event("signing", "CD01")).ok());
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    KillingClock clock;
    auto node = open_store({m_location}, clock);
    if (!node.ok()) ::_exit(3);
    (void)(*node)->ledger().reserve(pending_entry("CD02"), event("signing", "CD02"));
    ::_exit(4);  // not reached: the clock killed us inside the transaction
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status)) << "exit " << WEXITSTATUS(status);
  EXPECT_EQ(WTERMSIG(status), SIGKILL);

  auto fresh = open_node();
  EXPECT_FALSE(fresh->ledger().find("CD02")->has_value());
  auto records = audit_records(*fresh);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_TRUE(audit::verify_chain(records, {}, {}).ok);
  // And the database takes writes again at once (no lock left behind).
  EXPECT_TRUE(fresh->ledger().reserve(pending_entry("CD02"), event("signing", "CD02")).ok());
}

// ra::BootstrapCredentialStore: single-use EST credentials.
TEST_P(EnrollmentStoreContract, ACredentialIsAcceptedOnceThenReusedAndACheckSpendsNothing) {
  auto& creds = m_store->credentials();
  ASSERT_TRUE(creds.put_credential("SN-1", "aa", kT0, kT0 + std::chrono::hours(1)).ok());
  EXPECT_EQ(creds.use_credential("SN-1", "bb", kT0).value(), ra::CredentialUse::Unknown);
  EXPECT_EQ(creds.use_credential("SN-2", "aa", kT0).value(), ra::CredentialUse::Unknown);
  EXPECT_EQ(creds.credential_state("SN-1", "aa", kT0).value(), ra::CredentialUse::Accepted);
  EXPECT_EQ(creds.credential_state("SN-1", "aa", kT0).value(), ra::CredentialUse::Accepted);
  EXPECT_EQ(creds.use_credential("SN-1", "aa", kT0).value(), ra::CredentialUse::Accepted);
  EXPECT_EQ(creds.use_credential("SN-1", "aa", kT0).value(), ra::CredentialUse::Reused);
  EXPECT_EQ(creds.credential_state("SN-1", "aa", kT0).value(), ra::CredentialUse::Reused);
}

TEST_P(EnrollmentStoreContract, AnExpiredCredentialIsRefusedAndANewOneReplacesIt) {
  auto& creds = m_store->credentials();
  const auto later = kT0 + std::chrono::hours(2);
  ASSERT_TRUE(creds.put_credential("SN-1", "aa", kT0, kT0 + std::chrono::hours(1)).ok());
  EXPECT_EQ(creds.use_credential("SN-1", "aa", later).value(), ra::CredentialUse::Expired);
  ASSERT_TRUE(creds.put_credential("SN-1", "cc", kT0, kT0 + std::chrono::hours(3)).ok());
  EXPECT_EQ(creds.use_credential("SN-1", "aa", later).value(), ra::CredentialUse::Unknown);
  EXPECT_EQ(creds.use_credential("SN-1", "cc", later).value(), ra::CredentialUse::Accepted);
}

TEST_P(EnrollmentStoreContract, TwoNodesUsingOneCredentialAtOnceAcceptItExactlyOnce) {
  ASSERT_TRUE(m_store->credentials().put_credential("SN-1", "aa", kT0, kT0 + std::chrono::hours(1)).ok());
  auto other = open_node();
  std::atomic<int> accepted{0}, reused{0}, failed{0};
  std::latch start(2);
  auto worker = [&](Store* node) {
    start.arrive_and_wait();
    for (int i = 0; i < 20; ++i) {
      auto u = node->credentials().use_credential("SN-1", "aa", kT0);
      if (!u.ok()) {
        ++failed;
      } else if (u.value() == ra::CredentialUse::Accepted) {
        ++accepted;
      } else if (u.value() == ra::CredentialUse::Reused) {
        ++reused;
      }
    }
  };
  std::thread a(worker, m_store.get()), b(worker, other.get());
  a.join();
  b.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(accepted.load(), 1);
  EXPECT_EQ(reused.load(), 39);
}

HALLMARK_STORE_CONTRACT(EnrollmentStoreContract);

}  // namespace
}  // namespace hallmark::store
