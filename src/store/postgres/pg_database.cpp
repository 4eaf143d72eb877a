#include "store/postgres/pg_database.h"

#include <cstring>

#include "store/postgres/pg_schema.h"

namespace hallmark::store {

using base::ErrorCode;
using base::make_error;

namespace {

constexpr Oid kInt8Oid = 20;
constexpr Oid kTextOid = 25;
constexpr Oid kByteaOid = 17;

std::string trimmed(const char* s) {
  std::string out = s ? s : "";
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

std::int64_t big_endian(const char* p, int len) {
  std::uint64_t v = 0;
  for (int i = 0; i < len; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  if (len < 8 && len > 0 && (static_cast<unsigned char>(p[0]) & 0x80) != 0) v |= ~std::uint64_t{0} << (8 * len);
  return static_cast<std::int64_t>(v);
}

}  // namespace

PgParam::PgParam(std::int64_t v) : m_kind(Kind::Int8), m_data(8) {
  auto u = static_cast<std::uint64_t>(v);
  for (int i = 7; i >= 0; --i) {
    m_data[static_cast<std::size_t>(i)] = static_cast<char>(u & 0xff);
    u >>= 8;
  }
}

std::int64_t PgRows::affected() const {
  const char* n = PQcmdTuples(m_result.get());
  return (n && *n) ? std::strtoll(n, nullptr, 10) : 0;
}

std::string PgRows::text(int row, int col) const {
  if (is_null(row, col)) return {};
  return std::string(PQgetvalue(m_result.get(), row, col),
                     static_cast<std::size_t>(PQgetlength(m_result.get(), row, col)));
}

base::Bytes PgRows::blob(int row, int col) const {
  if (is_null(row, col)) return {};
  const auto* p = reinterpret_cast<const std::uint8_t*>(PQgetvalue(m_result.get(), row, col));
  return base::Bytes(p, p + PQgetlength(m_result.get(), row, col));
}

std::int64_t PgRows::integer(int row, int col) const {
  if (is_null(row, col)) return 0;
  return big_endian(PQgetvalue(m_result.get(), row, col), PQgetlength(m_result.get(), row, col));
}

base::Result<PgRows> PgConnection::exec(const std::string& sql, const std::vector<PgParam>& params) {
  std::vector<Oid> types;
  std::vector<const char*> values;
  std::vector<int> lengths;
  std::vector<int> formats;
  for (const auto& p : params) {
    types.push_back(p.m_kind == PgParam::Kind::Int8    ? kInt8Oid
                    : p.m_kind == PgParam::Kind::Bytes ? kByteaOid
                                                       : kTextOid);
    // An empty value must still be a non-null pointer: libpq reads nullptr as SQL NULL.
    static const char kEmpty[] = "";
    values.push_back(p.m_kind == PgParam::Kind::Null ? nullptr : p.m_data.empty() ? kEmpty : p.m_data.data());
    lengths.push_back(static_cast<int>(p.m_data.size()));
    formats.push_back(1);
  }
  // The result in binary format too: integers and bytea come back without parsing.
  PGresult* r = PQexecParams(m_conn, sql.c_str(), static_cast<int>(params.size()), types.data(), values.data(),
                             lengths.data(), formats.data(), 1);
  return check(r, sql);
}

base::Result<PgRows> PgConnection::check(PGresult* r, const std::string& sql) {
  PgRows rows(r);
  const auto status = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return rows;
  const std::string state = r && PQresultErrorField(r, PG_DIAG_SQLSTATE) ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : "";
  const std::string msg = trimmed(r ? PQresultErrorMessage(r) : PQerrorMessage(m_conn));
  const std::string cause = msg + " [" + state + "] in: " + sql.substr(0, 80);
  if (state == "23505") return make_error(ErrorCode::AlreadyExists, "a unique value is already recorded", cause);
  // Class 08: connection exception; 57P0x: the server is shutting down or
  // starting; 40001/40P01: retry the transaction. All mean "try again later".
  if (!healthy() || state.starts_with("08") || state.starts_with("57P") || state == "40001" || state == "40P01") {
    return make_error(ErrorCode::Unavailable, "the database is unavailable", cause);
  }
  return make_error(ErrorCode::Internal, "database error", cause);
}

base::Status PgConnection::exec_script(const std::string& sql) {
  HM_TRY(auto rows, check(PQexec(m_conn, sql.c_str()), sql));
  (void)rows;
  return {};
}

bool PgConnection::reset() {
  PQreset(m_conn);
  return healthy();
}

// --- database ------------------------------------------------------------

bool is_postgres_dsn(std::string_view location) {
  return location.starts_with("postgresql://") || location.starts_with("postgres://");
}

std::string redact_dsn(std::string_view dsn) {
  std::string out(dsn);
  // URI userinfo: scheme://user:password@host
  const auto scheme = out.find("://");
  if (scheme != std::string::npos) {
    const auto start = scheme + 3;
    const auto end = out.find_first_of("/?", start);
    const auto at = out.rfind('@', end == std::string::npos ? out.size() : end);
    if (at != std::string::npos && at > start) {
      const auto colon = out.find(':', start);
      if (colon != std::string::npos && colon < at) out.replace(colon + 1, at - colon - 1, "***");
    }
  }
  // ?password=... or &password=... (URI) and password=... (key/value form)
  for (std::size_t pos = 0; (pos = out.find("password=", pos)) != std::string::npos;) {
    const bool boundary = pos == 0 || out[pos - 1] == '?' || out[pos - 1] == '&' || out[pos - 1] == ' ';
    pos += 9;
    if (!boundary) continue;
    const auto end = out.find_first_of("& ", pos);
    out.replace(pos, (end == std::string::npos ? out.size() : end) - pos, "***");
  }
  return out;
}

PgDatabase::PgDatabase(std::string dsn, std::size_t pool_size)
    : m_dsn(std::move(dsn)), m_display(redact_dsn(m_dsn)), m_pool_size(pool_size == 0 ? 1 : pool_size) {}

base::Result<std::unique_ptr<PgDatabase>> PgDatabase::open(const std::string& dsn, std::size_t pool_size) {
  std::unique_ptr<PgDatabase> db(new PgDatabase(dsn, pool_size));
  HM_TRY(auto first, db->connect());
  {
    std::lock_guard lock(db->m_mutex);
    ++db->m_open;  // counted like every pooled connection: release() may drop it
  }
  db->release(std::move(first));
  HM_CHECK(db->migrate());
  return db;
}

base::Result<std::unique_ptr<PgConnection>> PgConnection::open(const std::string& dsn, const std::string& display) {
  // Defaults first: expand_dbname lets the DSN's own parameters override them.
  const char* keys[] = {"connect_timeout", "application_name", "dbname", nullptr};
  const char* values[] = {"5", "hallmark", dsn.c_str(), nullptr};
  PGconn* c = PQconnectdbParams(keys, values, 1);
  if (c == nullptr) return make_error(ErrorCode::Unavailable, "cannot connect to PostgreSQL at " + display, "oom");
  auto conn = std::make_unique<PgConnection>(c);
  // NOTICEs ("relation already exists, skipping") are not for the operator.
  PQsetNoticeProcessor(
      c, [](void*, const char*) {}, nullptr);
  if (!conn->healthy()) {
    // libpq's message names the host and the reason (refused, unknown host,
    // password authentication failed, database does not exist); never the password.
    return make_error(ErrorCode::Unavailable,
                      "cannot connect to PostgreSQL at " + display + ": " + trimmed(PQerrorMessage(c)));
  }
  return conn;
}

base::Result<std::unique_ptr<PgConnection>> PgDatabase::connect() const {
  return PgConnection::open(m_dsn, m_display);
}

base::Result<std::unique_ptr<PgConnection>> PgDatabase::acquire() const {
  std::unique_lock lock(m_mutex);
  m_available.wait(lock, [&] { return !m_idle.empty() || m_open < m_pool_size; });
  if (!m_idle.empty()) {
    auto c = std::move(m_idle.back());
    m_idle.pop_back();
    return c;
  }
  ++m_open;
  lock.unlock();
  auto c = connect();
  if (!c.ok()) {
    std::lock_guard relock(m_mutex);
    --m_open;
    m_available.notify_one();
  }
  return c;
}

void PgDatabase::release(std::unique_ptr<PgConnection> c) const {
  std::lock_guard lock(m_mutex);
  if (c && c->healthy()) {
    m_idle.push_back(std::move(c));
  } else {
    --m_open;
  }
  m_available.notify_one();
}

base::Status PgDatabase::with_connection(bool transactional,
                                         const std::function<base::Status(PgConnection&)>& body) const {
  HM_TRY(auto conn, acquire());
  struct Lend {
    const PgDatabase& db;
    std::unique_ptr<PgConnection>& c;
    ~Lend() { db.release(std::move(c)); }
  } lend{*this, conn};
  if (!transactional) {
    auto s = body(*conn);
    // An idle connection goes stale when the server restarts; reads are
    // idempotent, so retry once on a fresh connection.
    if (!s.ok() && s.error().code == ErrorCode::Unavailable && !conn->healthy() && conn->reset()) s = body(*conn);
    return s;
  }
  auto begin = conn->exec("BEGIN");
  if (!begin.ok() && !conn->healthy() && conn->reset()) begin = conn->exec("BEGIN");
  if (!begin.ok()) return begin.error();
  auto s = body(*conn);
  if (!s.ok()) {
    (void)conn->exec("ROLLBACK");
    return s;
  }
  // A COMMIT whose answer is lost (server gone) is Unavailable; the server
  // either committed all of the transaction or none of it.
  auto commit = conn->exec("COMMIT");
  if (!commit.ok()) return commit.error();
  return {};
}

base::Status PgDatabase::transaction(const std::function<base::Status(PgConnection&)>& body) const {
  return with_connection(true, body);
}

base::Status PgDatabase::read(const std::function<base::Status(PgConnection&)>& body) const {
  return with_connection(false, body);
}

std::int64_t PgDatabase::schema_version() {
  return static_cast<std::int64_t>(pg_migrations().size());
}

base::Status PgDatabase::migrate() {
  return transaction([&](PgConnection& c) -> base::Status {
    // Two nodes starting at once: the advisory lock makes one migrate and the
    // other find the schema current.
    HM_TRY(auto locked, c.exec("SELECT pg_advisory_xact_lock($1)", {kPgMigrationLock}));
    (void)locked;
    HM_CHECK(c.exec_script("CREATE TABLE IF NOT EXISTS hallmark_schema (version BIGINT NOT NULL)"));
    HM_TRY(auto rows, c.exec("SELECT version FROM hallmark_schema"));
    std::int64_t version = 0;
    if (rows.empty()) {
      HM_TRY(auto ins, c.exec("INSERT INTO hallmark_schema (version) VALUES (0)"));
      (void)ins;
    } else {
      version = rows.integer(0, 0);
    }
    const auto& migrations = pg_migrations();
    const auto target = static_cast<std::int64_t>(migrations.size());
    if (version > target) {
      return make_error(ErrorCode::Unsupported, "database " + m_display + " was written by a newer Hallmark (schema " +
                                                    std::to_string(version) + ")");
    }
    for (auto v = version; v < target; ++v) HM_CHECK(c.exec_script(migrations[static_cast<std::size_t>(v)]));
    if (version != target) {
      HM_TRY(auto up, c.exec("UPDATE hallmark_schema SET version = $1", {target}));
      (void)up;
    }
    return {};
  });
}

}  // namespace hallmark::store
