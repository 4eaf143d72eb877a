#include "store/sqlite/sqlite_revocation_store.h"

namespace hallmark::store {

using base::ErrorCode;
using base::make_error;

namespace {

std::int64_t seconds(base::TimePoint t) {
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

}  // namespace

base::Result<std::size_t> SqliteRevocationStore::revoke(const std::vector<std::string>& serials,
                                                        ca::RevocationReason reason, base::TimePoint at,
                                                        const std::string& actor, const std::string& comment,
                                                        const audit::Event& event) {
  std::size_t newly = 0;
  HM_CHECK(m_db.write_transaction([&]() -> base::Status {
    for (const auto& serial : serials) {
      auto& find = m_db.statement("SELECT issuer, status FROM certificates WHERE serial = ?1");
      find.bind(1, serial);
      HM_TRY(bool row, find.step());
      if (!row) return make_error(ErrorCode::NotFound, "certificate " + serial + " is not in the ledger");
      const auto issuer = find.text(0);
      const auto status = find.text(1);
      find.reset();
      if (status == "revoked") continue;
      if (status != "issued") {
        return make_error(ErrorCode::InvalidArgument, "certificate " + serial + " is " + status + ", not issued");
      }
      HM_CHECK(m_db.statement("UPDATE certificates SET status = 'revoked' WHERE serial = ?1").bind(1, serial).run());
      HM_CHECK(m_db.statement("INSERT INTO revocations (serial, issuer, reason, revoked_at, actor, comment) "
                              "VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
                   .bind(1, serial)
                   .bind(2, issuer)
                   .bind(3, static_cast<std::int64_t>(reason))
                   .bind(4, seconds(at))
                   .bind(5, actor)
                   .bind(6, comment)
                   .run());
      ++newly;
    }
    HM_CHECK(m_db.statement("UPDATE revocation_counters SET value = value + 1 WHERE name = 'generation'").run());
    HM_TRY(auto rec, m_audit.append_in_transaction(event, at));
    (void)rec;
    return {};
  }));
  return newly;
}

base::Result<std::int64_t> SqliteRevocationStore::generation() const {
  std::int64_t out = 0;
  HM_CHECK(m_db.read([&]() -> base::Status {
    auto& st = m_db.statement("SELECT value FROM revocation_counters WHERE name = 'generation'");
    HM_TRY(bool row, st.step());
    out = row ? st.integer(0) : 0;
    st.reset();
    return {};
  }));
  return out;
}

base::Result<ca::CertificateState> SqliteRevocationStore::state(const std::string& issuer,
                                                                const std::string& serial) const {
  ca::CertificateState out;
  HM_CHECK(m_db.read([&]() -> base::Status {
    auto& st = m_db.statement(
        "SELECT c.status, r.reason, r.revoked_at, r.actor, r.comment FROM certificates c "
        "LEFT JOIN revocations r ON r.serial = c.serial WHERE c.serial = ?1 AND c.issuer = ?2");
    st.bind(1, serial).bind(2, issuer);
    HM_TRY(bool row, st.step());
    if (row) {
      const auto status = st.text(0);
      if (status == "issued") out.kind = ca::CertificateState::Kind::Good;
      if (status == "revoked" && !st.is_null(1)) {
        out.kind = ca::CertificateState::Kind::Revoked;
        out.revocation = ca::Revocation{
            serial,     issuer,    static_cast<ca::RevocationReason>(st.integer(1)), time_of(st.integer(2)),
            st.text(3), st.text(4)};
      }
    }
    st.reset();
    return {};
  }));
  return out;
}

base::Result<std::vector<ca::Revocation>> SqliteRevocationStore::revoked_by(const std::string& issuer) const {
  std::vector<ca::Revocation> out;
  HM_CHECK(m_db.read([&]() -> base::Status {
    auto& st = m_db.statement(
        "SELECT serial, reason, revoked_at, actor, comment FROM revocations WHERE issuer = ?1 "
        "ORDER BY revoked_at, serial");
    st.bind(1, issuer);
    for (;;) {
      HM_TRY(bool row, st.step());
      if (!row) break;
      out.push_back({st.text(0), issuer, static_cast<ca::RevocationReason>(st.integer(1)), time_of(st.integer(2)),
                     st.text(3), st.text(4)});
    }
    return {};
  }));
  return out;
}

base::Result<std::vector<std::string>> SqliteRevocationStore::batch_serials(const std::string& batch_id) const {
  std::vector<std::string> out;
  HM_CHECK(m_db.read([&]() -> base::Status {
    auto& st = m_db.statement(
        "SELECT serial FROM certificates WHERE origin LIKE ?1 ESCAPE '\\' AND status <> 'pending' "
        "ORDER BY created, serial");
    st.bind(1, batch_pattern(batch_id));
    for (;;) {
      HM_TRY(bool row, st.step());
      if (!row) break;
      out.push_back(st.text(0));
    }
    return {};
  }));
  return out;
}

base::Result<ca::StoredCrl> SqliteRevocationStore::store_next_crl(
    const std::string& issuer, const std::function<base::Result<ca::StoredCrl>(std::int64_t number)>& sign) {
  ca::StoredCrl out;
  // Under the write lock: two processes issuing at once get distinct, increasing numbers.
  HM_CHECK(m_db.write_transaction([&]() -> base::Status {
    auto& st = m_db.statement("SELECT MAX(number) FROM crls WHERE issuer = ?1");
    st.bind(1, issuer);
    HM_TRY(bool row, st.step());
    const std::int64_t number = row && !st.is_null(0) ? st.integer(0) + 1 : 1;
    st.reset();
    HM_TRY(out, sign(number));
    HM_CHECK(m_db.statement("INSERT INTO crls (issuer, number, generation, this_update, next_update, der) "
                            "VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
                 .bind(1, issuer)
                 .bind(2, number)
                 .bind(3, out.generation)
                 .bind(4, seconds(out.this_update))
                 .bind(5, seconds(out.next_update))
                 .bind(6, base::ByteView(out.der))
                 .run());
    return {};
  }));
  return out;
}

base::Result<std::optional<ca::StoredCrl>> SqliteRevocationStore::latest_crl(const std::string& issuer) const {
  std::optional<ca::StoredCrl> out;
  HM_CHECK(m_db.read([&]() -> base::Status {
    auto& st = m_db.statement(
        "SELECT number, generation, this_update, next_update, der FROM crls WHERE issuer = ?1 "
        "ORDER BY number DESC LIMIT 1");
    st.bind(1, issuer);
    HM_TRY(bool row, st.step());
    if (row) {
      out = ca::StoredCrl{issuer,    st.integer(0), st.integer(1), time_of(st.integer(2)), time_of(st.integer(3)),
                          st.blob(4)};
    }
    st.reset();
    return {};
  }));
  return out;
}

}  // namespace hallmark::store
