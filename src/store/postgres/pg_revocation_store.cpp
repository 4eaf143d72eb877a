#include "store/postgres/pg_revocation_store.h"

namespace hallmark::store {

using base::ErrorCode;
using base::make_error;

namespace {

std::int64_t seconds_of(base::TimePoint t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}
base::TimePoint time_of(std::int64_t s) {
  return base::TimePoint(std::chrono::seconds(s));
}

// LIKE pattern for "ends with /batch:<id>", with LIKE's wildcards escaped.
std::string batch_pattern(const std::string& id) {
  std::string out = "%/batch:";
  for (char c : id) {
    if (c == '%' || c == '_' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

ca::Revocation revocation_of(const PgRows& rows, int i, const std::string& serial, const std::string& issuer, int col) {
  return {serial,
          issuer,
          static_cast<ca::RevocationReason>(rows.integer(i, col)),
          time_of(rows.integer(i, col + 1)),
          rows.text(i, col + 2),
          rows.text(i, col + 3)};
}

}  // namespace

base::Result<std::size_t> PgRevocationStore::revoke(const std::vector<std::string>& serials,
                                                    ca::RevocationReason reason, base::TimePoint at,
                                                    const std::string& actor, const std::string& comment,
                                                    const audit::Event& event) {
  std::size_t newly = 0;
  HM_CHECK(m_db.transaction([&](PgConnection& c) -> base::Status {
    newly = 0;
    for (const auto& serial : serials) {
      // FOR UPDATE: two nodes revoking the same certificate serialize here.
      HM_TRY(auto rows, c.exec("SELECT issuer, status FROM certificates WHERE serial = $1 FOR UPDATE", {serial}));
      if (rows.empty()) return make_error(ErrorCode::NotFound, "certificate " + serial + " is not in the ledger");
      const auto issuer = rows.text(0, 0);
      const auto status = rows.text(0, 1);
      if (status == "revoked") continue;
      if (status != "issued") {
        return make_error(ErrorCode::InvalidArgument, "certificate " + serial + " is " + status + ", not issued");
      }
      HM_TRY(auto upd, c.exec("UPDATE certificates SET status = 'revoked' WHERE serial = $1", {serial}));
      (void)upd;
      HM_TRY(auto ins, c.exec("INSERT INTO revocations (serial, issuer, reason, revoked_at, actor, comment) "
                              "VALUES ($1, $2, $3, $4, $5, $6)",
                              {serial, issuer, static_cast<std::int64_t>(reason), seconds_of(at), actor, comment}));
      (void)ins;
      ++newly;
    }
    HM_TRY(auto gen, c.exec("UPDATE revocation_counters SET value = value + 1 WHERE name = 'generation'"));
    (void)gen;
    HM_TRY(auto rec, m_audit.append_in_transaction(c, event, at));
    (void)rec;
    return {};
  }));
  return newly;
}

base::Result<std::int64_t> PgRevocationStore::generation() const {
  std::int64_t out = 0;
  HM_CHECK(m_db.read([&](PgConnection& c) -> base::Status {
    HM_TRY(auto rows, c.exec("SELECT value FROM revocation_counters WHERE name = 'generation'"));
    out = rows.empty() ? 0 : rows.integer(0, 0);
    return {};
  }));
  return out;
}

base::Result<ca::CertificateState> PgRevocationStore::state(const std::string& issuer,
                                                            const std::string& serial) const {
  ca::CertificateState out;
  HM_CHECK(m_db.read([&](PgConnection& c) -> base::Status {
    out = {};
    HM_TRY(auto rows, c.exec("SELECT c.status, r.reason, r.revoked_at, r.actor, r.comment FROM certificates c "
                             "LEFT JOIN revocations r ON r.serial = c.serial WHERE c.serial = $1 AND c.issuer = $2",
                             {serial, issuer}));
    if (rows.empty()) return {};
    const auto status = rows.text(0, 0);
    if (status == "issued") out.kind = ca::CertificateState::Kind::Good;
    if (status == "revoked" && !rows.is_null(0, 1)) {
      out.kind = ca::CertificateState::Kind::Revoked;
      out.revocation = revocation_of(rows, 0, serial, issuer, 1);
    }
    return {};
  }));
  return out;
}

base::Result<std::vector<ca::Revocation>> PgRevocationStore::revoked_by(const std::string& issuer) const {
  std::vector<ca::Revocation> out;
  HM_CHECK(m_db.read([&](PgConnection& c) -> base::Status {
    out.clear();
    HM_TRY(auto rows, c.exec("SELECT serial, reason, revoked_at, actor, comment FROM revocations WHERE issuer = $1 "
                             "ORDER BY revoked_at, serial",
                             {issuer}));
    for (int i = 0; i < rows.size(); ++i) out.push_back(revocation_of(rows, i, rows.text(i, 0), issuer, 1));
    return {};
  }));
  return out;
}

base::Result<std::vector<std::string>> PgRevocationStore::batch_serials(const std::string& batch_id) const {
  std::vector<std::string> out;
  HM_CHECK(m_db.read([&](PgConnection& c) -> base::Status {
    out.clear();
    HM_TRY(auto rows, c.exec("SELECT serial FROM certificates WHERE origin LIKE $1 ESCAPE '\\' AND status <> "
                             "'pending' ORDER BY created, serial",
                             {batch_pattern(batch_id)}));
    for (int i = 0; i < rows.size(); ++i) out.push_back(rows.text(i, 0));
    return {};
  }));
  return out;
}

base::Result<ca::StoredCrl> PgRevocationStore::store_next_crl(
    const std::string& issuer, const std::function<base::Result<ca::StoredCrl>(std::int64_t number)>& sign) {
  ca::StoredCrl out;
  HM_CHECK(m_db.transaction([&](PgConnection& c) -> base::Status {
    // One CRL number at a time per issuer across nodes (the primary key would
    // refuse a duplicate; the lock makes the second writer wait instead).
    HM_TRY(auto locked, c.exec("SELECT pg_advisory_xact_lock(hashtext('hallmark-crl:' || $1))", {issuer}));
    (void)locked;
    HM_TRY(auto rows, c.exec("SELECT MAX(number) FROM crls WHERE issuer = $1", {issuer}));
    const std::int64_t number = !rows.empty() && !rows.is_null(0, 0) ? rows.integer(0, 0) + 1 : 1;
    HM_TRY(out, sign(number));
    HM_TRY(auto ins, c.exec("INSERT INTO crls (issuer, number, generation, this_update, next_update, der) "
                            "VALUES ($1, $2, $3, $4, $5, $6)",
                            {issuer, number, out.generation, seconds_of(out.this_update), seconds_of(out.next_update),
                             base::ByteView(out.der)}));
    (void)ins;
    return {};
  }));
  return out;
}

base::Result<std::optional<ca::StoredCrl>> PgRevocationStore::latest_crl(const std::string& issuer) const {
  std::optional<ca::StoredCrl> out;
  HM_CHECK(m_db.read([&](PgConnection& c) -> base::Status {
    out.reset();
    HM_TRY(auto rows, c.exec("SELECT number, generation, this_update, next_update, der FROM crls WHERE issuer = $1 "
                             "ORDER BY number DESC LIMIT 1",
                             {issuer}));
    if (!rows.empty()) {
      out = ca::StoredCrl{issuer,
                          rows.integer(0, 0),
                          rows.integer(0, 1),
                          time_of(rows.integer(0, 2)),
                          time_of(rows.integer(0, 3)),
                          rows.blob(0, 4)};
    }
    return {};
  }));
  return out;
}

}  // namespace hallmark::store
