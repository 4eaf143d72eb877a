// What the RA needs from storage, declared by its consumer (DESIGN: ports).
// Implemented in store/ (SQLite); wired by app/.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/result.h"

namespace hallmark::ra {

// The facts about an issued certificate the RA decides on.
struct CertificateRecord {
  std::string serial;  // upper-case hex, as pkix::Certificate::serial_hex()
  std::string issuer;  // issuer name in the registry ("factory", "runtime", a site)
  std::string profile;
  std::string device_serial;
  std::string status;           // "pending" | "issued" | "revoked"
  std::string key_fingerprint;  // lower-case hex SHA-256 of the SPKI
  base::TimePoint created;
};

// Read at request time, never cached: a revocation made by another process
// (the CLI while `serve` runs) takes effect on the next request.
class CertificateStatusLookup {
 public:
  virtual ~CertificateStatusLookup() = default;
  [[nodiscard]] virtual base::Result<std::optional<CertificateRecord>> by_serial(const std::string& serial) const = 0;
  [[nodiscard]] virtual base::Result<std::vector<CertificateRecord>> by_key_fingerprint(
      const std::string& fingerprint) const = 0;
  // Oldest first.
  [[nodiscard]] virtual base::Result<std::vector<CertificateRecord>> by_device(
      const std::string& device_serial) const = 0;
};

// HTTP Basic credentials for EST (RFC 7030 §3.2.3), the explicit opt-in for a
// device that has no IDevID yet. Never a fleet-wide secret: one credential per
// device, usable once; only the SHA-256 of the secret is stored.
enum class CredentialUse {
  Accepted,  // it was unused and valid: now it is used
  Reused,    // right secret, already used once (audited by the RA)
  Expired,   // right secret, past its expiry
  Unknown,   // no credential for this device, or another secret
};

class BootstrapCredentialStore {
 public:
  virtual ~BootstrapCredentialStore() = default;
  // What use_credential would answer now, changing nothing (to authenticate
  // before any other work, without spending the credential yet).
  [[nodiscard]] virtual base::Result<CredentialUse> credential_state(const std::string& device_serial,
                                                                     const std::string& secret_sha256_hex,
                                                                     base::TimePoint now) const = 0;
  // Atomically marks the credential used: of two concurrent uses exactly one
  // is Accepted, also across processes.
  [[nodiscard]] virtual base::Result<CredentialUse> use_credential(const std::string& device_serial,
                                                                   const std::string& secret_sha256_hex,
                                                                   base::TimePoint now) = 0;
  // Sets the device's credential (the operator's CLI), replacing an earlier one, used or not.
  [[nodiscard]] virtual base::Status put_credential(const std::string& device_serial,
                                                    const std::string& secret_sha256_hex, base::TimePoint created,
                                                    base::TimePoint expires) = 0;
};

}  // namespace hallmark::ra
