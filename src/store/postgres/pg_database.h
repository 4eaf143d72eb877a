// PgDatabase: a pool of libpq connections to one PostgreSQL database, schema
// migrations, and transactions. Several `hallmark serve` nodes share one
// database; everything they must agree on is decided by the server (unique
// keys, row and advisory locks), never by in-process state.
#pragma once

#include <libpq-fe.h>

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"

namespace hallmark::store {

// A bound parameter: text, bytes (bytea), 64-bit integer or NULL. Sent in
// binary so bytea needs no escaping.
class PgParam {
 public:
  PgParam(std::string v) : m_kind(Kind::Text), m_data(v.begin(), v.end()) {}      // NOLINT: implicit on purpose
  PgParam(const char* v) : PgParam(std::string(v)) {}                             // NOLINT
  PgParam(base::ByteView v) : m_kind(Kind::Bytes), m_data(v.begin(), v.end()) {}  // NOLINT
  PgParam(std::int64_t v);                                                        // NOLINT
  static PgParam null() { return PgParam(); }

 private:
  friend class PgConnection;
  enum class Kind { Null, Text, Bytes, Int8 };
  PgParam() = default;
  Kind m_kind = Kind::Null;
  std::vector<char> m_data;
};

// The rows of one statement, in binary result format.
class PgRows {
 public:
  explicit PgRows(PGresult* r) : m_result(r, &PQclear) {}
  int size() const { return PQntuples(m_result.get()); }
  bool empty() const { return size() == 0; }
  // Rows an INSERT/UPDATE/DELETE touched.
  std::int64_t affected() const;
  std::string text(int row, int col) const;
  base::Bytes blob(int row, int col) const;
  std::int64_t integer(int row, int col) const;  // int2, int4 or int8 columns
  bool is_null(int row, int col) const { return PQgetisnull(m_result.get(), row, col) != 0; }

 private:
  std::unique_ptr<PGresult, decltype(&PQclear)> m_result;
};

// One connection, lent by the pool for the length of a transaction or read.
class PgConnection {
 public:
  explicit PgConnection(PGconn* c) : m_conn(c) {}
  static base::Result<std::unique_ptr<PgConnection>> open(const std::string& dsn, const std::string& display);
  ~PgConnection() { PQfinish(m_conn); }
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  // Runs one statement ($1, $2, ... placeholders). AlreadyExists on a unique
  // violation, Unavailable when the server is unreachable or the transaction
  // must be retried (serialization failure, deadlock), Internal otherwise.
  base::Result<PgRows> exec(const std::string& sql, const std::vector<PgParam>& params = {});
  // Runs a script of several statements (migrations).
  base::Status exec_script(const std::string& sql);
  bool healthy() const { return PQstatus(m_conn) == CONNECTION_OK; }
  bool reset();

 private:
  base::Result<PgRows> check(PGresult* r, const std::string& sql);
  PGconn* m_conn;
};

class PgDatabase {
 public:
  // Connects (checking the DSN at once: a wrong host, port, user, password or
  // database is a clear Unavailable error naming the redacted DSN) and brings the
  // schema to this build's version. At most `pool_size` connections are open.
  static base::Result<std::unique_ptr<PgDatabase>> open(const std::string& dsn, std::size_t pool_size = 8);
  ~PgDatabase() = default;
  PgDatabase(const PgDatabase&) = delete;
  PgDatabase& operator=(const PgDatabase&) = delete;

  // Runs `body` inside BEGIN … COMMIT (READ COMMITTED), rolled back on error.
  // A connection found broken at BEGIN is re-opened once, so the first request
  // after a server restart succeeds; a failure later in the body is Unavailable.
  base::Status transaction(const std::function<base::Status(PgConnection&)>& body) const;
  // Runs `body` on a pooled connection without an explicit transaction (reads).
  base::Status read(const std::function<base::Status(PgConnection&)>& body) const;

  // The schema version this build migrates to.
  static std::int64_t schema_version();
  // The DSN as it may be shown or logged: the password replaced by "***".
  const std::string& display_name() const { return m_display; }

 private:
  PgDatabase(std::string dsn, std::size_t pool_size);
  base::Result<std::unique_ptr<PgConnection>> connect() const;
  base::Result<std::unique_ptr<PgConnection>> acquire() const;
  void release(std::unique_ptr<PgConnection> c) const;
  base::Status with_connection(bool transactional, const std::function<base::Status(PgConnection&)>& body) const;
  base::Status migrate();

  std::string m_dsn;
  std::string m_display;
  std::size_t m_pool_size;
  mutable std::mutex m_mutex;
  mutable std::condition_variable m_available;
  mutable std::vector<std::unique_ptr<PgConnection>> m_idle;
  mutable std::size_t m_open = 0;
};

// True for "postgresql://" and "postgres://" URIs (libpq's URI forms).
bool is_postgres_dsn(std::string_view location);
// `dsn` with any password (URI userinfo or ?password=) replaced by "***".
std::string redact_dsn(std::string_view dsn);

}  // namespace hallmark::store
