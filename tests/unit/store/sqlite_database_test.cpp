#include "store/sqlite/sqlite_database.h"

#include <gtest/gtest.h>

#include "store_test_util.h"

namespace hallmark::store {
namespace {

using testing::open_db;

std::int64_t scalar(SqliteDatabase& db, const std::string& sql) {
  std::int64_t out = -1;
  auto st = db.read([&]() -> base::Status {
    auto& s = db.statement(sql);
    HM_TRY(bool row, s.step());
    if (row) out = s.integer(0);
    s.reset();
    return {};
  });
  EXPECT_TRUE(st.ok());
  return out;
}

TEST(SqliteDatabase, OpenCreatesTheSchemaInWalMode) {
  hallmark::testing::TempDir dir;
  auto db = open_db(dir / "h.db");
  EXPECT_EQ(scalar(*db, "PRAGMA user_version"), store::SqliteDatabase::schema_version());
  EXPECT_EQ(scalar(*db,
                   "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN "
                   "('issuers', 'certificates', 'devices', 'audit_records', 'audit_checkpoints')"),
            5);
  auto& mode = db->statement("PRAGMA journal_mode");
  ASSERT_TRUE(mode.step().value());
  EXPECT_EQ(mode.text(0), "wal");
  mode.reset();
}

TEST(SqliteDatabase, MigrationsRunOnceAndReopeningIsANoOp) {
  hallmark::testing::TempDir dir;
  {
    auto db = open_db(dir / "h.db");
    ASSERT_TRUE(db->write_transaction([&]() -> base::Status {
                    return db
                        ->statement(
                            "INSERT INTO issuers (name, role, parent, cert_der, key_ref, status) "
                            "VALUES ('root', 'root', '', x'00', 'k', 'active')")
                        .run();
                  }).ok());
  }
  // A second migration run would fail on CREATE TABLE or wipe the row.
  std::int64_t tables = -1;
  for (int i = 0; i < 2; ++i) {
    auto db = open_db(dir / "h.db");
    EXPECT_EQ(scalar(*db, "PRAGMA user_version"), store::SqliteDatabase::schema_version());
    EXPECT_EQ(scalar(*db, "SELECT count(*) FROM issuers"), 1);
    const auto now = scalar(*db, "SELECT count(*) FROM sqlite_master WHERE type = 'table'");
    if (tables >= 0) {
      EXPECT_EQ(now, tables);
    }
    tables = now;
  }
}

TEST(SqliteDatabase, ADatabaseFromANewerVersionIsRefused) {
  hallmark::testing::TempDir dir;
  {
    auto db = open_db(dir / "h.db");
    ASSERT_TRUE(db->exec("PRAGMA user_version=99").ok());
  }
  auto again = SqliteDatabase::open(dir / "h.db");
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, base::ErrorCode::Unsupported);
}

TEST(SqliteDatabase, AFailedTransactionBodyRollsBack) {
  hallmark::testing::TempDir dir;
  auto db = open_db(dir / "h.db");
  auto st = db->write_transaction([&]() -> base::Status {
    HM_CHECK(db->statement("INSERT INTO issuers (name, role, parent, cert_der, key_ref, status) "
                           "VALUES ('root', 'root', '', x'00', 'k', 'active')")
                 .run());
    return base::make_error(base::ErrorCode::Internal, "boom");
  });
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().detail, "boom");
  EXPECT_EQ(scalar(*db, "SELECT count(*) FROM issuers"), 0);
}

TEST(SqliteDatabase, AUniqueViolationIsAlreadyExists) {
  hallmark::testing::TempDir dir;
  auto db = open_db(dir / "h.db");
  const char* insert =
      "INSERT INTO issuers (name, role, parent, cert_der, key_ref, status) "
      "VALUES ('root', 'root', '', x'00', 'k', 'active')";
  ASSERT_TRUE(db->write_transaction([&] { return db->statement(insert).run(); }).ok());
  auto second = db->write_transaction([&] { return db->statement(insert).run(); });
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, base::ErrorCode::AlreadyExists);
}

TEST(SqliteDatabase, AnUnopenablePathIsUnavailable) {
  hallmark::testing::TempDir dir;
  auto db = SqliteDatabase::open(dir / "no" / "such" / "folder" / "h.db");
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.error().code, base::ErrorCode::Unavailable);
}

}  // namespace
}  // namespace hallmark::store
