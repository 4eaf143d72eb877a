#include "store/postgres/pg_factory_store.h"

#include "store/evidence_check.h"

namespace hallmark::store {

using base::ErrorCode;
using base::make_error;

namespace {
std::int64_t secs(base::TimePoint t) {
  return t.time_since_epoch().count();
}
base::TimePoint tp(std::int64_t s) {
  return base::TimePoint{std::chrono::seconds{s}};
}

base::Status insert_evidence(PgConnection& c, const factory::EvidenceRecord& r) {
  HM_CHECK(check_evidence_record(r));
  HM_TRY(auto ins, c.exec("INSERT INTO evidence (digest, type, content, hardware_id, verified_at) VALUES "
                          "($1,$2,$3,$4,$5) ON CONFLICT (digest) DO NOTHING",
                          {r.digest, r.type, base::ByteView(r.content), r.hardware_id, secs(r.verified_at)}));
  (void)ins;
  return {};
}
}  // namespace

base::Result<std::optional<PgRows>> PgFactoryStore::query(const std::string& sql,
                                                          const std::vector<PgParam>& params) const {
  std::optional<PgRows> out;
  HM_CHECK(m_db.read([&](PgConnection& c) -> base::Status {
    HM_TRY(auto rows, c.exec(sql, params));
    out.emplace(std::move(rows));
    return {};
  }));
  return out;
}

base::Result<std::int64_t> PgFactoryStore::count(const std::string& sql, const std::vector<PgParam>& params) const {
  HM_TRY(auto rows, query(sql, params));
  return rows->empty() ? 0 : rows->integer(0, 0);
}

// --- station ----------------------------------------------------------------

base::Result<std::optional<std::string>> PgFactoryStore::key_owner(const std::string& fp) const {
  HM_TRY(auto rows, query("SELECT device_serial FROM certificates WHERE key_fingerprint = $1 AND status <> 'pending' "
                          "ORDER BY created, ord LIMIT 1",
                          {fp}));
  if (rows->empty()) return std::optional<std::string>{};
  return std::optional<std::string>(rows->text(0, 0));
}

base::Result<std::uint64_t> PgFactoryStore::devices_issued() const {
  HM_TRY(auto n, count("SELECT COUNT(*) FROM devices", {}));
  return static_cast<std::uint64_t>(n);
}

base::Result<std::uint64_t> PgFactoryStore::exported_up_to() const {
  HM_TRY(auto n, count("SELECT COALESCE(MAX(value), 0) FROM factory_station_state WHERE name = 'exported_up_to'", {}));
  return static_cast<std::uint64_t>(n);
}

base::Status PgFactoryStore::set_exported_up_to(std::uint64_t sequence) {
  return m_db.transaction([&](PgConnection& c) -> base::Status {
    HM_TRY(auto r, c.exec("INSERT INTO factory_station_state (name, value) VALUES ('exported_up_to', $1) "
                          "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                          {static_cast<std::int64_t>(sequence)}));
    (void)r;
    return {};
  });
}

// --- evidence ---------------------------------------------------------------

base::Status PgFactoryStore::add_evidence(const std::vector<factory::EvidenceRecord>& records) {
  if (records.empty()) return {};
  return m_db.transaction([&](PgConnection& c) -> base::Status {
    for (const auto& r : records) HM_CHECK(insert_evidence(c, r));
    return {};
  });
}

base::Result<std::optional<factory::EvidenceRecord>> PgFactoryStore::find_evidence(const std::string& digest) const {
  HM_TRY(auto rows,
         query("SELECT digest, type, content, hardware_id, verified_at FROM evidence WHERE digest = $1", {digest}));
  if (rows->empty()) return std::optional<factory::EvidenceRecord>{};
  return std::optional<factory::EvidenceRecord>(factory::EvidenceRecord{
      rows->text(0, 0), rows->text(0, 1), rows->blob(0, 2), rows->text(0, 3), tp(rows->integer(0, 4))});
}

base::Result<std::optional<std::string>> PgFactoryStore::hardware_owner(const std::string& hardware_id,
                                                                        const std::string& device_serial) const {
  if (hardware_id.empty()) return std::optional<std::string>{};
  HM_TRY(auto rows, query("SELECT c.device_serial FROM evidence e JOIN certificates c ON c.evidence_digest = e.digest "
                          "WHERE e.hardware_id = $1 AND c.device_serial <> $2 AND c.status <> 'pending' "
                          "ORDER BY c.created, c.ord LIMIT 1",
                          {hardware_id, device_serial}));
  if (rows->empty()) return std::optional<std::string>{};
  return std::optional<std::string>(rows->text(0, 0));
}

// --- sites ------------------------------------------------------------------

base::Status PgFactoryStore::add_site(const factory::SiteRecord& s,
                                      const std::vector<factory::StationRecord>& stations) {
  return m_db.transaction([&](PgConnection& c) -> base::Status {
    auto r = c.exec("INSERT INTO factory_sites (id, status, scope, created, retired) VALUES ($1,$2,$3,$4,NULL)",
                    {s.id, s.status, s.scope, secs(s.created)});
    if (!r.ok() && r.error().code == ErrorCode::AlreadyExists) {
      return make_error(ErrorCode::AlreadyExists, "site '" + s.id + "' already exists");
    }
    if (!r.ok()) return r.error();
    for (const auto& x : stations) {
      HM_TRY(auto ins,
             c.exec("INSERT INTO factory_stations (site, station, statement, signature, last_sequence, "
                    "last_hash) VALUES ($1,$2,$3,$4,0,'')",
                    {x.site, static_cast<std::int64_t>(x.station), x.statement, base::ByteView(x.signature)}));
      (void)ins;
    }
    return {};
  });
}

base::Result<std::vector<factory::SiteRecord>> PgFactoryStore::sites() const {
  HM_TRY(auto rows, query("SELECT id, status, scope, created, retired FROM factory_sites ORDER BY created, id", {}));
  std::vector<factory::SiteRecord> out;
  for (int i = 0; i < rows->size(); ++i) {
    factory::SiteRecord s{rows->text(i, 0), rows->text(i, 1), rows->text(i, 2), tp(rows->integer(i, 3)), std::nullopt};
    if (!rows->is_null(i, 4)) s.retired = tp(rows->integer(i, 4));
    out.push_back(std::move(s));
  }
  return out;
}

base::Result<std::optional<factory::SiteRecord>> PgFactoryStore::find_site(const std::string& id) const {
  HM_TRY(auto all, sites());
  for (auto& s : all) {
    if (s.id == id) return std::optional<factory::SiteRecord>(std::move(s));
  }
  return std::optional<factory::SiteRecord>{};
}

base::Result<std::vector<factory::StationRecord>> PgFactoryStore::stations(const std::string& site) const {
  HM_TRY(auto rows, query("SELECT site, station, statement, signature, last_sequence, last_hash FROM factory_stations "
                          "WHERE site = $1 ORDER BY station",
                          {site}));
  std::vector<factory::StationRecord> out;
  for (int i = 0; i < rows->size(); ++i) {
    out.push_back({rows->text(i, 0), static_cast<int>(rows->integer(i, 1)), rows->text(i, 2), rows->blob(i, 3),
                   static_cast<std::uint64_t>(rows->integer(i, 4)), rows->blob(i, 5)});
  }
  return out;
}

base::Status PgFactoryStore::retire_site(const std::string& id, base::TimePoint when) {
  return m_db.transaction([&](PgConnection& c) -> base::Status {
    HM_TRY(auto up, c.exec("UPDATE factory_sites SET status = 'retired', retired = $1 WHERE id = $2 AND status = "
                           "'active'",
                           {secs(when), id}));
    if (up.affected() != 1) return make_error(ErrorCode::NotFound, "no active site '" + id + "'");
    HM_TRY(auto is, c.exec("UPDATE issuers SET status = 'retired' WHERE name = $1", {"site:" + id}));
    (void)is;
    return {};
  });
}

// --- import -----------------------------------------------------------------

base::Result<std::optional<base::Bytes>> PgFactoryStore::station_record_hash(const std::string& site, int station,
                                                                             std::uint64_t sequence) const {
  HM_TRY(auto rows, query("SELECT hash FROM factory_station_records WHERE site = $1 AND station = $2 AND sequence = $3",
                          {site, static_cast<std::int64_t>(station), static_cast<std::int64_t>(sequence)}));
  if (rows->empty()) return std::optional<base::Bytes>{};
  return std::optional<base::Bytes>(rows->blob(0, 0));
}

base::Status PgFactoryStore::add_station_records(const std::string& site, int station,
                                                 const std::vector<std::pair<std::uint64_t, base::Bytes>>& records) {
  return m_db.transaction([&](PgConnection& c) -> base::Status {
    std::uint64_t last = 0;
    base::Bytes last_hash;
    for (const auto& [seq, hash] : records) {
      HM_TRY(auto ins,
             c.exec("INSERT INTO factory_station_records (site, station, sequence, hash) VALUES "
                    "($1,$2,$3,$4) ON CONFLICT (site, station, sequence) DO NOTHING",
                    {site, static_cast<std::int64_t>(station), static_cast<std::int64_t>(seq), base::ByteView(hash)}));
      (void)ins;
      if (seq >= last) {
        last = seq;
        last_hash = hash;
      }
    }
    HM_TRY(auto up, c.exec("UPDATE factory_stations SET last_sequence = $1, last_hash = $2 WHERE site = $3 AND "
                           "station = $4 AND last_sequence < $1",
                           {static_cast<std::int64_t>(last), base::ByteView(last_hash), site,
                            static_cast<std::int64_t>(station)}));
    (void)up;
    return {};
  });
}

base::Result<bool> PgFactoryStore::certificate_known(const std::string& serial) const {
  HM_TRY(auto n, count("SELECT COUNT(*) FROM certificates WHERE serial = $1", {serial}));
  return n > 0;
}

base::Result<std::optional<factory::KnownDevice>> PgFactoryStore::device(const std::string& device_serial) const {
  HM_TRY(auto rows, query("SELECT c.issuer, d.idevid_serial FROM devices d JOIN certificates c ON c.serial = "
                          "d.idevid_serial WHERE d.serial = $1",
                          {device_serial}));
  if (rows->empty()) return std::optional<factory::KnownDevice>{};
  return std::optional<factory::KnownDevice>(factory::KnownDevice{rows->text(0, 0), rows->text(0, 1)});
}

base::Result<std::optional<std::string>> PgFactoryStore::key_owner(const std::string& fp,
                                                                   const std::string& device_serial) const {
  HM_TRY(auto rows, query("SELECT device_serial FROM certificates WHERE key_fingerprint = $1 AND device_serial <> $2 "
                          "AND status <> 'pending' ORDER BY created, ord LIMIT 1",
                          {fp, device_serial}));
  if (rows->empty()) return std::optional<std::string>{};
  return std::optional<std::string>(rows->text(0, 0));
}

base::Result<std::uint64_t> PgFactoryStore::devices_with_origin(const std::string& prefix) const {
  // starts_with instead of LIKE: device serials and site ids may contain '%' or '_'.
  HM_TRY(auto n, count("SELECT COUNT(DISTINCT device_serial) FROM certificates WHERE profile = 'idevid' AND status <> "
                       "'pending' AND starts_with(origin, $1)",
                       {prefix}));
  return static_cast<std::uint64_t>(n);
}

base::Status PgFactoryStore::import_certificate(const ca::LedgerEntry& e, const audit::Event& event,
                                                const factory::EvidenceRecord* evidence) {
  return m_db.transaction([&](PgConnection& c) -> base::Status {
    if (evidence != nullptr) HM_CHECK(insert_evidence(c, *evidence));
    // The station recorded the TBS before signing; at the operator only the
    // signed certificate exists, so tbs stays empty.
    HM_TRY(auto ins, c.exec("INSERT INTO certificates (serial, issuer, profile, device_serial, product, channel, "
                            "origin, evidence_digest, key_fingerprint, subject, tbs, der, status, created, not_after) "
                            "VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,'',$11,'issued',$12,$13)",
                            {e.serial, e.issuer, e.profile, e.device_serial, e.product,
                             std::string(audit::to_string(e.channel)), e.origin, e.evidence_digest, e.key_fingerprint,
                             e.subject, base::ByteView(e.der), secs(e.created), secs(e.not_after)}));
    (void)ins;
    if (e.profile == "idevid" && !e.device_serial.empty()) {
      HM_TRY(auto dev, c.exec("INSERT INTO devices (serial, product, idevid_serial, created) VALUES ($1,$2,$3,$4) ON "
                              "CONFLICT (serial) DO NOTHING",
                              {e.device_serial, e.product, e.serial, secs(e.created)}));
      (void)dev;
    }
    HM_TRY(auto rec, m_audit.append_in_transaction(c, event, m_clock.now()));
    (void)rec;
    return {};
  });
}

}  // namespace hallmark::store
