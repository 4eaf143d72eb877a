// SQLite implementations of the factory ports (factory/ports.h): the station's
// records (key owners, quota used, export position) and the operator's site
// registry and import ledger. Shares the SqliteDatabase (and so the transaction
// and audit chain) of the CA ledger.
#pragma once

#include "factory/ports.h"
#include "store/sqlite/sqlite_database.h"
#include "store/sqlite/sqlite_store.h"

namespace hallmark::store {

class SqliteFactoryStore final : public factory::StationRecords,
                                 public factory::SiteRegistry,
                                 public factory::ImportLedger,
                                 public factory::ChallengeNonces,
                                 public factory::EvidenceArchive {
 public:
  SqliteFactoryStore(SqliteDatabase& db, SqliteAuditStore& audit, const base::Clock& clock)
      : m_db(db), m_audit(audit), m_clock(clock) {}

  // StationRecords
  base::Result<std::optional<std::string>> key_owner(const std::string& key_fingerprint) const override;
  base::Result<std::uint64_t> devices_issued() const override;
  base::Result<std::uint64_t> exported_up_to() const override;
  base::Status set_exported_up_to(std::uint64_t sequence) override;

  // ChallengeNonces
  base::Status add_nonce(const std::string& nonce_hex, base::TimePoint created, base::TimePoint expires) override;
  base::Result<factory::NonceUse> nonce_state(const std::string& nonce_hex, base::TimePoint now) override;
  base::Result<factory::NonceUse> use_nonce(const std::string& nonce_hex, base::TimePoint now,
                                            const std::string& used_by) override;

  // EvidenceArchive
  base::Status add_evidence(const std::vector<factory::EvidenceRecord>& records) override;
  base::Result<std::optional<factory::EvidenceRecord>> find_evidence(const std::string& digest) const override;
  base::Result<std::optional<std::string>> hardware_owner(const std::string& hardware_id,
                                                          const std::string& device_serial) const override;

  // SiteRegistry
  base::Status add_site(const factory::SiteRecord& site, const std::vector<factory::StationRecord>& stations) override;
  base::Result<std::vector<factory::SiteRecord>> sites() const override;
  base::Result<std::optional<factory::SiteRecord>> find_site(const std::string& id) const override;
  base::Result<std::vector<factory::StationRecord>> stations(const std::string& site) const override;
  base::Status retire_site(const std::string& id, base::TimePoint when) override;

  // ImportLedger
  base::Result<std::optional<base::Bytes>> station_record_hash(const std::string& site, int station,
                                                               std::uint64_t sequence) const override;
  base::Status add_station_records(const std::string& site, int station,
                                   const std::vector<std::pair<std::uint64_t, base::Bytes>>& records) override;
  base::Result<bool> certificate_known(const std::string& cert_serial) const override;
  base::Result<std::optional<factory::KnownDevice>> device(const std::string& device_serial) const override;
  base::Result<std::optional<std::string>> key_owner(const std::string& key_fingerprint,
                                                     const std::string& device_serial) const override;
  base::Result<std::uint64_t> devices_with_origin(const std::string& origin_prefix) const override;
  base::Status import_certificate(const ca::LedgerEntry& entry, const audit::Event& event,
                                  const factory::EvidenceRecord* evidence) override;

 private:
  base::Result<std::int64_t> count(const std::string& sql, const std::string& arg) const;
  base::Status insert_evidence(const factory::EvidenceRecord& record);
  SqliteDatabase& m_db;
  SqliteAuditStore& m_audit;
  const base::Clock& m_clock;
};

}  // namespace hallmark::store
