// PostgreSQL implementation of the RA's port (ra/ports.h), twin of
// store/sqlite/sqlite_enrollment_store.h. Read at request time: a certificate
// another node issued or revoked is seen by the next request here.
#pragma once

#include "ra/ports.h"
#include "store/postgres/pg_database.h"

namespace hallmark::store {

class PgEnrollmentStore final : public ra::CertificateStatusLookup, public ra::BootstrapCredentialStore {
 public:
  explicit PgEnrollmentStore(PgDatabase& db) : m_db(db) {}
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
  PgDatabase& m_db;
};

}  // namespace hallmark::store
