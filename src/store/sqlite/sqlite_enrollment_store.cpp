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

}  // namespace hallmark::store
