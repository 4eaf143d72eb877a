// Helpers for the `postgres` test tier: a fresh database on the cluster the
// CTest fixture started (tests/postgres/postgres_fixture.sh writes its DSN to
// <build>/postgres/dsn), and a private cluster for tests that stop the server.
#pragma once

#include <filesystem>
#include <string>

#include "support/test_support.h"

namespace hallmark::testing {

// The fixture cluster's DSN (HALLMARK_TEST_POSTGRES_DSN overrides); throws when
// the fixture did not run.
std::string postgres_fixture_dsn();

// A database of its own on the fixture cluster, dropped at destruction.
class PostgresDatabase {
 public:
  PostgresDatabase();
  ~PostgresDatabase();
  PostgresDatabase(const PostgresDatabase&) = delete;
  PostgresDatabase& operator=(const PostgresDatabase&) = delete;
  const std::string& dsn() const { return m_dsn; }
  const std::string& name() const { return m_name; }
  // Runs one SQL statement in it (for checks a person would make with psql).
  std::string query(const std::string& sql) const;

 private:
  std::string m_admin;
  std::string m_name;
  std::string m_dsn;
};

// A cluster of its own (same script as the fixture), for outage tests:
// pause() stops the server, resume() starts it on the same port.
class PrivatePostgres {
 public:
  PrivatePostgres();
  ~PrivatePostgres();
  const std::string& dsn() const { return m_dsn; }
  void pause();
  void resume();

 private:
  TempDir m_state;
  std::string m_dsn;
};

}  // namespace hallmark::testing
