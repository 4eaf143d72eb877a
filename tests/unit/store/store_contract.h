// The contract suites: one per storage port, each run against every engine
// (built twice: HALLMARK_CONTRACT_ENGINE=sqlite in the `unit` tier,
// =postgres in the `postgres` tier on the fixture's cluster). A test talks
// only to store::Store, so what passes here holds for both engines.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>

#include "base/clock.h"
#include "store/store.h"
#include "store_test_util.h"
#include "support/postgres_support.h"
#include "support/test_support.h"

namespace hallmark::store::testing {

class StoreContract : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "postgres") {
      m_pg.emplace();
      m_location = m_pg->dsn();
    } else {
      m_location = (m_dir / "hallmark.db").string();
    }
    m_store = open_node();
  }

  // Another node (process) on the same database: its own connections and caches.
  std::unique_ptr<Store> open_node() const {
    auto s = open_store({m_location}, m_clock);
    if (!s.ok()) throw std::runtime_error(s.error().describe());
    return std::move(s).value();
  }

  std::vector<audit::Record> audit_records(Store& s) const { return s.audit().records(1, 1'000'000).value(); }
  std::vector<audit::Record> audit_records() const { return audit_records(*m_store); }

  hallmark::testing::TempDir m_dir;
  std::optional<hallmark::testing::PostgresDatabase> m_pg;
  std::string m_location;
  base::FixedClock m_clock{kT0};
  std::unique_ptr<Store> m_store;
};

inline std::string engine_name(const ::testing::TestParamInfo<std::string>& info) {
  return info.param;
}

}  // namespace hallmark::store::testing

// Instantiates `suite` for the engine this binary was built for.
#define HALLMARK_STORE_CONTRACT(suite)                                                              \
  INSTANTIATE_TEST_SUITE_P(Engine, suite, ::testing::Values(std::string(HALLMARK_CONTRACT_ENGINE)), \
                           ::hallmark::store::testing::engine_name)
