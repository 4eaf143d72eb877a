#include "store/sqlite/sqlite_store.h"

namespace hallmark::store {

using base::ErrorCode;
using base::make_error;

namespace {

std::int64_t seconds(base::TimePoint t) {
  return t.time_since_epoch().count();
}
base::TimePoint time_point(std::int64_t s) {
  return base::TimePoint{std::chrono::seconds{s}};
}

constexpr char kRecordColumns[] =
    "sequence, time, actor, channel, action, cert_serial, profile, evidence_digest, detail, prev_hash, hash";

base::Result<audit::Record> read_record(Statement& st) {
  audit::Record r;
  r.sequence = static_cast<std::uint64_t>(st.integer(0));
  r.time = time_point(st.integer(1));
  r.event.actor = st.text(2);
  auto channel = audit::parse_channel(st.text(3));
  if (!channel.ok()) {
    return make_error(ErrorCode::Tampered, "audit record " + std::to_string(r.sequence) + " has an unknown channel");
  }
  r.event.channel = channel.value();
  r.event.action = st.text(4);
  r.event.cert_serial = st.text(5);
  r.event.profile = st.text(6);
  r.event.evidence_digest = st.text(7);
  r.event.detail = st.text(8);
  r.prev_hash = st.blob(9);
  r.hash = st.blob(10);
  return r;
}

constexpr char kEntryColumns[] =
    "serial, issuer, profile, device_serial, product, channel, origin, evidence_digest, key_fingerprint, "
    "subject, tbs, der, status, created, not_after";

ca::LedgerEntry read_entry(Statement& st) {
  ca::LedgerEntry e;
  e.serial = st.text(0);
  e.issuer = st.text(1);
  e.profile = st.text(2);
  e.device_serial = st.text(3);
  e.product = st.text(4);
  e.channel = audit::parse_channel(st.text(5)).ok() ? audit::parse_channel(st.text(5)).value() : audit::Channel::Admin;
  e.origin = st.text(6);
  e.evidence_digest = st.text(7);
  e.key_fingerprint = st.text(8);
  e.subject = st.text(9);
  e.tbs = st.blob(10);
  e.der = st.blob(11);
  const auto status = st.text(12);
  e.status = status == "issued"    ? ca::CertificateStatus::Issued
             : status == "revoked" ? ca::CertificateStatus::Revoked
                                   : ca::CertificateStatus::Pending;
  e.created = time_point(st.integer(13));
  e.not_after = time_point(st.integer(14));
  return e;
}

}  // namespace

// --- audit ---------------------------------------------------------------

base::Result<std::optional<audit::Record>> SqliteAuditStore::head_unlocked() const {
  auto& st =
      m_db.statement(std::string("SELECT ") + kRecordColumns + " FROM audit_records ORDER BY sequence DESC LIMIT 1");
  HM_TRY(bool row, st.step());
  if (!row) return std::optional<audit::Record>{};
  HM_TRY(auto r, read_record(st));
  st.reset();
  return std::optional<audit::Record>(std::move(r));
}

base::Result<audit::Record> SqliteAuditStore::append_in_transaction(const audit::Event& event, base::TimePoint time) {
  // The head is read inside the caller's write transaction (BEGIN IMMEDIATE),
  // so two processes appending at once cannot fork the chain.
  HM_TRY(auto prev, head_unlocked());
  auto record = audit::seal(prev, time, event);
  auto& st =
      m_db.statement(std::string("INSERT INTO audit_records (") + kRecordColumns + ") VALUES (?,?,?,?,?,?,?,?,?,?,?)");
  st.bind(1, static_cast<std::int64_t>(record.sequence))
      .bind(2, seconds(record.time))
      .bind(3, event.actor)
      .bind(4, std::string(audit::to_string(event.channel)))
      .bind(5, event.action)
      .bind(6, event.cert_serial)
      .bind(7, event.profile)
      .bind(8, event.evidence_digest)
      .bind(9, event.detail)
      .bind(10, base::ByteView(record.prev_hash))
      .bind(11, base::ByteView(record.hash));
  HM_CHECK(st.run());
  return record;
}

base::Result<audit::Record> SqliteAuditStore::append(const audit::Event& event, base::TimePoint time) {
  audit::Record out;
  HM_CHECK(m_db.write_transaction([&]() -> base::Status {
    HM_TRY(out, append_in_transaction(event, time));
    return {};
  }));
  return out;
}

base::Result<std::vector<audit::Record>> SqliteAuditStore::records(std::uint64_t from, std::size_t limit) const {
  std::vector<audit::Record> out;
  HM_CHECK(m_db.read([&]() -> base::Status {
    auto& st = m_db.statement(std::string("SELECT ") + kRecordColumns +
                              " FROM audit_records WHERE sequence >= ? ORDER BY sequence LIMIT ?");
    st.bind(1, static_cast<std::int64_t>(from)).bind(2, static_cast<std::int64_t>(limit));
    for (;;) {
      HM_TRY(bool row, st.step());
      if (!row) break;
      HM_TRY(auto r, read_record(st));
      out.push_back(std::move(r));
    }
    st.reset();
    return {};
  }));
  return out;
}

base::Result<std::optional<audit::Record>> SqliteAuditStore::head() const {
  std::optional<audit::Record> out;
  HM_CHECK(m_db.read([&]() -> base::Status {
    HM_TRY(out, head_unlocked());
    return {};
  }));
  return out;
}

base::Status SqliteAuditStore::add_checkpoint(const audit::Checkpoint& c) {
  return m_db.write_transaction([&]() -> base::Status {
    auto& st = m_db.statement(
        "INSERT INTO audit_checkpoints (sequence, head_hash, time, signature_algorithm, signature) "
        "VALUES (?,?,?,?,?)");
    st.bind(1, static_cast<std::int64_t>(c.sequence))
        .bind(2, base::ByteView(c.head_hash))
        .bind(3, seconds(c.time))
        .bind(4, c.signature_algorithm)
        .bind(5, base::ByteView(c.signature));
    return st.run();
  });
}

base::Result<std::vector<audit::Checkpoint>> SqliteAuditStore::checkpoints() const {
  std::vector<audit::Checkpoint> out;
  HM_CHECK(m_db.read([&]() -> base::Status {
    auto& st = m_db.statement(
        "SELECT sequence, head_hash, time, signature_algorithm, signature FROM audit_checkpoints "
        "ORDER BY sequence, time");
    for (;;) {
      HM_TRY(bool row, st.step());
      if (!row) break;
      out.push_back(
          {static_cast<std::uint64_t>(st.integer(0)), st.blob(1), time_point(st.integer(2)), st.text(3), st.blob(4)});
    }
    st.reset();
    return {};
  }));
  return out;
}

// --- ledger --------------------------------------------------------------

base::Status SqliteLedger::reserve(const ca::LedgerEntry& e, const audit::Event& signing) {
  return m_db.write_transaction([&] { return insert_pending(e, signing); });
}

base::Status SqliteLedger::reserve_all(std::span<const ca::Reservation> batch) {
  return m_db.write_transaction([&]() -> base::Status {
    for (const auto& r : batch) HM_CHECK(insert_pending(r.entry, r.signing));
    return {};
  });
}

base::Status SqliteLedger::complete(const std::string& serial, base::ByteView der, const audit::Event& signed_event) {
  return m_db.write_transaction([&] { return store_signed(serial, der, signed_event); });
}

base::Status SqliteLedger::complete_all(std::span<const ca::Completion> batch) {
  return m_db.write_transaction([&]() -> base::Status {
    for (const auto& c : batch) HM_CHECK(store_signed(c.serial, c.der, c.signed_event));
    return {};
  });
}

base::Status SqliteLedger::insert_pending(const ca::LedgerEntry& e, const audit::Event& signing) {
  auto& st = m_db.statement(std::string("INSERT INTO certificates (") + kEntryColumns +
                            ") VALUES (?,?,?,?,?,?,?,?,?,?,?,NULL,'pending',?,?)");
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
      .bind(11, base::ByteView(e.tbs))
      .bind(12, seconds(e.created))
      .bind(13, seconds(e.not_after));
  HM_CHECK(st.run());
  HM_TRY(auto rec, m_audit.append_in_transaction(signing, m_clock.now()));
  (void)rec;
  return {};
}

base::Status SqliteLedger::store_signed(const std::string& serial, base::ByteView der,
                                        const audit::Event& signed_event) {
  auto& st =
      m_db.statement("UPDATE certificates SET der = ?, status = 'issued' WHERE serial = ? AND status = 'pending'");
  st.bind(1, der).bind(2, serial);
  HM_CHECK(st.run());
  auto& changed = m_db.statement("SELECT changes()");
  HM_TRY(bool row, changed.step());
  if (!row || changed.integer(0) != 1) {
    return make_error(ErrorCode::Internal, "ledger entry " + serial + " is not pending");
  }
  changed.reset();
  auto& dev = m_db.statement(
      "INSERT INTO devices (serial, product, idevid_serial, created) "
      "SELECT device_serial, product, serial, created FROM certificates "
      "WHERE serial = ? AND profile = 'idevid' AND device_serial <> '' "
      "ON CONFLICT (serial) DO NOTHING");
  dev.bind(1, serial);
  HM_CHECK(dev.run());
  HM_TRY(auto rec, m_audit.append_in_transaction(signed_event, m_clock.now()));
  (void)rec;
  return {};
}

base::Result<std::vector<ca::LedgerEntry>> SqliteLedger::select(const std::string& where, const std::string& arg,
                                                                std::int64_t limit) const {
  std::vector<ca::LedgerEntry> out;
  HM_CHECK(m_db.read([&]() -> base::Status {
    auto& st = m_db.statement(std::string("SELECT ") + kEntryColumns + " FROM certificates WHERE " + where);
    int next = 1;
    if (!arg.empty()) st.bind(next++, arg);
    if (limit >= 0) st.bind(next, limit);
    for (;;) {
      HM_TRY(bool row, st.step());
      if (!row) break;
      out.push_back(read_entry(st));
    }
    st.reset();
    return {};
  }));
  return out;
}

base::Result<std::optional<ca::LedgerEntry>> SqliteLedger::find(const std::string& serial) const {
  HM_TRY(auto rows, select("serial = ?", serial));
  if (rows.empty()) return std::optional<ca::LedgerEntry>{};
  return std::optional<ca::LedgerEntry>(std::move(rows.front()));
}

base::Result<std::vector<ca::LedgerEntry>> SqliteLedger::list(std::string_view status, std::size_t limit) const {
  const auto n = static_cast<std::int64_t>(limit);
  if (status.empty()) return select("1 = 1 ORDER BY created, rowid LIMIT ?", "", n);
  return select("status = ? ORDER BY created, rowid LIMIT ?", std::string(status), n);
}

base::Result<std::vector<ca::LedgerEntry>> SqliteLedger::by_device(const std::string& device_serial) const {
  return select("device_serial = ? ORDER BY created", device_serial);
}

// --- issuers -------------------------------------------------------------

base::Status SqliteLedger::add_issuer(const ca::IssuerRecord& i) {
  return m_db.write_transaction([&]() -> base::Status {
    auto& st =
        m_db.statement("INSERT INTO issuers (name, role, parent, cert_der, key_ref, status) VALUES (?,?,?,?,?,?)");
    st.bind(1, i.name)
        .bind(2, i.role)
        .bind(3, i.parent)
        .bind(4, base::ByteView(i.cert_der))
        .bind(5, i.key_ref)
        .bind(6, i.status);
    auto s = st.run();
    if (!s.ok() && s.error().code == ErrorCode::AlreadyExists) {
      return make_error(ErrorCode::AlreadyExists, "issuer '" + i.name + "' already exists");
    }
    return s;
  });
}

base::Result<std::vector<ca::IssuerRecord>> SqliteLedger::issuers() const {
  std::vector<ca::IssuerRecord> out;
  HM_CHECK(m_db.read([&]() -> base::Status {
    auto& st = m_db.statement("SELECT name, role, parent, cert_der, key_ref, status FROM issuers ORDER BY rowid");
    for (;;) {
      HM_TRY(bool row, st.step());
      if (!row) break;
      out.push_back({st.text(0), st.text(1), st.text(2), st.blob(3), st.text(4), st.text(5)});
    }
    st.reset();
    return {};
  }));
  return out;
}

base::Result<std::optional<ca::IssuerRecord>> SqliteLedger::find_issuer(const std::string& name) const {
  HM_TRY(auto all, issuers());
  for (auto& i : all) {
    if (i.name == name) return std::optional<ca::IssuerRecord>(std::move(i));
  }
  return std::optional<ca::IssuerRecord>{};
}

}  // namespace hallmark::store
