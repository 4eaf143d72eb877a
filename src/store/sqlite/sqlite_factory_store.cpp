#include "store/sqlite/sqlite_factory_store.h"

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
}  // namespace

base::Result<std::int64_t> SqliteFactoryStore::count(const std::string& sql, const std::string& arg) const {
  std::int64_t n = 0;
  HM_CHECK(m_db.read([&]() -> base::Status {
    auto& st = m_db.statement(sql);
    if (!arg.empty()) st.bind(1, arg);
    HM_TRY(bool row, st.step());
    n = row ? st.integer(0) : 0;
    st.reset();
    return {};
  }));
  return n;
}

// --- station ----------------------------------------------------------------

base::Result<std::optional<std::string>> SqliteFactoryStore::key_owner(const std::string& fp) const {
  std::optional<std::string> out;
  HM_CHECK(m_db.read([&]() -> base::Status {
    auto& st = m_db.statement(
        "SELECT device_serial FROM certificates WHERE key_fingerprint = ? AND status <> 'pending' LIMIT 1");
    st.bind(1, fp);
    HM_TRY(bool row, st.step());
    if (row) out = st.text(0);
    st.reset();
    return {};
  }));
  return out;
}

base::Result<std::uint64_t> SqliteFactoryStore::devices_issued() const {
  HM_TRY(auto n, count("SELECT COUNT(*) FROM devices", ""));
  return static_cast<std::uint64_t>(n);
}

base::Result<std::uint64_t> SqliteFactoryStore::exported_up_to() const {
  HM_TRY(auto n, count("SELECT COALESCE(MAX(value), 0) FROM factory_station_state WHERE name = 'exported_up_to'", ""));
  return static_cast<std::uint64_t>(n);
}

base::Status SqliteFactoryStore::set_exported_up_to(std::uint64_t sequence) {
  return m_db.write_transaction([&]() -> base::Status {
    auto& st = m_db.statement(
        "INSERT INTO factory_station_state (name, value) VALUES ('exported_up_to', ?) "
        "ON CONFLICT (name) DO UPDATE SET value = excluded.value");
    st.bind(1, static_cast<std::int64_t>(sequence));
    return st.run();
  });
}

// --- challenge nonces ------------------------------------------------------

base::Status SqliteFactoryStore::add_nonce(const std::string& nonce_hex, base::TimePoint created,
                                           base::TimePoint expires) {
  return m_db.write_transaction([&]() -> base::Status {
    return m_db.statement("INSERT INTO factory_nonces (nonce, created, expires) VALUES (?, ?, ?)")
        .bind(1, nonce_hex)
        .bind(2, secs(created))
        .bind(3, secs(expires))
        .run();
  });
}

base::Result<factory::NonceUse> SqliteFactoryStore::nonce_state(const std::string& nonce_hex, base::TimePoint now) {
  auto& st = m_db.statement("SELECT expires, used FROM factory_nonces WHERE nonce = ?");
  st.bind(1, nonce_hex);
  HM_TRY(bool row, st.step());
  if (!row) return factory::NonceUse::Unknown;
  const auto expires = st.integer(0);
  const bool used = !st.is_null(1);
  st.reset();
  if (used) return factory::NonceUse::Reused;
  if (expires < secs(now)) return factory::NonceUse::Expired;
  return factory::NonceUse::Accepted;
}

base::Result<factory::NonceUse> SqliteFactoryStore::use_nonce(const std::string& nonce_hex, base::TimePoint now,
                                                              const std::string& used_by) {
  auto use = factory::NonceUse::Unknown;
  // Under the write lock (BEGIN IMMEDIATE): check and mark are one step for
  // every process sharing the station database (provision and serve).
  HM_CHECK(m_db.write_transaction([&]() -> base::Status {
    auto& st = m_db.statement("SELECT expires, used FROM factory_nonces WHERE nonce = ?");
    st.bind(1, nonce_hex);
    HM_TRY(bool row, st.step());
    if (!row) return {};
    const auto expires = st.integer(0);
    const bool used = !st.is_null(1);
    st.reset();
    if (used) {
      use = factory::NonceUse::Reused;
      return {};
    }
    if (expires < secs(now)) {
      use = factory::NonceUse::Expired;
      return {};
    }
    HM_CHECK(m_db.statement("UPDATE factory_nonces SET used = ?, used_by = ? WHERE nonce = ? AND used IS NULL")
                 .bind(1, secs(now))
                 .bind(2, used_by)
                 .bind(3, nonce_hex)
                 .run());
    use = factory::NonceUse::Accepted;
    return {};
  }));
  return use;
}

// --- evidence ---------------------------------------------------------------

base::Status SqliteFactoryStore::insert_evidence(const factory::EvidenceRecord& r) {
  HM_CHECK(check_evidence_record(r));
  return m_db
      .statement(
          "INSERT INTO evidence (digest, type, content, hardware_id, verified_at) VALUES (?,?,?,?,?) "
          "ON CONFLICT (digest) DO NOTHING")
      .bind(1, r.digest)
      .bind(2, r.type)
      .bind(3, base::ByteView(r.content))
      .bind(4, r.hardware_id)
      .bind(5, secs(r.verified_at))
      .run();
}

base::Status SqliteFactoryStore::add_evidence(const std::vector<factory::EvidenceRecord>& records) {
  if (records.empty()) return {};
  return m_db.write_transaction([&]() -> base::Status {
    for (const auto& r : records) HM_CHECK(insert_evidence(r));
    return {};
  });
}

base::Result<std::optional<factory::EvidenceRecord>> SqliteFactoryStore::find_evidence(
    const std::string& digest) const {
  std::optional<factory::EvidenceRecord> out;
  HM_CHECK(m_db.read([&]() -> base::Status {
    auto& st = m_db.statement("SELECT digest, type, content, hardware_id, verified_at FROM evidence WHERE digest = ?");
    st.bind(1, digest);
    HM_TRY(bool row, st.step());
    if (row) out = factory::EvidenceRecord{st.text(0), st.text(1), st.blob(2), st.text(3), tp(st.integer(4))};
    st.reset();
    return {};
  }));
  return out;
}

base::Result<std::optional<std::string>> SqliteFactoryStore::hardware_owner(const std::string& hardware_id,
                                                                            const std::string& device_serial) const {
  std::optional<std::string> out;
  if (hardware_id.empty()) return out;
  HM_CHECK(m_db.read([&]() -> base::Status {
    auto& st = m_db.statement(
        "SELECT c.device_serial FROM evidence e JOIN certificates c ON c.evidence_digest = e.digest "
        "WHERE e.hardware_id = ? AND c.device_serial <> ? AND c.status <> 'pending' "
        "ORDER BY c.created, c.rowid LIMIT 1");
    st.bind(1, hardware_id).bind(2, device_serial);
    HM_TRY(bool row, st.step());
    if (row) out = st.text(0);
    st.reset();
    return {};
  }));
  return out;
}

// --- sites ------------------------------------------------------------------

base::Status SqliteFactoryStore::add_site(const factory::SiteRecord& s,
                                          const std::vector<factory::StationRecord>& stations) {
  return m_db.write_transaction([&]() -> base::Status {
    auto& st = m_db.statement("INSERT INTO factory_sites (id, status, scope, created, retired) VALUES (?,?,?,?,NULL)");
    st.bind(1, s.id).bind(2, s.status).bind(3, s.scope).bind(4, secs(s.created));
    auto r = st.run();
    if (!r.ok() && r.error().code == ErrorCode::AlreadyExists) {
      return make_error(ErrorCode::AlreadyExists, "site '" + s.id + "' already exists");
    }
    HM_CHECK(r);
    for (const auto& x : stations) {
      auto& ins = m_db.statement(
          "INSERT INTO factory_stations (site, station, statement, signature, last_sequence, last_hash) "
          "VALUES (?,?,?,?,0,X'')");
      ins.bind(1, x.site)
          .bind(2, static_cast<std::int64_t>(x.station))
          .bind(3, x.statement)
          .bind(4, base::ByteView(x.signature));
      HM_CHECK(ins.run());
    }
    return {};
  });
}

base::Result<std::vector<factory::SiteRecord>> SqliteFactoryStore::sites() const {
  std::vector<factory::SiteRecord> out;
  HM_CHECK(m_db.read([&]() -> base::Status {
    auto& st = m_db.statement("SELECT id, status, scope, created, retired FROM factory_sites ORDER BY created, id");
    for (;;) {
      HM_TRY(bool row, st.step());
      if (!row) break;
      factory::SiteRecord s{st.text(0), st.text(1), st.text(2), tp(st.integer(3)), std::nullopt};
      if (!st.is_null(4)) s.retired = tp(st.integer(4));
      out.push_back(std::move(s));
    }
    st.reset();
    return {};
  }));
  return out;
}

base::Result<std::optional<factory::SiteRecord>> SqliteFactoryStore::find_site(const std::string& id) const {
  HM_TRY(auto all, sites());
  for (auto& s : all) {
    if (s.id == id) return std::optional<factory::SiteRecord>(std::move(s));
  }
  return std::optional<factory::SiteRecord>{};
}

base::Result<std::vector<factory::StationRecord>> SqliteFactoryStore::stations(const std::string& site) const {
  std::vector<factory::StationRecord> out;
  HM_CHECK(m_db.read([&]() -> base::Status {
    auto& st = m_db.statement(
        "SELECT site, station, statement, signature, last_sequence, last_hash FROM factory_stations "
        "WHERE site = ? ORDER BY station");
    st.bind(1, site);
    for (;;) {
      HM_TRY(bool row, st.step());
      if (!row) break;
      out.push_back({st.text(0), static_cast<int>(st.integer(1)), st.text(2), st.blob(3),
                     static_cast<std::uint64_t>(st.integer(4)), st.blob(5)});
    }
    st.reset();
    return {};
  }));
  return out;
}

base::Status SqliteFactoryStore::retire_site(const std::string& id, base::TimePoint when) {
  return m_db.write_transaction([&]() -> base::Status {
    auto& st =
        m_db.statement("UPDATE factory_sites SET status = 'retired', retired = ? WHERE id = ? AND status = 'active'");
    st.bind(1, secs(when)).bind(2, id);
    HM_CHECK(st.run());
    auto& ch = m_db.statement("SELECT changes()");
    HM_TRY(bool row, ch.step());
    const auto changed = row ? ch.integer(0) : 0;
    ch.reset();
    if (changed != 1) return make_error(ErrorCode::NotFound, "no active site '" + id + "'");
    auto& is = m_db.statement("UPDATE issuers SET status = 'retired' WHERE name = ?");
    is.bind(1, "site:" + id);
    return is.run();
  });
}

// --- import -----------------------------------------------------------------

base::Result<std::optional<base::Bytes>> SqliteFactoryStore::station_record_hash(const std::string& site, int station,
                                                                                 std::uint64_t sequence) const {
  std::optional<base::Bytes> out;
  HM_CHECK(m_db.read([&]() -> base::Status {
    auto& st =
        m_db.statement("SELECT hash FROM factory_station_records WHERE site = ? AND station = ? AND sequence = ?");
    st.bind(1, site).bind(2, static_cast<std::int64_t>(station)).bind(3, static_cast<std::int64_t>(sequence));
    HM_TRY(bool row, st.step());
    if (row) out = st.blob(0);
    st.reset();
    return {};
  }));
  return out;
}

base::Status SqliteFactoryStore::add_station_records(
    const std::string& site, int station, const std::vector<std::pair<std::uint64_t, base::Bytes>>& records) {
  return m_db.write_transaction([&]() -> base::Status {
    std::uint64_t last = 0;
    base::Bytes last_hash;
    for (const auto& [seq, hash] : records) {
      auto& st = m_db.statement(
          "INSERT INTO factory_station_records (site, station, sequence, hash) VALUES (?,?,?,?) "
          "ON CONFLICT (site, station, sequence) DO NOTHING");
      st.bind(1, site)
          .bind(2, static_cast<std::int64_t>(station))
          .bind(3, static_cast<std::int64_t>(seq))
          .bind(4, base::ByteView(hash));
      HM_CHECK(st.run());
      if (seq >= last) {
        last = seq;
        last_hash = hash;
      }
    }
    auto& up = m_db.statement(
        "UPDATE factory_stations SET last_sequence = ?, last_hash = ? WHERE site = ? AND station = ? AND last_sequence "
        "< ?");
    up.bind(1, static_cast<std::int64_t>(last))
        .bind(2, base::ByteView(last_hash))
        .bind(3, site)
        .bind(4, static_cast<std::int64_t>(station))
        .bind(5, static_cast<std::int64_t>(last));
    return up.run();
  });
}

base::Result<bool> SqliteFactoryStore::certificate_known(const std::string& serial) const {
  HM_TRY(auto n, count("SELECT COUNT(*) FROM certificates WHERE serial = ?", serial));
  return n > 0;
}

base::Result<std::optional<factory::KnownDevice>> SqliteFactoryStore::device(const std::string& device_serial) const {
  std::optional<factory::KnownDevice> out;
  HM_CHECK(m_db.read([&]() -> base::Status {
    auto& st = m_db.statement(
        "SELECT c.issuer, d.idevid_serial FROM devices d JOIN certificates c ON c.serial = d.idevid_serial "
        "WHERE d.serial = ?");
    st.bind(1, device_serial);
    HM_TRY(bool row, st.step());
    if (row) out = factory::KnownDevice{st.text(0), st.text(1)};
    st.reset();
    return {};
  }));
  return out;
}

base::Result<std::optional<std::string>> SqliteFactoryStore::key_owner(const std::string& fp,
                                                                       const std::string& device_serial) const {
  std::optional<std::string> out;
  HM_CHECK(m_db.read([&]() -> base::Status {
    auto& st = m_db.statement(
        "SELECT device_serial FROM certificates WHERE key_fingerprint = ? AND device_serial <> ? "
        "AND status <> 'pending' LIMIT 1");
    st.bind(1, fp).bind(2, device_serial);
    HM_TRY(bool row, st.step());
    if (row) out = st.text(0);
    st.reset();
    return {};
  }));
  return out;
}

base::Result<std::uint64_t> SqliteFactoryStore::devices_with_origin(const std::string& prefix) const {
  // substr instead of LIKE: device serials and site ids may contain '%' or '_'.
  std::int64_t n = 0;
  HM_CHECK(m_db.read([&]() -> base::Status {
    auto& st = m_db.statement(
        "SELECT COUNT(DISTINCT device_serial) FROM certificates WHERE profile = 'idevid' AND status <> 'pending' "
        "AND substr(origin, 1, ?) = ?");
    st.bind(1, static_cast<std::int64_t>(prefix.size())).bind(2, prefix);
    HM_TRY(bool row, st.step());
    n = row ? st.integer(0) : 0;
    st.reset();
    return {};
  }));
  return static_cast<std::uint64_t>(n);
}

base::Status SqliteFactoryStore::import_certificate(const ca::LedgerEntry& e, const audit::Event& event,
                                                    const factory::EvidenceRecord* evidence) {
  return m_db.write_transaction([&]() -> base::Status {
    if (evidence != nullptr) HM_CHECK(insert_evidence(*evidence));
    // The station recorded the TBS before signing; at the operator only the
    // signed certificate exists, so tbs stays empty.
    auto& st = m_db.statement(
        "INSERT INTO certificates (serial, issuer, profile, device_serial, product, channel, origin, evidence_digest, "
        "key_fingerprint, subject, tbs, der, status, created, not_after) VALUES "
        "(?,?,?,?,?,?,?,?,?,?,X'',?,'issued',?,?)");
    st.bind(1, e.serial)
        .bind(2, e.issuer)
        .bind(3, e.profile)
        .bind(4, e.device_serial)
        .bind(5, e.product)
        .bind(6, std::string(audit::to_string(e.channel)))
        .bind(7, e.origin)
        .bind(8, e.evidence_digest)
        .bind(9, e.key_fingerprint)
        .bind(10, e.subject)
        .bind(11, base::ByteView(e.der))
        .bind(12, secs(e.created))
        .bind(13, secs(e.not_after));
    HM_CHECK(st.run());
    if (e.profile == "idevid" && !e.device_serial.empty()) {
      auto& dev = m_db.statement(
          "INSERT INTO devices (serial, product, idevid_serial, created) VALUES (?,?,?,?) ON CONFLICT (serial) DO "
          "NOTHING");
      dev.bind(1, e.device_serial).bind(2, e.product).bind(3, e.serial).bind(4, secs(e.created));
      HM_CHECK(dev.run());
    }
    HM_TRY(auto rec, m_audit.append_in_transaction(event, m_clock.now()));
    (void)rec;
    return {};
  });
}

}  // namespace hallmark::store
