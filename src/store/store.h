// Store: every storage port of one operator database, whichever engine holds
// it — SQLite (a file path, the embedded default) or PostgreSQL (a
// "postgresql://" DSN, several nodes sharing it). `app` opens one and hands its
// ports to the modules that declared them.
//
// Adding a port: declare it in its consumer, implement it in sqlite/ and
// postgres/ against the engine's database class, and add one accessor here
// plus one line in each backend in store.cpp.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "audit/audit_store.h"
#include "base/clock.h"
#include "base/result.h"
#include "ca/ledger.h"
#include "ca/revocation.h"
#include "factory/ports.h"
#include "ra/ports.h"

namespace hallmark::store {

class Store {
 public:
  virtual ~Store() = default;
  virtual audit::AuditStore& audit() = 0;
  virtual ca::Ledger& ledger() = 0;
  virtual ca::IssuerRegistry& issuers() = 0;
  virtual factory::SiteRegistry& sites() = 0;
  virtual factory::ImportLedger& imports() = 0;
  virtual factory::StationRecords& station_records() = 0;
  virtual factory::EvidenceArchive& evidence() = 0;
  virtual ra::CertificateStatusLookup& certificates() = 0;
  virtual ra::BootstrapCredentialStore& credentials() = 0;
  virtual ca::RevocationStore& revocations() = 0;
  // Where the data lives, safe to print: the file path, or the DSN without its password.
  virtual std::string location() const = 0;
  // "sqlite" or "postgresql".
  virtual std::string engine() const = 0;
};

struct StoreOptions {
  std::string location;          // a file path, or a postgresql:// (postgres://) DSN
  bool full_durability = false;  // SQLite synchronous=FULL (PostgreSQL: the server's own settings)
  std::size_t pool_size = 8;     // PostgreSQL connections per process
};

// Opens (and migrates) the store `options.location` names. `clock` must outlive it.
base::Result<std::unique_ptr<Store>> open_store(const StoreOptions& options, const base::Clock& clock);

// True when `location` is a PostgreSQL DSN rather than a file path.
bool is_postgres_location(std::string_view location);
// `location` as it may be printed or logged (a DSN's password becomes "***").
std::string printable_location(std::string_view location);

}  // namespace hallmark::store
