// SQLite implementation of the RA's port (ra/ports.h): certificate status,
// duplicate-key and per-device lookups over the `certificates` table, read at
// request time (WAL: sees other processes' commits at once).
#pragma once

#include "ra/ports.h"
#include "store/sqlite/sqlite_database.h"

namespace hallmark::store {

class SqliteEnrollmentStore final : public ra::CertificateStatusLookup, public ra::BootstrapCredentialStore {
 public:
  explicit SqliteEnrollmentStore(SqliteDatabase& db) : m_db(db) {}
  base::Result<std::optional<ra::CertificateRecord>> by_serial(const std::string& serial) const override;
  base::Result<std::vector<ra::CertificateRecord>> by_key_fingerprint(const std::string& fingerprint) const override;
  base::Result<std::vector<ra::CertificateRecord>> by_device(const std::string& device_serial) const override;

  base::Result<ra::CredentialUse> credential_state(const std::string& device_serial,
                                                   const std::string& secret_sha256_hex,
                                                   base::TimePoint now) const override;
  base::Result<ra::CredentialUse> use_credential(const std::string& device_serial, const std::string& secret_sha256_hex,
                                                 base::TimePoint now) override;
  base::Status put_credential(const std::string& device_serial, const std::string& secret_sha256_hex,
                              base::TimePoint created, base::TimePoint expires) override;

 private:
  base::Result<std::vector<ra::CertificateRecord>> select(const char* where, const std::string& arg) const;
  SqliteDatabase& m_db;
};

}  // namespace hallmark::store
