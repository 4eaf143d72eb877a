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

}  // namespace hallmark::store
