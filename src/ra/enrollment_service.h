// EnrollmentService: the runtime channel's gate to the CA. A protocol front end
// (EST today) hands it the TLS facts and the CSR; it authenticates the device
// (IDevID for initial enrollment, the current LDevID for renewal), checks
// revocation in the store at request time, checks the CSR against the
// authenticated identity and the label's policy, and asks ca::Issuer for the
// certificate. The only module that asks ca to issue (DESIGN layer 3).
#pragma once

#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "attest/idevid_verifier.h"
#include "audit/record.h"
#include "base/bytes.h"
#include "base/result.h"
#include "ca/issuer.h"
#include "pkix/certificate.h"
#include "pkix/csr.h"
#include "ra/ports.h"

namespace hallmark::ra {

// Per-label policy (EST label, later ACME/CMP profiles).
struct EnrollmentPolicy {
  std::string label;  // as named on the wire ("" = default)
  std::string profile = "ldevid";
  std::string issuer = "runtime";
  bool require_rekey = false;  // renewal must bring a new key
  bool pop_linking = false;    // CSR challengePassword must carry the TLS channel binding
  bool http_basic = false;     // a device without a client certificate may enroll with a single-use credential
};

// Whether `user` can be an HTTP Basic user name, i.e. a device serial: 1 to 64
// printable ASCII characters without spaces or ':' (RFC 7617 §2 forbids ':').
bool is_valid_basic_user(std::string_view user);

// HTTP Basic credentials from the Authorization header (RFC 7617).
struct BasicCredentials {
  std::string user;  // the device serial
  std::string password;
};

// What the transport established about the requester.
struct Authentication {
  std::vector<base::Bytes> peer_chain;  // raw DER, leaf first, unverified
  std::string channel_binding_type;     // "tls-unique" | "tls-exporter" | ""
  base::Bytes channel_binding;
  std::string peer_address;
  std::optional<BasicCredentials> basic;  // only when the request carried them
};

struct Enrolled {
  pkix::Certificate certificate;
  std::string device_serial;
};

class EnrollmentService {
 public:
  using AuthorityProvider = std::function<base::Result<ca::SigningAuthority>(const std::string& issuer)>;

  // `devices` verifies IDevID chains (factory, site, imported CAs);
  // `renewals` verifies LDevID chains (the runtime CAs).
  EnrollmentService(ca::Issuer& issuer, AuthorityProvider authorities, const CertificateStatusLookup& lookup,
                    const attest::IdevidVerifier& devices, const attest::IdevidVerifier& renewals,
                    std::string protocol = "est");

  // Initial enrollment authenticated by the IDevID (RFC 7030 §4.2.1).
  // `server_key_spki`: for server-side key generation, the key to certify
  // instead of the CSR's. Errors: Unauthenticated (no/untrusted/revoked client
  // certificate, PoP mismatch), Forbidden (serial mismatch, key of another
  // device, rekey required), Malformed/Unsupported/BadSignature (CSR),
  // PolicyDenied, Unavailable/Internal.
  [[nodiscard]] base::Result<Enrolled> enroll(const EnrollmentPolicy& policy, const Authentication& auth,
                                              base::ByteView csr_data,
                                              const std::optional<base::Bytes>& server_key_spki = std::nullopt);

  // Renewal authenticated by the device's current, unrevoked LDevID (RFC 7030 §4.2.2).
  [[nodiscard]] base::Result<Enrolled> reenroll(const EnrollmentPolicy& policy, const Authentication& auth,
                                                base::ByteView csr_data);

  // Authenticates only (e.g. before generating a key server-side).
  [[nodiscard]] base::Result<attest::DeviceIdentity> authenticate_device(const Authentication& auth) const;

  // Records refusals of devices that proved who they are (a valid chain or a
  // credential) but may not enroll: revoked or unknown certificates, a CSR
  // claiming another device's serial, a key of another device, a reused
  // credential. Requests without a valid identity are not recorded (anyone
  // could fill the audit log with them); the access log has them. Call before serving.
  using AuditSink = std::function<void(const audit::Event&)>;
  void audit_refusals(AuditSink sink);

  // Enables initial enrollment with single-use HTTP Basic credentials for the
  // labels whose policy allows it. Call before serving.
  void enable_http_basic(BootstrapCredentialStore& credentials);

 private:
  // Not revoked, and known where it must be: see the .cpp.
  base::Status check_not_revoked(const attest::DeviceIdentity& id) const;
  // Renewal needs the device's birth identity to stand: refused when every
  // IDevID of the device is revoked or issued by a revoked CA (site revoke).
  base::Status check_birth_identity(const std::string& device_serial) const;
  // Audits `e` when it refuses an identified device (see audit_refusals); returns it.
  // `actor`: what proved the device; `cert_serial`: its certificate, if any.
  base::Error refused(const std::string& actor, const std::string& device_serial, const std::string& cert_serial,
                      const Authentication& auth, base::Error e) const;
  base::Error refused(const attest::DeviceIdentity& id, const Authentication& auth, base::Error e) const {
    return refused(m_protocol + ":" + id.leaf_fingerprint, id.serial_number, id.leaf_serial, auth, std::move(e));
  }
  base::Result<Enrolled> enroll_device(const EnrollmentPolicy& policy, const Authentication& auth,
                                       const attest::DeviceIdentity& id, base::ByteView csr_data,
                                       const std::optional<base::Bytes>& server_key_spki);
  base::Result<Enrolled> reenroll_device(const EnrollmentPolicy& policy, const Authentication& auth,
                                         const attest::DeviceIdentity& id, base::ByteView csr_data);
  base::Result<Enrolled> enroll_with_credential(const EnrollmentPolicy& policy, const Authentication& auth,
                                                base::ByteView csr_data,
                                                const std::optional<base::Bytes>& server_key_spki);
  // `spend`: mark it used (inside the issuance critical section); otherwise only check it.
  base::Status check_credential(const Authentication& auth, bool spend);
  // `authenticated_by` names what proved the device, for the refusal text.
  base::Result<pkix::Csr> check_csr(const EnrollmentPolicy& policy, const Authentication& auth, base::ByteView csr_data,
                                    const std::string& device_serial,
                                    std::string_view authenticated_by = "the client certificate") const;
  base::Status check_key(const std::string& spki_fingerprint, const std::string& device_serial) const;
  // `authenticator`: what proved the device (recorded as the origin). With
  // `credential`, the single-use credential is spent inside the critical
  // section, after the last check that could refuse the request.
  base::Result<Enrolled> issue(const EnrollmentPolicy& policy, const std::string& authenticator,
                               const std::string& device_serial, const base::Bytes& spki,
                               const Authentication* credential = nullptr);

  ca::Issuer& m_issuer;
  AuthorityProvider m_authorities;
  const CertificateStatusLookup& m_lookup;
  const attest::IdevidVerifier& m_devices;
  const attest::IdevidVerifier& m_renewals;
  std::string m_protocol;
  BootstrapCredentialStore* m_credentials = nullptr;
  AuditSink m_audit_refusal;
  // Issuance (the key check, ledger, signing, audit) is one critical section:
  // ca::Issuer and the audit log are not meant for concurrent callers, and the
  // duplicate-key check must not race with the issuance it guards.
  std::mutex m_issue_mutex;
};

}  // namespace hallmark::ra
