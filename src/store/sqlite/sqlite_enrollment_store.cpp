#include "store/sqlite/sqlite_enrollment_store.h"

namespace hallmark::store {

base::Result<std::vector<ra::CertificateRecord>> SqliteEnrollmentStore::select(const char* where,
                                                                               const std::string& arg) const {
  std::vector<ra::CertificateRecord> out;
  HM_CHECK(m_db.read([&]() -> base::Status {
    auto& st = m_db.statement(std::string("SELECT serial, issuer, profile, device_serial, status, key_fingerprint, "
                                          "created FROM certificates WHERE ") +
                              where + " ORDER BY created, rowid");
    st.bind(1, arg);
    for (;;) {
      HM_TRY(bool row, st.step());
      if (!row) break;
      ra::CertificateRecord r;
      r.serial = st.text(0);
      r.issuer = st.text(1);
      r.profile = st.text(2);
      r.device_serial = st.text(3);
      r.status = st.text(4);
      r.key_fingerprint = st.text(5);
      r.created = base::TimePoint(std::chrono::seconds(st.integer(6)));
      out.push_back(std::move(r));
    }
    return {};
  }));
  return out;
}

base::Result<std::optional<ra::CertificateRecord>> SqliteEnrollmentStore::by_serial(const std::string& serial) const {
  HM_TRY(auto rows, select("serial = ?1", serial));
  if (rows.empty()) return std::optional<ra::CertificateRecord>{};
  return std::optional<ra::CertificateRecord>{std::move(rows.front())};
}

base::Result<std::vector<ra::CertificateRecord>> SqliteEnrollmentStore::by_key_fingerprint(
    const std::string& fingerprint) const {
  return select("key_fingerprint = ?1 AND status <> 'pending'", fingerprint);
}

base::Result<std::vector<ra::CertificateRecord>> SqliteEnrollmentStore::by_device(
    const std::string& device_serial) const {
  return select("device_serial = ?1", device_serial);
}

namespace {
std::int64_t seconds_of(base::TimePoint t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}
}  // namespace

namespace {
// The answer for a stored credential (the row's hash, expiry and used mark).
ra::CredentialUse judge(const std::string& stored_hash, std::int64_t expires, bool used,
                        const std::string& secret_sha256_hex, base::TimePoint now) {
  if (stored_hash != secret_sha256_hex) return ra::CredentialUse::Unknown;
  if (used) return ra::CredentialUse::Reused;
  if (expires < seconds_of(now)) return ra::CredentialUse::Expired;
  return ra::CredentialUse::Accepted;
}
constexpr char kSelectCredential[] =
    "SELECT secret_sha256, expires, used FROM est_credentials WHERE device_serial = ?1";
}  // namespace

base::Result<ra::CredentialUse> SqliteEnrollmentStore::credential_state(const std::string& device_serial,
                                                                        const std::string& secret_sha256_hex,
                                                                        base::TimePoint now) const {
  auto use = ra::CredentialUse::Unknown;
  HM_CHECK(m_db.read([&]() -> base::Status {
    auto& st = m_db.statement(kSelectCredential);
    st.bind(1, device_serial);
    HM_TRY(bool row, st.step());
    if (row) use = judge(st.text(0), st.integer(1), !st.is_null(2), secret_sha256_hex, now);
    return {};
  }));
  return use;
}

base::Result<ra::CredentialUse> SqliteEnrollmentStore::use_credential(const std::string& device_serial,
                                                                      const std::string& secret_sha256_hex,
                                                                      base::TimePoint now) {
  auto use = ra::CredentialUse::Unknown;
  // Under the write lock (BEGIN IMMEDIATE): the check and the mark are one step
  // for every process sharing the database.
  HM_CHECK(m_db.write_transaction([&]() -> base::Status {
    auto& st = m_db.statement(kSelectCredential);
    st.bind(1, device_serial);
    HM_TRY(bool row, st.step());
    if (row) use = judge(st.text(0), st.integer(1), !st.is_null(2), secret_sha256_hex, now);
    if (use != ra::CredentialUse::Accepted) return {};
    return m_db.statement("UPDATE est_credentials SET used = ?1 WHERE device_serial = ?2 AND used IS NULL")
        .bind(1, seconds_of(now))
        .bind(2, device_serial)
        .run();
  }));
  return use;
}

base::Status SqliteEnrollmentStore::put_credential(const std::string& device_serial,
                                                   const std::string& secret_sha256_hex, base::TimePoint created,
                                                   base::TimePoint expires) {
  return m_db.write_transaction([&]() -> base::Status {
    HM_CHECK(m_db.statement("DELETE FROM est_credentials WHERE device_serial = ?1").bind(1, device_serial).run());
    return m_db
        .statement(
            "INSERT INTO est_credentials (device_serial, secret_sha256, created, expires) "
            "VALUES (?1, ?2, ?3, ?4)")
        .bind(1, device_serial)
        .bind(2, secret_sha256_hex)
        .bind(3, seconds_of(created))
        .bind(4, seconds_of(expires))
        .run();
  });
}

}  // namespace hallmark::store
