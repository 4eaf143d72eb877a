// PostgreSQL only: the server going away and coming back, on a private
// cluster so the other tests of the tier keep theirs.
#include <gtest/gtest.h>

#include <thread>

#include "audit/audit_log.h"
#include "store/store.h"
#include "store_test_util.h"
#include "support/postgres_support.h"

namespace hallmark::store {
namespace {

using base::ErrorCode;
using testing::event;
using testing::kT0;
using testing::pending_entry;

TEST(PostgresOutage, WritesAndReadsAreUnavailableWhileTheServerIsDownAndWorkAgainAfter) {
  hallmark::testing::PrivatePostgres pg;
  base::FixedClock clock{kT0};
  auto store = open_store({pg.dsn(), false, 2}, clock);
  ASSERT_TRUE(store.ok()) << store.error().describe();
  auto& s = **store;
  ASSERT_TRUE(s.ledger().reserve(pending_entry("DA01"), event("signing", "DA01")).ok());

  pg.pause();
  auto write = s.ledger().reserve(pending_entry("DA02"), event("signing", "DA02"));
  ASSERT_FALSE(write.ok());
  EXPECT_EQ(write.error().code, ErrorCode::Unavailable) << write.error().describe();
  auto read = s.ledger().find("DA01");
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.error().code, ErrorCode::Unavailable);

  pg.resume();
  // The pooled connections are stale: the store reconnects on its own.
  auto again = s.ledger().reserve(pending_entry("DA02"), event("signing", "DA02"));
  ASSERT_TRUE(again.ok()) << again.error().describe();
  EXPECT_TRUE(s.ledger().find("DA01")->has_value());
  auto records = s.audit().records(1, 100).value();
  ASSERT_EQ(records.size(), 2u);  // the refused write left nothing
  EXPECT_TRUE(audit::verify_chain(records, {}, {}).ok);
}

TEST(PostgresOutage, TheFirstReadAndWriteAfterAServerRestartReconnectInsteadOfFailing) {
  hallmark::testing::PrivatePostgres pg;
  base::FixedClock clock{kT0};
  auto store = open_store({pg.dsn(), false, 1}, clock);
  ASSERT_TRUE(store.ok()) << store.error().describe();
  auto& s = **store;
  ASSERT_TRUE(s.ledger().reserve(pending_entry("DB01"), event("signing", "DB01")).ok());
  // The pooled connection goes stale while nothing uses it.
  pg.pause();
  pg.resume();
  auto read = s.ledger().find("DB01");
  ASSERT_TRUE(read.ok()) << read.error().describe();
  EXPECT_TRUE(read->has_value());
  pg.pause();
  pg.resume();
  auto write = s.ledger().reserve(pending_entry("DB02"), event("signing", "DB02"));
  EXPECT_TRUE(write.ok()) << write.error().describe();
}

TEST(PostgresOutage, AWrongDsnIsAClearUnavailableErrorWithoutThePassword) {
  base::FixedClock clock{kT0};
  auto refused = open_store({"postgresql://hallmark:topsecret@127.0.0.1:1/hallmark"}, clock);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::Unavailable);
  EXPECT_NE(refused.error().detail.find("cannot connect to PostgreSQL at postgresql://hallmark:***@127.0.0.1:1/"),
            std::string::npos)
      << refused.error().detail;
  EXPECT_EQ(refused.error().describe().find("topsecret"), std::string::npos);

  // The right server, a database that does not exist.
  auto dsn = hallmark::testing::postgres_fixture_dsn();
  auto missing = open_store({dsn.substr(0, dsn.rfind('/') + 1) + "no_such_db"}, clock);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().detail.find("no_such_db"), std::string::npos) << missing.error().detail;
  EXPECT_EQ(missing.error().describe().find("fixture-secret"), std::string::npos);
}

TEST(PostgresOutage, ASchemaFromANewerHallmarkIsRefused) {
  hallmark::testing::PostgresDatabase db;
  base::FixedClock clock{kT0};
  ASSERT_TRUE(open_store({db.dsn()}, clock).ok());
  db.query("UPDATE hallmark_schema SET version = version + 1");
  auto newer = open_store({db.dsn()}, clock);
  ASSERT_FALSE(newer.ok());
  EXPECT_EQ(newer.error().code, ErrorCode::Unsupported);
  EXPECT_NE(newer.error().detail.find("newer Hallmark"), std::string::npos);
}

TEST(PostgresOutage, TwoNodesStartingAtOnceMigrateOnce) {
  hallmark::testing::PostgresDatabase db;
  base::FixedClock clock{kT0};
  std::vector<base::Status> results(4);
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      auto s = open_store({db.dsn()}, clock);
      results[static_cast<std::size_t>(i)] = s.ok() ? base::Status{} : base::Status(s.error());
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& r : results) EXPECT_TRUE(r.ok()) << r.error().describe();
  EXPECT_EQ(db.query("SELECT count(*) FROM hallmark_schema"), "1");
}

TEST(PostgresRedaction, PasswordsInUriAndKeyValueFormsAreHidden) {
  EXPECT_EQ(printable_location("postgresql://u:p%40ss@h:5/db"), "postgresql://u:***@h:5/db");
  EXPECT_EQ(printable_location("postgresql://u@h/db?password=x&sslmode=require"),
            "postgresql://u@h/db?password=***&sslmode=require");
  EXPECT_EQ(printable_location("postgres://h/db"), "postgres://h/db");
  EXPECT_EQ(printable_location("/var/lib/hallmark/hallmark.db"), "/var/lib/hallmark/hallmark.db");
}

}  // namespace
}  // namespace hallmark::store
