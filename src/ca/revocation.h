// Revocation: reason codes, the storage port revocation needs (declared here by
// its consumers ca/ and proto/ocsp/, implemented in store/), and CRL issuance.
//
// The port is small on purpose (a PostgreSQL store implements it too):
//   * revoke() marks certificates revoked, records why, bumps the revocation
//     generation and appends the audit record, all in one transaction;
//   * generation() is the cheap check every process makes to learn that some
//     other process (the CLI while `serve` runs, another node) revoked something;
//   * status lookups and CRL bookkeeping.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "audit/record.h"
#include "base/bytes.h"
#include "base/clock.h"
#include "base/result.h"
#include "ca/issuer.h"

namespace hallmark::ca {

// CRLReason (RFC 5280 §5.3.1); 7 is not assigned.
enum class RevocationReason : int {
  Unspecified = 0,
  KeyCompromise = 1,
  CaCompromise = 2,
  AffiliationChanged = 3,
  Superseded = 4,
  CessationOfOperation = 5,
  CertificateHold = 6,
  RemoveFromCrl = 8,
  PrivilegeWithdrawn = 9,
  AaCompromise = 10,
};

// The RFC 5280 name ("keyCompromise") or number ("1"); InvalidArgument with the
// list of names otherwise. removeFromCRL (delta CRLs only) is refused.
base::Result<RevocationReason> parse_revocation_reason(std::string_view text);
std::string_view to_string(RevocationReason r);

struct Revocation {
  std::string serial;  // upper-case hex
  std::string issuer;  // issuer name in the registry
  RevocationReason reason = RevocationReason::Unspecified;
  base::TimePoint revoked_at;
  std::string actor;
  std::string comment;
};

// What a relying party may learn about one serial of one issuer.
struct CertificateState {
  enum class Kind { Unknown, Good, Revoked } kind = Kind::Unknown;
  std::optional<Revocation> revocation;  // when Revoked
};

struct StoredCrl {
  std::string issuer;
  std::int64_t number = 0;
  std::int64_t generation = 0;  // the revocation generation it reflects
  base::TimePoint this_update;
  base::TimePoint next_update;
  base::Bytes der;
};

class RevocationStore {
 public:
  virtual ~RevocationStore() = default;

  // One transaction: each listed certificate that is issued becomes revoked
  // (certificates.status = 'revoked' and a revocation row), the generation is
  // incremented once, and `event` is appended to the audit chain. Certificates
  // already revoked are left as they are. Returns the number newly revoked.
  // NotFound when a serial is not in the ledger.
  [[nodiscard]] virtual base::Result<std::size_t> revoke(const std::vector<std::string>& serials,
                                                         RevocationReason reason, base::TimePoint at,
                                                         const std::string& actor, const std::string& comment,
                                                         const audit::Event& event) = 0;

  // Incremented by every revoke(); read per request (or every few hundred ms) by servers.
  [[nodiscard]] virtual base::Result<std::int64_t> generation() const = 0;

  // The state of `serial` as issued by `issuer`: Unknown when this issuer never
  // signed it (or it is still pending), else Good or Revoked.
  [[nodiscard]] virtual base::Result<CertificateState> state(const std::string& issuer,
                                                             const std::string& serial) const = 0;

  // Every revocation of certificates signed by `issuer`, oldest first.
  [[nodiscard]] virtual base::Result<std::vector<Revocation>> revoked_by(const std::string& issuer) const = 0;

  // Serials of issued certificates whose origin ends with "/batch:<batch_id>" (factory batches).
  [[nodiscard]] virtual base::Result<std::vector<std::string>> batch_serials(const std::string& batch_id) const = 0;

  // One transaction: the next cRLNumber for `issuer` (one more than the highest
  // stored, 1 for the first) is passed to `sign`, whose CRL is stored with it.
  // cRLNumbers stay monotonic even when two processes issue at once.
  [[nodiscard]] virtual base::Result<StoredCrl> store_next_crl(
      const std::string& issuer, const std::function<base::Result<StoredCrl>(std::int64_t number)>& sign) = 0;
  // The CRL with the highest number for `issuer`, if any.
  [[nodiscard]] virtual base::Result<std::optional<StoredCrl>> latest_crl(const std::string& issuer) const = 0;
};

struct CrlSettings {
  std::chrono::seconds validity{std::chrono::hours(24)};  // nextUpdate - thisUpdate
  std::string distribution_point;                         // URL put in issuingDistributionPoint (may be empty)
  bool only_user_certs = false;                           // issuer cannot certify CAs (pathLen 0)
};

// Signs a CRL v2 of everything `authority` has revoked (RFC 5280 §5) with the
// next cRLNumber, stores it and returns it.
[[nodiscard]] base::Result<StoredCrl> issue_crl(const SigningAuthority& authority, RevocationStore& store,
                                                const base::Clock& clock, const CrlSettings& settings);

}  // namespace hallmark::ca
