// The PostgreSQL schema: the same tables and columns as the SQLite store
// (store/sqlite/sqlite_database.cpp), in PostgreSQL types, one migration per
// SQLite migration so the two stay numbered alike.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace hallmark::store {

// Advisory lock keys (pg_advisory_xact_lock): schema migration, and the audit
// chain head (every appending transaction takes it before reading the head).
inline constexpr std::int64_t kPgMigrationLock = 0x484d'0001;
inline constexpr std::int64_t kPgAuditLock = 0x484d'0002;

// Entry i migrates the schema from version i to i + 1.
const std::vector<std::string>& pg_migrations();

}  // namespace hallmark::store
