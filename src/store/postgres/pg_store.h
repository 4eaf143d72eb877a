// The PostgreSQL implementations of ca::Ledger, ca::IssuerRegistry and
// audit::AuditStore, twins of store/sqlite/sqlite_store.h. A ledger step and its
// audit record commit in one transaction.
//
// One audit chain for every node: each appending transaction first takes the
// transaction-scoped advisory lock kPgAuditLock, then reads the head. Under READ
// COMMITTED every statement sees what committed before it started, so the head
// read after the lock is the latest one, and the `sequence` primary key would
// refuse a fork even if a writer skipped the lock.
#pragma once

#include "audit/audit_store.h"
#include "base/clock.h"
#include "ca/ledger.h"
#include "store/postgres/pg_database.h"

namespace hallmark::store {

class PgAuditStore final : public audit::AuditStore {
 public:
  explicit PgAuditStore(PgDatabase& db) : m_db(db) {}

  base::Result<audit::Record> append(const audit::Event& event, base::TimePoint time) override;
  base::Result<std::vector<audit::Record>> records(std::uint64_t from, std::size_t limit) const override;
  base::Result<std::optional<audit::Record>> head() const override;
  base::Status add_checkpoint(const audit::Checkpoint& checkpoint) override;
  base::Result<std::vector<audit::Checkpoint>> checkpoints() const override;

  // Appends inside a transaction the caller holds on `c` (takes the chain lock).
  base::Result<audit::Record> append_in_transaction(PgConnection& c, const audit::Event& event, base::TimePoint time);

 private:
  PgDatabase& m_db;
};

class PgLedger final : public ca::Ledger, public ca::IssuerRegistry {
 public:
  PgLedger(PgDatabase& db, PgAuditStore& audit, const base::Clock& clock) : m_db(db), m_audit(audit), m_clock(clock) {}

  base::Status reserve(const ca::LedgerEntry& pending, const audit::Event& signing) override;
  base::Status complete(const std::string& serial, base::ByteView der, const audit::Event& signed_event) override;
  base::Status reserve_all(std::span<const ca::Reservation> batch) override;
  base::Status complete_all(std::span<const ca::Completion> batch) override;
  base::Result<std::optional<ca::LedgerEntry>> find(const std::string& serial) const override;
  base::Result<std::vector<ca::LedgerEntry>> list(std::string_view status, std::size_t limit) const override;
  base::Result<std::vector<ca::LedgerEntry>> by_device(const std::string& device_serial) const override;

  base::Status add_issuer(const ca::IssuerRecord& issuer) override;
  base::Result<std::optional<ca::IssuerRecord>> find_issuer(const std::string& name) const override;
  base::Result<std::vector<ca::IssuerRecord>> issuers() const override;

 private:
  // The statements of one reservation / completion, inside the caller's transaction.
  base::Status insert_pending(PgConnection& c, const ca::LedgerEntry& e, const audit::Event& signing);
  base::Status store_signed(PgConnection& c, const std::string& serial, base::ByteView der,
                            const audit::Event& signed_event);
  base::Result<std::vector<ca::LedgerEntry>> select(const std::string& where, const std::vector<PgParam>& params) const;
  PgDatabase& m_db;
  PgAuditStore& m_audit;
  const base::Clock& m_clock;
};

}  // namespace hallmark::store
