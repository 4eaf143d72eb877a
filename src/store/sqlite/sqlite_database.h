// SqliteDatabase: one SQLite connection in WAL mode with a busy timeout,
// schema migrations, cached prepared statements and transactions. Several
// processes (CLI while `serve` runs) may use the same file: no exclusive lock.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"

namespace hallmark::store {

enum class Durability { Normal, Full };  // PRAGMA synchronous under WAL

class Statement;

class SqliteDatabase {
 public:
  static base::Result<std::unique_ptr<SqliteDatabase>> open(const std::filesystem::path& path,
                                                            Durability durability = Durability::Normal);
  ~SqliteDatabase();
  SqliteDatabase(const SqliteDatabase&) = delete;
  SqliteDatabase& operator=(const SqliteDatabase&) = delete;

  // Runs `body` inside BEGIN IMMEDIATE … COMMIT (rolled back on error). The write
  // lock is taken at BEGIN, so reads inside see the latest committed state.
  base::Status write_transaction(const std::function<base::Status()>& body);
  // Runs `body` under the connection mutex (reads).
  base::Status read(const std::function<base::Status()>& body) const;

  // A cached prepared statement, reset and with bindings cleared. Only valid
  // inside write_transaction/read bodies.
  Statement& statement(const std::string& sql) const;
  base::Status exec(const std::string& sql) const;

  Durability durability() const { return m_durability; }
  // The schema version this build migrates to (the number of migrations).
  static std::int64_t schema_version();
  const std::filesystem::path& path() const { return m_path; }

 private:
  SqliteDatabase(sqlite3* db, std::filesystem::path path, Durability d);
  base::Status migrate();
  // Runs a transaction or read body and resets the statements it used.
  base::Status run_body(const std::function<base::Status()>& body) const;
  base::Error error(const std::string& what) const;

  sqlite3* m_db;
  std::filesystem::path m_path;
  Durability m_durability;
  mutable std::recursive_mutex m_mutex;
  mutable std::map<std::string, std::unique_ptr<Statement>> m_statements;
  mutable std::vector<Statement*> m_touched;  // used by the current body (reset when it ends)
  mutable int m_depth = 0;                    // nesting of bodies on this connection
};

// A prepared statement: bind by 1-based index, step, read columns.
class Statement {
 public:
  Statement(sqlite3* db, sqlite3_stmt* stmt) : m_db(db), m_stmt(stmt) {}
  ~Statement() { sqlite3_finalize(m_stmt); }

  Statement& bind(int i, const std::string& v);
  Statement& bind(int i, base::ByteView v);
  Statement& bind(int i, std::int64_t v);
  Statement& bind_null(int i);

  // True when a row is available; false when done; error on failure.
  base::Result<bool> step();
  // Runs to completion (for INSERT/UPDATE). AlreadyExists on a UNIQUE violation.
  base::Status run();

  std::string text(int col) const;
  base::Bytes blob(int col) const;
  std::int64_t integer(int col) const;
  bool is_null(int col) const;

  void reset();

 private:
  sqlite3* m_db;
  sqlite3_stmt* m_stmt;
};

}  // namespace hallmark::store
