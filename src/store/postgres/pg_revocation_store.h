// The PostgreSQL implementation of ca::RevocationStore, twin of
// store/sqlite/sqlite_revocation_store.h: a revocation, the certificates'
// status, the generation counter and the audit record commit in one transaction.
#pragma once

#include "ca/revocation.h"
#include "store/postgres/pg_database.h"
#include "store/postgres/pg_store.h"

namespace hallmark::store {

class PgRevocationStore final : public ca::RevocationStore {
 public:
  PgRevocationStore(PgDatabase& db, PgAuditStore& audit) : m_db(db), m_audit(audit) {}

  base::Result<std::size_t> revoke(const std::vector<std::string>& serials, ca::RevocationReason reason,
                                   base::TimePoint at, const std::string& actor, const std::string& comment,
                                   const audit::Event& event) override;
  base::Result<std::int64_t> generation() const override;
  base::Result<ca::CertificateState> state(const std::string& issuer, const std::string& serial) const override;
  base::Result<std::vector<ca::Revocation>> revoked_by(const std::string& issuer) const override;
  base::Result<std::vector<std::string>> batch_serials(const std::string& batch_id) const override;
  base::Result<ca::StoredCrl> store_next_crl(
      const std::string& issuer, const std::function<base::Result<ca::StoredCrl>(std::int64_t number)>& sign) override;
  base::Result<std::optional<ca::StoredCrl>> latest_crl(const std::string& issuer) const override;

 private:
  PgDatabase& m_db;
  PgAuditStore& m_audit;
};

}  // namespace hallmark::store
