#include "store/postgres/pg_store.h"

#include "store/postgres/pg_schema.h"

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

base::Result<audit::Record> read_record(const PgRows& rows, int i) {
  audit::Record r;
  r.sequence = static_cast<std::uint64_t>(rows.integer(i, 0));
  r.time = time_point(rows.integer(i, 1));
  r.event.actor = rows.text(i, 2);
  auto channel = audit::parse_channel(rows.text(i, 3));
  if (!channel.ok()) {
    return make_error(ErrorCode::Tampered, "audit record " + std::to_string(r.sequence) + " has an unknown channel");
  }
  r.event.channel = channel.value();
  r.event.action = rows.text(i, 4);
  r.event.cert_serial = rows.text(i, 5);
  r.event.profile = rows.text(i, 6);
  r.event.evidence_digest = rows.text(i, 7);
  r.event.detail = rows.text(i, 8);
  r.prev_hash = rows.blob(i, 9);
  r.hash = rows.blob(i, 10);
  return r;
}

constexpr char kEntryColumns[] =
    "serial, issuer, profile, device_serial, product, channel, origin, evidence_digest, key_fingerprint, "
    "subject, tbs, der, status, created, not_after";

ca::LedgerEntry read_entry(const PgRows& rows, int i) {
  ca::LedgerEntry e;
  e.serial = rows.text(i, 0);
  e.issuer = rows.text(i, 1);
  e.profile = rows.text(i, 2);
  e.device_serial = rows.text(i, 3);
  e.product = rows.text(i, 4);
  auto channel = audit::parse_channel(rows.text(i, 5));
  e.channel = channel.ok() ? channel.value() : audit::Channel::Admin;
  e.origin = rows.text(i, 6);
  e.evidence_digest = rows.text(i, 7);
  e.key_fingerprint = rows.text(i, 8);
  e.subject = rows.text(i, 9);
  e.tbs = rows.blob(i, 10);
  e.der = rows.blob(i, 11);
  const auto status = rows.text(i, 12);
  e.status = status == "issued"    ? ca::CertificateStatus::Issued
             : status == "revoked" ? ca::CertificateStatus::Revoked
                                   : ca::CertificateStatus::Pending;
  e.created = time_point(rows.integer(i, 13));
  e.not_after = time_point(rows.integer(i, 14));
  return e;
}

base::Result<std::optional<audit::Record>> read_head(PgConnection& c) {
  HM_TRY(auto rows,
         c.exec(std::string("SELECT ") + kRecordColumns + " FROM audit_records ORDER BY sequence DESC LIMIT 1"));
  if (rows.empty()) return std::optional<audit::Record>{};
  HM_TRY(auto r, read_record(rows, 0));
  return std::optional<audit::Record>(std::move(r));
}

}  // namespace

// --- audit ---------------------------------------------------------------

base::Result<audit::Record> PgAuditStore::append_in_transaction(PgConnection& c, const audit::Event& event,
                                                                base::TimePoint time) {
  HM_TRY(auto locked, c.exec("SELECT pg_advisory_xact_lock($1)", {kPgAuditLock}));
  (void)locked;
  HM_TRY(auto prev, read_head(c));
  auto record = audit::seal(prev, time, event);
  HM_TRY(auto ins,
         c.exec(std::string("INSERT INTO audit_records (") + kRecordColumns +
                    ") VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)",
                {static_cast<std::int64_t>(record.sequence), seconds(record.time), event.actor,
                 std::string(audit::to_string(event.channel)), event.action, event.cert_serial, event.profile,
                 event.evidence_digest, event.detail, base::ByteView(record.prev_hash), base::ByteView(record.hash)}));
  (void)ins;
  return record;
}

base::Result<audit::Record> PgAuditStore::append(const audit::Event& event, base::TimePoint time) {
  audit::Record out;
  HM_CHECK(m_db.transaction([&](PgConnection& c) -> base::Status {
    HM_TRY(out, append_in_transaction(c, event, time));
    return {};
  }));
  return out;
}

base::Result<std::vector<audit::Record>> PgAuditStore::records(std::uint64_t from, std::size_t limit) const {
  std::vector<audit::Record> out;
  HM_CHECK(m_db.read([&](PgConnection& c) -> base::Status {
    out.clear();
    HM_TRY(auto rows, c.exec(std::string("SELECT ") + kRecordColumns +
                                 " FROM audit_records WHERE sequence >= $1 ORDER BY sequence LIMIT $2",
                             {static_cast<std::int64_t>(from), static_cast<std::int64_t>(limit)}));
    for (int i = 0; i < rows.size(); ++i) {
      HM_TRY(auto r, read_record(rows, i));
      out.push_back(std::move(r));
    }
    return {};
  }));
  return out;
}

base::Result<std::optional<audit::Record>> PgAuditStore::head() const {
  std::optional<audit::Record> out;
  HM_CHECK(m_db.read([&](PgConnection& c) -> base::Status {
    HM_TRY(out, read_head(c));
    return {};
  }));
  return out;
}

base::Status PgAuditStore::add_checkpoint(const audit::Checkpoint& cp) {
  return m_db.transaction([&](PgConnection& c) -> base::Status {
    HM_TRY(auto ins, c.exec("INSERT INTO audit_checkpoints (sequence, head_hash, time, signature_algorithm, signature) "
                            "VALUES ($1,$2,$3,$4,$5)",
                            {static_cast<std::int64_t>(cp.sequence), base::ByteView(cp.head_hash), seconds(cp.time),
                             cp.signature_algorithm, base::ByteView(cp.signature)}));
    (void)ins;
    return {};
  });
}

base::Result<std::vector<audit::Checkpoint>> PgAuditStore::checkpoints() const {
  std::vector<audit::Checkpoint> out;
  HM_CHECK(m_db.read([&](PgConnection& c) -> base::Status {
    out.clear();
    HM_TRY(auto rows, c.exec("SELECT sequence, head_hash, time, signature_algorithm, signature FROM audit_checkpoints "
                             "ORDER BY sequence, time"));
    for (int i = 0; i < rows.size(); ++i) {
      out.push_back({static_cast<std::uint64_t>(rows.integer(i, 0)), rows.blob(i, 1), time_point(rows.integer(i, 2)),
                     rows.text(i, 3), rows.blob(i, 4)});
    }
    return {};
  }));
  return out;
}

// --- ledger --------------------------------------------------------------

base::Status PgLedger::reserve(const ca::LedgerEntry& e, const audit::Event& signing) {
  return m_db.transaction([&](PgConnection& c) { return insert_pending(c, e, signing); });
}

base::Status PgLedger::reserve_all(std::span<const ca::Reservation> batch) {
  return m_db.transaction([&](PgConnection& c) -> base::Status {
    for (const auto& r : batch) HM_CHECK(insert_pending(c, r.entry, r.signing));
    return {};
  });
}

base::Status PgLedger::complete(const std::string& serial, base::ByteView der, const audit::Event& signed_event) {
  return m_db.transaction([&](PgConnection& c) { return store_signed(c, serial, der, signed_event); });
}

base::Status PgLedger::complete_all(std::span<const ca::Completion> batch) {
  return m_db.transaction([&](PgConnection& c) -> base::Status {
    for (const auto& x : batch) HM_CHECK(store_signed(c, x.serial, x.der, x.signed_event));
    return {};
  });
}

base::Status PgLedger::insert_pending(PgConnection& c, const ca::LedgerEntry& e, const audit::Event& signing) {
  // The serial's primary key is what keeps two nodes from ever recording the
  // same serial: the second INSERT fails with AlreadyExists and rolls back.
  HM_TRY(auto ins, c.exec(std::string("INSERT INTO certificates (") + kEntryColumns +
                              ") VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,NULL,'pending',$12,$13)",
                          {e.serial, e.issuer, e.profile, e.device_serial, e.product,
                           std::string(audit::to_string(e.channel)), e.origin, e.evidence_digest, e.key_fingerprint,
                           e.subject, base::ByteView(e.tbs), seconds(e.created), seconds(e.not_after)}));
  (void)ins;
  HM_TRY(auto rec, m_audit.append_in_transaction(c, signing, m_clock.now()));
  (void)rec;
  return {};
}

base::Status PgLedger::store_signed(PgConnection& c, const std::string& serial, base::ByteView der,
                                    const audit::Event& signed_event) {
  HM_TRY(auto up, c.exec("UPDATE certificates SET der = $1, status = 'issued' WHERE serial = $2 AND status = "
                         "'pending'",
                         {der, serial}));
  if (up.affected() != 1) return make_error(ErrorCode::Internal, "ledger entry " + serial + " is not pending");
  HM_TRY(auto dev, c.exec("INSERT INTO devices (serial, product, idevid_serial, created) "
                          "SELECT device_serial, product, serial, created FROM certificates "
                          "WHERE serial = $1 AND profile = 'idevid' AND device_serial <> '' "
                          "ON CONFLICT (serial) DO NOTHING",
                          {serial}));
  (void)dev;
  HM_TRY(auto rec, m_audit.append_in_transaction(c, signed_event, m_clock.now()));
  (void)rec;
  return {};
}

base::Result<std::vector<ca::LedgerEntry>> PgLedger::select(const std::string& where,
                                                            const std::vector<PgParam>& params) const {
  std::vector<ca::LedgerEntry> out;
  HM_CHECK(m_db.read([&](PgConnection& c) -> base::Status {
    out.clear();
    HM_TRY(auto rows, c.exec(std::string("SELECT ") + kEntryColumns + " FROM certificates WHERE " + where, params));
    for (int i = 0; i < rows.size(); ++i) out.push_back(read_entry(rows, i));
    return {};
  }));
  return out;
}

base::Result<std::optional<ca::LedgerEntry>> PgLedger::find(const std::string& serial) const {
  HM_TRY(auto rows, select("serial = $1", {serial}));
  if (rows.empty()) return std::optional<ca::LedgerEntry>{};
  return std::optional<ca::LedgerEntry>(std::move(rows.front()));
}

base::Result<std::vector<ca::LedgerEntry>> PgLedger::list(std::string_view status, std::size_t limit) const {
  const auto n = static_cast<std::int64_t>(limit);
  if (status.empty()) return select("TRUE ORDER BY created, ord LIMIT $1", {n});
  return select("status = $1 ORDER BY created, ord LIMIT $2", {std::string(status), n});
}

base::Result<std::vector<ca::LedgerEntry>> PgLedger::by_device(const std::string& device_serial) const {
  return select("device_serial = $1 ORDER BY created, ord", {device_serial});
}

// --- issuers -------------------------------------------------------------

base::Status PgLedger::add_issuer(const ca::IssuerRecord& i) {
  return m_db.transaction([&](PgConnection& c) -> base::Status {
    auto ins = c.exec("INSERT INTO issuers (name, role, parent, cert_der, key_ref, status) VALUES ($1,$2,$3,$4,$5,$6)",
                      {i.name, i.role, i.parent, base::ByteView(i.cert_der), i.key_ref, i.status});
    if (!ins.ok() && ins.error().code == ErrorCode::AlreadyExists) {
      return make_error(ErrorCode::AlreadyExists, "issuer '" + i.name + "' already exists");
    }
    if (!ins.ok()) return ins.error();
    return {};
  });
}

base::Result<std::vector<ca::IssuerRecord>> PgLedger::issuers() const {
  std::vector<ca::IssuerRecord> out;
  HM_CHECK(m_db.read([&](PgConnection& c) -> base::Status {
    out.clear();
    HM_TRY(auto rows, c.exec("SELECT name, role, parent, cert_der, key_ref, status FROM issuers ORDER BY ord"));
    for (int i = 0; i < rows.size(); ++i) {
      out.push_back(
          {rows.text(i, 0), rows.text(i, 1), rows.text(i, 2), rows.blob(i, 3), rows.text(i, 4), rows.text(i, 5)});
    }
    return {};
  }));
  return out;
}

base::Result<std::optional<ca::IssuerRecord>> PgLedger::find_issuer(const std::string& name) const {
  HM_TRY(auto all, issuers());
  for (auto& i : all) {
    if (i.name == name) return std::optional<ca::IssuerRecord>(std::move(i));
  }
  return std::optional<ca::IssuerRecord>{};
}

}  // namespace hallmark::store
