#include "store/sqlite/sqlite_database.h"

#include <cstdio>
#include <cstdlib>

namespace hallmark::store {

using base::ErrorCode;
using base::make_error;

namespace {

// Each entry migrates the schema from version i to i + 1. SQL stays portable
// (PostgreSQL comes later): no SQLite-only types or functions.
const char* const kMigrations[] = {
    R"sql(
CREATE TABLE issuers (
  name TEXT PRIMARY KEY,
  role TEXT NOT NULL,
  parent TEXT NOT NULL,
  cert_der BLOB NOT NULL,
  key_ref TEXT NOT NULL,
  status TEXT NOT NULL
);
CREATE TABLE certificates (
  serial TEXT PRIMARY KEY,
  issuer TEXT NOT NULL,
  profile TEXT NOT NULL,
  device_serial TEXT NOT NULL,
  product TEXT NOT NULL,
  channel TEXT NOT NULL,
  origin TEXT NOT NULL,
  evidence_digest TEXT NOT NULL,
  key_fingerprint TEXT NOT NULL,
  subject TEXT NOT NULL,
  tbs BLOB NOT NULL,
  der BLOB,
  status TEXT NOT NULL,
  created BIGINT NOT NULL,
  not_after BIGINT NOT NULL
);
CREATE INDEX certificates_device ON certificates (device_serial);
CREATE INDEX certificates_key ON certificates (key_fingerprint);
CREATE TABLE devices (
  serial TEXT PRIMARY KEY,
  product TEXT NOT NULL,
  idevid_serial TEXT NOT NULL,
  created BIGINT NOT NULL
);
CREATE TABLE audit_records (
  sequence BIGINT PRIMARY KEY,
  time BIGINT NOT NULL,
  actor TEXT NOT NULL,
  channel TEXT NOT NULL,
  action TEXT NOT NULL,
  cert_serial TEXT NOT NULL,
  profile TEXT NOT NULL,
  evidence_digest TEXT NOT NULL,
  detail TEXT NOT NULL,
  prev_hash BLOB NOT NULL,
  hash BLOB NOT NULL
);
CREATE TABLE audit_checkpoints (
  sequence BIGINT NOT NULL,
  head_hash BLOB NOT NULL,
  time BIGINT NOT NULL,
  signature_algorithm TEXT NOT NULL,
  signature BLOB NOT NULL
);
)sql",
    // 2: the factory channel (sites, stations, imported station chains, station state).
    R"sql(
CREATE TABLE factory_sites (
  id TEXT PRIMARY KEY,
  status TEXT NOT NULL,
  scope TEXT NOT NULL,
  created BIGINT NOT NULL,
  retired BIGINT
);
CREATE TABLE factory_stations (
  site TEXT NOT NULL,
  station INTEGER NOT NULL,
  statement TEXT NOT NULL,
  signature BLOB NOT NULL,
  last_sequence BIGINT NOT NULL,
  last_hash BLOB NOT NULL,
  PRIMARY KEY (site, station)
);
CREATE TABLE factory_station_records (
  site TEXT NOT NULL,
  station INTEGER NOT NULL,
  sequence BIGINT NOT NULL,
  hash BLOB NOT NULL,
  PRIMARY KEY (site, station, sequence)
);
CREATE TABLE factory_station_state (
  name TEXT PRIMARY KEY,
  value BIGINT NOT NULL
);
)sql",
    // 3: single-use EST HTTP Basic credentials (issue 4), one per device; only the secret's hash.
    R"sql(
CREATE TABLE est_credentials (
  device_serial TEXT PRIMARY KEY,
  secret_sha256 TEXT NOT NULL,
  created BIGINT NOT NULL,
  expires BIGINT NOT NULL,
  used BIGINT
);
)sql",
    // 4: revocation (revoked certificates, CRLs, the revocation generation counter).
    R"sql(
CREATE TABLE revocations (
  serial TEXT PRIMARY KEY,
  issuer TEXT NOT NULL,
  reason INTEGER NOT NULL,
  revoked_at BIGINT NOT NULL,
  actor TEXT NOT NULL,
  comment TEXT NOT NULL
);
CREATE INDEX revocations_issuer ON revocations (issuer);
CREATE TABLE revocation_counters (
  name TEXT PRIMARY KEY,
  value BIGINT NOT NULL
);
INSERT INTO revocation_counters (name, value) VALUES ('generation', 0);
CREATE TABLE crls (
  issuer TEXT NOT NULL,
  number BIGINT NOT NULL,
  generation BIGINT NOT NULL,
  this_update BIGINT NOT NULL,
  next_update BIGINT NOT NULL,
  der BLOB NOT NULL,
  PRIMARY KEY (issuer, number)
);
)sql",
    // 5: the station's secure-element challenge nonces (issue 8): single use, with an expiry.
    R"sql(
CREATE TABLE factory_nonces (
  nonce TEXT PRIMARY KEY,
  created BIGINT NOT NULL,
  expires BIGINT NOT NULL,
  used BIGINT,
  used_by TEXT
);
)sql",
    // 6: hardware evidence (issue 8), filed under its SHA-256 (the certificates'
    // evidence_digest); hardware_id is the generic hardware identity fingerprint
    // ('se:...', later 'tpm-ek:...'; '' when none) duplicates are found by.
    R"sql(
CREATE TABLE evidence (
  digest TEXT PRIMARY KEY,
  type TEXT NOT NULL,
  content BLOB NOT NULL,
  hardware_id TEXT NOT NULL,
  verified_at BIGINT NOT NULL
);
CREATE INDEX evidence_hardware ON evidence (hardware_id);
CREATE INDEX certificates_evidence ON certificates (evidence_digest);
)sql",
};

// Every table the migrations create (checked at open).
const char* const kTables[] = {"issuers",
                               "certificates",
                               "devices",
                               "audit_records",
                               "audit_checkpoints",
                               "factory_sites",
                               "factory_stations",
                               "factory_station_records",
                               "factory_station_state",
                               "est_credentials",
                               "revocations",
                               "revocation_counters",
                               "crls",
                               "factory_nonces",
                               "evidence"};

}  // namespace

base::Result<std::unique_ptr<SqliteDatabase>> SqliteDatabase::open(const std::filesystem::path& path,
                                                                   Durability durability) {
  sqlite3* db = nullptr;
  const int rc =
      sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return make_error(ErrorCode::Unavailable, "cannot open database '" + path.string() + "'", msg);
  }
  std::unique_ptr<SqliteDatabase> out(new SqliteDatabase(db, path, durability));
  sqlite3_busy_timeout(db, 10000);
  HM_CHECK(out->exec("PRAGMA journal_mode=WAL"));
  HM_CHECK(out->exec(durability == Durability::Full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL"));
  HM_CHECK(out->exec("PRAGMA foreign_keys=ON"));
  HM_CHECK(out->migrate());
  return out;
}

SqliteDatabase::SqliteDatabase(sqlite3* db, std::filesystem::path path, Durability d)
    : m_db(db), m_path(std::move(path)), m_durability(d) {}

SqliteDatabase::~SqliteDatabase() {
  m_statements.clear();
  sqlite3_close(m_db);
}

base::Error SqliteDatabase::error(const std::string& what) const {
  const int code = sqlite3_errcode(m_db);
  const auto ec = (code == SQLITE_BUSY || code == SQLITE_LOCKED) ? ErrorCode::Unavailable : ErrorCode::Internal;
  return make_error(ec, "database error: " + what, sqlite3_errmsg(m_db));
}

base::Status SqliteDatabase::exec(const std::string& sql) const {
  char* err = nullptr;
  if (sqlite3_exec(m_db, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "";
    sqlite3_free(err);
    return make_error(ErrorCode::Internal, "database error", msg + " in: " + sql.substr(0, 80));
  }
  return {};
}

std::int64_t SqliteDatabase::schema_version() {
  return static_cast<std::int64_t>(std::size(kMigrations));
}

base::Status SqliteDatabase::migrate() {
  // user_version holds the number of migrations applied. Applying under the
  // write lock makes concurrent first opens safe.
  return write_transaction([&]() -> base::Status {
    auto& st = statement("PRAGMA user_version");
    HM_TRY(bool row, st.step());
    const auto version = row ? st.integer(0) : 0;
    st.reset();
    const auto target = static_cast<std::int64_t>(std::size(kMigrations));
    if (version > target) {
      return make_error(ErrorCode::Unsupported, "database '" + m_path.string() +
                                                    "' was written by a newer Hallmark (schema " +
                                                    std::to_string(version) + ")");
    }
    for (auto v = version; v < target; ++v) {
      HM_CHECK(exec(kMigrations[v]));
    }
    if (version != target) HM_CHECK(exec("PRAGMA user_version=" + std::to_string(target)));
    // A table dropped by hand would otherwise surface as a statement that does
    // not prepare, deep inside a request: refuse the database here, by name.
    auto& table = statement("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?");
    for (const char* name : kTables) {
      table.bind(1, std::string(name));
      HM_TRY(bool present, table.step());
      table.reset();
      if (!present) {
        return make_error(ErrorCode::Internal, "database '" + m_path.string() + "' is damaged: its table '" + name +
                                                   "' is missing; restore it from a backup");
      }
    }
    return {};
  });
}

base::Status SqliteDatabase::run_body(const std::function<base::Status()>& body) const {
  ++m_depth;
  auto status = body();
  if (--m_depth == 0) {
    // A statement left mid-result (a body that returned after its first row)
    // would keep its read snapshot — and, in WAL mode, the WAL — pinned until it
    // is next used, and make COMMIT fail. Every body ends with all of them reset.
    for (auto* st : m_touched) st->reset();
    m_touched.clear();
  }
  return status;
}

base::Status SqliteDatabase::write_transaction(const std::function<base::Status()>& body) {
  std::lock_guard lock(m_mutex);
  if (sqlite3_exec(m_db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK) {
    return error("cannot begin a transaction (is another process holding the database?)");
  }
  auto status = run_body(body);
  if (!status.ok()) {
    sqlite3_exec(m_db, "ROLLBACK", nullptr, nullptr, nullptr);
    return status;
  }
  if (sqlite3_exec(m_db, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
    auto e = error("commit failed");
    sqlite3_exec(m_db, "ROLLBACK", nullptr, nullptr, nullptr);
    return e;
  }
  return {};
}

base::Status SqliteDatabase::read(const std::function<base::Status()>& body) const {
  std::lock_guard lock(m_mutex);
  return run_body(body);
}

Statement& SqliteDatabase::statement(const std::string& sql) const {
  auto it = m_statements.find(sql);
  if (it == m_statements.end()) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v3(m_db, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) != SQLITE_OK) {
      // A statement that does not prepare is a programming error in our own SQL.
      std::fprintf(stderr, "bad SQL: %s in %s\n", sqlite3_errmsg(m_db), sql.c_str());
      std::abort();
    }
    it = m_statements.emplace(sql, std::make_unique<Statement>(m_db, stmt)).first;
  }
  it->second->reset();
  m_touched.push_back(it->second.get());
  return *it->second;
}

Statement& Statement::bind(int i, const std::string& v) {
  sqlite3_bind_text(m_stmt, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  return *this;
}
Statement& Statement::bind(int i, base::ByteView v) {
  sqlite3_bind_blob(m_stmt, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  return *this;
}
Statement& Statement::bind(int i, std::int64_t v) {
  sqlite3_bind_int64(m_stmt, i, v);
  return *this;
}
Statement& Statement::bind_null(int i) {
  sqlite3_bind_null(m_stmt, i);
  return *this;
}

base::Result<bool> Statement::step() {
  const int rc = sqlite3_step(m_stmt);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  const auto ext = sqlite3_extended_errcode(m_db);
  if (ext == SQLITE_CONSTRAINT_PRIMARYKEY || ext == SQLITE_CONSTRAINT_UNIQUE) {
    return make_error(ErrorCode::AlreadyExists, "a unique value is already recorded", sqlite3_errmsg(m_db));
  }
  const auto code = (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) ? ErrorCode::Unavailable : ErrorCode::Internal;
  return make_error(code, "database error", sqlite3_errmsg(m_db));
}

base::Status Statement::run() {
  HM_TRY(bool row, step());
  (void)row;
  return {};
}

std::string Statement::text(int col) const {
  const auto* p = sqlite3_column_text(m_stmt, col);
  return p ? std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(sqlite3_column_bytes(m_stmt, col)))
           : std::string();
}
base::Bytes Statement::blob(int col) const {
  const auto* p = static_cast<const std::uint8_t*>(sqlite3_column_blob(m_stmt, col));
  return p ? base::Bytes(p, p + sqlite3_column_bytes(m_stmt, col)) : base::Bytes();
}
std::int64_t Statement::integer(int col) const {
  return sqlite3_column_int64(m_stmt, col);
}
bool Statement::is_null(int col) const {
  return sqlite3_column_type(m_stmt, col) == SQLITE_NULL;
}

void Statement::reset() {
  sqlite3_reset(m_stmt);
  sqlite3_clear_bindings(m_stmt);
}

}  // namespace hallmark::store
