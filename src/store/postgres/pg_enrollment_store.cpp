#include "store/postgres/pg_enrollment_store.h"

namespace hallmark::store {

base::Result<std::vector<ra::CertificateRecord>> PgEnrollmentStore::select(const char* where,
                                                                           const std::string& arg) const {
  std::vector<ra::CertificateRecord> out;
  HM_CHECK(m_db.read([&](PgConnection& c) -> base::Status {
    out.clear();
    HM_TRY(auto rows, c.exec(std::string("SELECT serial, issuer, profile, device_serial, status, key_fingerprint, "
                                         "created FROM certificates WHERE ") +
                                 where + " ORDER BY created, ord",
                             {arg}));
    for (int i = 0; i < rows.size(); ++i) {
      ra::CertificateRecord r;
      r.serial = rows.text(i, 0);
      r.issuer = rows.text(i, 1);
      r.profile = rows.text(i, 2);
      r.device_serial = rows.text(i, 3);
      r.status = rows.text(i, 4);
      r.key_fingerprint = rows.text(i, 5);
      r.created = base::TimePoint(std::chrono::seconds(rows.integer(i, 6)));
      out.push_back(std::move(r));
    }
    return {};
  }));
  return out;
}

base::Result<std::optional<ra::CertificateRecord>> PgEnrollmentStore::by_serial(const std::string& serial) const {
  HM_TRY(auto rows, select("serial = $1", serial));
  if (rows.empty()) return std::optional<ra::CertificateRecord>{};
  return std::optional<ra::CertificateRecord>{std::move(rows.front())};
}

base::Result<std::vector<ra::CertificateRecord>> PgEnrollmentStore::by_key_fingerprint(
    const std::string& fingerprint) const {
  return select("key_fingerprint = $1 AND status <> 'pending'", fingerprint);
}

base::Result<std::vector<ra::CertificateRecord>> PgEnrollmentStore::by_device(const std::string& device_serial) const {
  return select("device_serial = $1", device_serial);
}

namespace {
std::int64_t seconds_of(base::TimePoint t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}
}  // namespace

base::Result<ra::CredentialUse> PgEnrollmentStore::credential_state(const std::string& device_serial,
                                                                    const std::string& secret_sha256_hex,
                                                                    base::TimePoint now) const {
  auto use = ra::CredentialUse::Unknown;
  HM_CHECK(m_db.read([&](PgConnection& c) -> base::Status {
    HM_TRY(auto rows, c.exec("SELECT secret_sha256, expires, used FROM est_credentials WHERE device_serial = $1",
                             {device_serial}));
    use = ra::CredentialUse::Unknown;
    if (rows.empty() || rows.text(0, 0) != secret_sha256_hex) return {};
    if (!rows.is_null(0, 2))
      use = ra::CredentialUse::Reused;
    else if (rows.integer(0, 1) < seconds_of(now))
      use = ra::CredentialUse::Expired;
    else
      use = ra::CredentialUse::Accepted;
    return {};
  }));
  return use;
}

base::Result<ra::CredentialUse> PgEnrollmentStore::use_credential(const std::string& device_serial,
                                                                  const std::string& secret_sha256_hex,
                                                                  base::TimePoint now) {
  auto use = ra::CredentialUse::Unknown;
  HM_CHECK(m_db.transaction([&](PgConnection& c) -> base::Status {
    use = ra::CredentialUse::Unknown;
    // FOR UPDATE: of two nodes using the same credential at once, the second
    // waits here and then sees it used.
    HM_TRY(auto rows, c.exec("SELECT secret_sha256, expires, used FROM est_credentials WHERE device_serial = $1 "
                             "FOR UPDATE",
                             {device_serial}));
    if (rows.empty() || rows.text(0, 0) != secret_sha256_hex) return {};
    if (!rows.is_null(0, 2)) {
      use = ra::CredentialUse::Reused;
      return {};
    }
    if (rows.integer(0, 1) < seconds_of(now)) {
      use = ra::CredentialUse::Expired;
      return {};
    }
    HM_TRY(auto upd, c.exec("UPDATE est_credentials SET used = $1 WHERE device_serial = $2 AND used IS NULL",
                            {seconds_of(now), device_serial}));
    use = upd.affected() == 1 ? ra::CredentialUse::Accepted : ra::CredentialUse::Reused;
    return {};
  }));
  return use;
}

base::Status PgEnrollmentStore::put_credential(const std::string& device_serial, const std::string& secret_sha256_hex,
                                               base::TimePoint created, base::TimePoint expires) {
  return m_db.transaction([&](PgConnection& c) -> base::Status {
    HM_TRY(auto del, c.exec("DELETE FROM est_credentials WHERE device_serial = $1", {device_serial}));
    (void)del;
    HM_TRY(auto ins, c.exec("INSERT INTO est_credentials (device_serial, secret_sha256, created, expires) "
                            "VALUES ($1, $2, $3, $4)",
                            {device_serial, secret_sha256_hex, seconds_of(created), seconds_of(expires)}));
    (void)ins;
    return {};
  });
}

}  // namespace hallmark::store
