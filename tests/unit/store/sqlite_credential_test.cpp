// Single-use EST credentials in the SQLite store: one use wins, also across
// connections (as two `hallmark serve` processes on one database would be).
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "store/sqlite/sqlite_enrollment_store.h"
#include "store_test_util.h"

namespace hallmark::store::testing {
namespace {

using ra::CredentialUse;

class CredentialStoreTest : public ::testing::Test {
 protected:
  hallmark::testing::TempDir m_tmp;
  std::filesystem::path db_path() const { return m_tmp.path() / "h.db"; }
};

TEST_F(CredentialStoreTest, RightSecretIsAcceptedOnceThenReused) {
  auto db = open_db(db_path());
  SqliteEnrollmentStore store(*db);
  ASSERT_TRUE(store.put_credential("SN-1", "aa", kT0, kT0 + std::chrono::hours(1)).ok());
  EXPECT_EQ(store.use_credential("SN-1", "bb", kT0).value(), CredentialUse::Unknown);
  EXPECT_EQ(store.use_credential("SN-2", "aa", kT0).value(), CredentialUse::Unknown);
  EXPECT_EQ(store.use_credential("SN-1", "aa", kT0).value(), CredentialUse::Accepted);
  EXPECT_EQ(store.use_credential("SN-1", "aa", kT0).value(), CredentialUse::Reused);
}

TEST_F(CredentialStoreTest, ExpiredCredentialIsRefusedAndANewOneReplacesIt) {
  auto db = open_db(db_path());
  SqliteEnrollmentStore store(*db);
  ASSERT_TRUE(store.put_credential("SN-1", "aa", kT0, kT0 + std::chrono::hours(1)).ok());
  EXPECT_EQ(store.use_credential("SN-1", "aa", kT0 + std::chrono::hours(2)).value(), CredentialUse::Expired);
  ASSERT_TRUE(store.put_credential("SN-1", "cc", kT0, kT0 + std::chrono::hours(3)).ok());
  EXPECT_EQ(store.use_credential("SN-1", "aa", kT0 + std::chrono::hours(2)).value(), CredentialUse::Unknown);
  EXPECT_EQ(store.use_credential("SN-1", "cc", kT0 + std::chrono::hours(2)).value(), CredentialUse::Accepted);
}

TEST_F(CredentialStoreTest, ConcurrentUsesFromTwoConnectionsAcceptExactlyOne) {
  {
    auto db = open_db(db_path());
    ASSERT_TRUE(SqliteEnrollmentStore(*db).put_credential("SN-1", "aa", kT0, kT0 + std::chrono::hours(1)).ok());
  }
  std::atomic<int> accepted{0}, reused{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&] {
      auto db = open_db(db_path());
      SqliteEnrollmentStore store(*db);
      for (int i = 0; i < 20; ++i) {
        auto u = store.use_credential("SN-1", "aa", kT0);
        ASSERT_TRUE(u.ok()) << u.error().describe();
        if (u.value() == CredentialUse::Accepted) ++accepted;
        if (u.value() == CredentialUse::Reused) ++reused;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(accepted.load(), 1);
  EXPECT_EQ(reused.load(), 39);
}

TEST_F(CredentialStoreTest, AWrongSecretLeavesNoStaleSnapshotThatBlocksLaterWrites) {
  auto db1 = open_db(db_path());
  auto db2 = open_db(db_path());
  SqliteEnrollmentStore one(*db1), two(*db2);
  ASSERT_TRUE(one.put_credential("SN-1", "aa", kT0, kT0 + std::chrono::hours(1)).ok());
  EXPECT_EQ(one.use_credential("SN-1", "wrong", kT0).value(), CredentialUse::Unknown);
  // Another process writes meanwhile (a new credential for another device).
  ASSERT_TRUE(two.put_credential("SN-2", "bb", kT0, kT0 + std::chrono::hours(1)).ok());
  // The first connection still writes: no read snapshot was left open by the refusal.
  auto again = one.use_credential("SN-1", "aa", kT0);
  ASSERT_TRUE(again.ok()) << again.error().describe();
  EXPECT_EQ(again.value(), CredentialUse::Accepted);
}

}  // namespace
}  // namespace hallmark::store::testing
