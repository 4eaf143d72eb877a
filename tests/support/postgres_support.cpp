#include "support/postgres_support.h"

#include <libpq-fe.h>

#include <atomic>
#include <random>
#include <stdexcept>

namespace hallmark::testing {

namespace {

std::string script() {
  return std::string(HALLMARK_SOURCE_DIR) + "/tests/postgres/postgres_fixture.sh";
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

std::string exec_sql(const std::string& dsn, const std::string& sql) {
  PGconn* c = PQconnectdb(dsn.c_str());
  if (PQstatus(c) != CONNECTION_OK) {
    std::string msg = PQerrorMessage(c);
    PQfinish(c);
    throw std::runtime_error("cannot connect to the test PostgreSQL: " + msg);
  }
  PQsetNoticeProcessor(
      c, [](void*, const char*) {}, nullptr);
  PGresult* r = PQexec(c, sql.c_str());
  const auto st = PQresultStatus(r);
  std::string out;
  if (st == PGRES_TUPLES_OK && PQntuples(r) > 0) out = PQgetvalue(r, 0, 0);
  std::string err = PQresultErrorMessage(r);
  PQclear(r);
  PQfinish(c);
  if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) throw std::runtime_error(sql + ": " + err);
  return out;
}

std::string with_database(const std::string& dsn, const std::string& db) {
  const auto slash = dsn.rfind('/');
  return dsn.substr(0, slash + 1) + db;
}

}  // namespace

std::string postgres_fixture_dsn() {
  if (const char* env = std::getenv("HALLMARK_TEST_POSTGRES_DSN"); env && *env) return env;
  auto dsn = trim(read_text(std::string(HALLMARK_POSTGRES_STATE) + "/dsn"));
  if (dsn.empty()) {
    throw std::runtime_error(
        "no PostgreSQL test cluster: run the `postgres` tier through ctest (fixture "
        "postgres_cluster_start)");
  }
  return dsn;
}

PostgresDatabase::PostgresDatabase() : m_admin(postgres_fixture_dsn()) {
  static std::atomic<int> counter{0};
  std::random_device rd;
  m_name = "hm_test_" + std::to_string(rd() % 1'000'000'000u) + "_" + std::to_string(counter++);
  exec_sql(m_admin, "CREATE DATABASE " + m_name);
  m_dsn = with_database(m_admin, m_name);
}

PostgresDatabase::~PostgresDatabase() {
  try {
    exec_sql(m_admin, "DROP DATABASE IF EXISTS " + m_name + " WITH (FORCE)");
  } catch (...) {
  }
}

std::string PostgresDatabase::query(const std::string& sql) const {
  return exec_sql(m_dsn, sql);
}

PrivatePostgres::PrivatePostgres() {
  auto r = run(script() + " start " + m_state.path().string());
  if (r.exit_code != 0) throw std::runtime_error("private PostgreSQL did not start: " + r.err);
  m_dsn = trim(read_text(m_state / "dsn"));
}

PrivatePostgres::~PrivatePostgres() {
  (void)run(script() + " stop " + m_state.path().string());
}

void PrivatePostgres::pause() {
  auto r = run(script() + " pause " + m_state.path().string());
  if (r.exit_code != 0) throw std::runtime_error("pg_ctl stop failed: " + r.err);
}

void PrivatePostgres::resume() {
  auto r = run(script() + " resume " + m_state.path().string());
  if (r.exit_code != 0) throw std::runtime_error("pg_ctl start failed: " + r.err);
}

}  // namespace hallmark::testing
