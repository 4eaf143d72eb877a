#include "store/store.h"

#include "store/postgres/pg_database.h"
#include "store/postgres/pg_enrollment_store.h"
#include "store/postgres/pg_factory_store.h"
#include "store/postgres/pg_revocation_store.h"
#include "store/postgres/pg_store.h"
#include "store/sqlite/sqlite_database.h"
#include "store/sqlite/sqlite_enrollment_store.h"
#include "store/sqlite/sqlite_factory_store.h"
#include "store/sqlite/sqlite_revocation_store.h"
#include "store/sqlite/sqlite_store.h"

namespace hallmark::store {

namespace {

// One class per engine: the database, then every port over it. Members are
// declared in dependency order so they are destroyed before the database.
template <class Database, class Audit, class Ledger, class Factory, class Enrollment, class Revocation>
class EngineStore final : public Store {
 public:
  EngineStore(std::unique_ptr<Database> db, const base::Clock& clock, std::string location, std::string engine)
      : m_db(std::move(db)),
        m_audit(*m_db),
        m_ledger(*m_db, m_audit, clock),
        m_factory(*m_db, m_audit, clock),
        m_enrollment(*m_db),
        m_revocations(*m_db, m_audit),
        m_location(std::move(location)),
        m_engine(std::move(engine)) {}

  audit::AuditStore& audit() override { return m_audit; }
  ca::Ledger& ledger() override { return m_ledger; }
  ca::IssuerRegistry& issuers() override { return m_ledger; }
  factory::SiteRegistry& sites() override { return m_factory; }
  factory::ImportLedger& imports() override { return m_factory; }
  factory::StationRecords& station_records() override { return m_factory; }
  factory::EvidenceArchive& evidence() override { return m_factory; }
  ra::CertificateStatusLookup& certificates() override { return m_enrollment; }
  ra::BootstrapCredentialStore& credentials() override { return m_enrollment; }
  ca::RevocationStore& revocations() override { return m_revocations; }
  std::string location() const override { return m_location; }
  std::string engine() const override { return m_engine; }

 private:
  std::unique_ptr<Database> m_db;
  Audit m_audit;
  Ledger m_ledger;
  Factory m_factory;
  Enrollment m_enrollment;
  Revocation m_revocations;
  std::string m_location;
  std::string m_engine;
};

using SqliteStore = EngineStore<SqliteDatabase, SqliteAuditStore, SqliteLedger, SqliteFactoryStore,
                                SqliteEnrollmentStore, SqliteRevocationStore>;
using PostgresStore =
    EngineStore<PgDatabase, PgAuditStore, PgLedger, PgFactoryStore, PgEnrollmentStore, PgRevocationStore>;

}  // namespace

bool is_postgres_location(std::string_view location) {
  return is_postgres_dsn(location);
}

std::string printable_location(std::string_view location) {
  return is_postgres_dsn(location) ? redact_dsn(location) : std::string(location);
}

base::Result<std::unique_ptr<Store>> open_store(const StoreOptions& options, const base::Clock& clock) {
  if (is_postgres_dsn(options.location)) {
    HM_TRY(auto db, PgDatabase::open(options.location, options.pool_size));
    auto display = db->display_name();
    return std::unique_ptr<Store>(std::make_unique<PostgresStore>(std::move(db), clock, display, "postgresql"));
  }
  HM_TRY(auto db,
         SqliteDatabase::open(options.location, options.full_durability ? Durability::Full : Durability::Normal));
  return std::unique_ptr<Store>(std::make_unique<SqliteStore>(std::move(db), clock, options.location, "sqlite"));
}

}  // namespace hallmark::store
