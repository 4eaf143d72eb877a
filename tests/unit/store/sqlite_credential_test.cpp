// SQLite-specific behaviour of the credential store (the engine-neutral cases
// are in contract_enrollment_store_test.cpp).
#include <gtest/gtest.h>

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
