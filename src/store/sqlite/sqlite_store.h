// The SQLite implementations of the storage ports: ca::Ledger,
// ca::IssuerRegistry and audit::AuditStore, sharing one SqliteDatabase so that a
// ledger step and its audit record commit in one transaction.
#pragma once

#include <memory>

#include "audit/audit_store.h"
#include "ca/ledger.h"
#include "store/sqlite/sqlite_database.h"

namespace hallmark::store {

class SqliteAuditStore final : public audit::AuditStore {
 public:
  explicit SqliteAuditStore(SqliteDatabase& db) : m_db(db) {}

  base::Result<audit::Record> append(const audit::Event& event, base::TimePoint time) override;
  base::Result<std::vector<audit::Record>> records(std::uint64_t from, std::size_t limit) const override;
  base::Result<std::optional<audit::Record>> head() const override;
  base::Status add_checkpoint(const audit::Checkpoint& checkpoint) override;
  base::Result<std::vector<audit::Checkpoint>> checkpoints() const override;

  // Appends inside a transaction the caller already holds.
  base::Result<audit::Record> append_in_transaction(const audit::Event& event, base::TimePoint time);

 private:
  base::Result<std::optional<audit::Record>> head_unlocked() const;
  SqliteDatabase& m_db;
};

class SqliteLedger final : public ca::Ledger, public ca::IssuerRegistry {
 public:
  SqliteLedger(SqliteDatabase& db, SqliteAuditStore& audit, const base::Clock& clock)
      : m_db(db), m_audit(audit), m_clock(clock) {}

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
  // The statements of one reservation / completion, inside the caller's write transaction.
  base::Status insert_pending(const ca::LedgerEntry& e, const audit::Event& signing);
  base::Status store_signed(const std::string& serial, base::ByteView der, const audit::Event& signed_event);
  base::Result<std::vector<ca::LedgerEntry>> select(const std::string& where, const std::string& arg,
                                                    std::int64_t limit = -1) const;
  SqliteDatabase& m_db;
  SqliteAuditStore& m_audit;
  const base::Clock& m_clock;
};

}  // namespace hallmark::store
