#include "ra/enrollment_service.h"

#include <algorithm>

#include "base/crypto.h"
#include "pkix/oid.h"

namespace hallmark::ra {

using base::ErrorCode;
using base::make_error;

EnrollmentService::EnrollmentService(ca::Issuer& issuer, AuthorityProvider authorities,
                                     const CertificateStatusLookup& lookup, const attest::IdevidVerifier& devices,
                                     const attest::IdevidVerifier& renewals, std::string protocol)
    : m_issuer(issuer),
      m_authorities(std::move(authorities)),
      m_lookup(lookup),
      m_devices(devices),
      m_renewals(renewals),
      m_protocol(std::move(protocol)) {}

base::Status EnrollmentService::check_not_revoked(const attest::DeviceIdentity& id) const {
  // Every certificate of the path that this PKI issued is looked up now, so a
  // revocation by another process counts from the next request. Certificates
  // of imported manufacturer CAs are unknown to the store: nothing to check.
  std::vector<const pkix::Certificate*> chain;
  for (const auto& cert : id.path) chain.push_back(&cert);
  // The anchor too (a revoked site CA: RFC 5280 §6.3 checks every CA the PKI can revoke).
  if (id.anchor_certificate) chain.push_back(&*id.anchor_certificate);
  for (const auto* c : chain) {
    const auto& cert = *c;
    auto record = m_lookup.by_serial(cert.serial_hex());
    if (!record.ok()) {
      return make_error(ErrorCode::Unavailable, "certificate status is unavailable; retry later",
                        record.error().describe());
    }
    // Ledger before signature: whatever the factory CA signs is recorded first,
    // so a certificate right under it that the ledger does not know is forged or
    // made with a stolen key. (Site CAs sign offline: their IDevIDs reach the
    // operator's ledger at the next import.)
    if (!record.value() && c == &id.path.back() && id.anchor == "factory") {
      return make_error(ErrorCode::Unauthenticated,
                        "client certificate chain: " + cert.serial_hex() +
                            " names the factory CA as its issuer but the ledger has no such certificate");
    }
    if (record.value() && record.value()->status == "revoked") {
      return make_error(ErrorCode::Unauthenticated,
                        cert.serial_hex() == id.leaf_serial
                            ? "client certificate " + id.leaf_serial + " is revoked"
                            : "CA certificate " + cert.serial_hex() + " in the client chain is revoked");
    }
  }
  return {};
}

base::Status EnrollmentService::check_birth_identity(const std::string& device_serial) const {
  auto records = m_lookup.by_device(device_serial);
  if (!records.ok()) {
    return make_error(ErrorCode::Unavailable, "certificate store is unavailable; retry later",
                      records.error().describe());
  }
  bool has_idevid = false;
  for (const auto& r : records.value()) {
    if (r.profile != "idevid") continue;
    has_idevid = true;
    if (r.status != "issued") continue;
    const auto* ca = m_devices.anchor(r.issuer);
    if (ca == nullptr) return {};  // not one of ours: nothing more to check
    auto ca_record = m_lookup.by_serial(ca->serial_hex());
    if (!ca_record.ok()) {
      return make_error(ErrorCode::Unavailable, "certificate status is unavailable; retry later",
                        ca_record.error().describe());
    }
    if (!ca_record.value() || ca_record.value()->status != "revoked") return {};
  }
  if (!has_idevid) return {};  // e.g. enrolled with a manufacturer's IDevID or an HTTP Basic credential
  return make_error(ErrorCode::Unauthenticated, "device '" + device_serial +
                                                    "' has no standing IDevID (revoked, or its CA is): its LDevID "
                                                    "cannot renew; provision the device again");
}

base::Result<attest::DeviceIdentity> EnrollmentService::authenticate_device(const Authentication& auth) const {
  HM_TRY(auto id, m_devices.verify(auth.peer_chain));
  if (auto s = check_not_revoked(id); !s.ok()) return refused(id, auth, s.error());
  return id;
}

base::Error EnrollmentService::refused(const std::string& actor, const std::string& device_serial,
                                       const std::string& cert_serial, const Authentication& auth,
                                       base::Error e) const {
  const bool refusal =
      e.code == ErrorCode::Unauthenticated || e.code == ErrorCode::Forbidden || e.code == ErrorCode::PolicyDenied;
  if (refusal && m_audit_refusal) {
    m_audit_refusal({actor, audit::Channel::Runtime, "enrollment-refused", cert_serial, "", "none",
                     "device " + device_serial + " from " + (auth.peer_address.empty() ? "?" : auth.peer_address) +
                         ": " + e.detail});
  }
  return e;
}

base::Result<pkix::Csr> EnrollmentService::check_csr(const EnrollmentPolicy& policy, const Authentication& auth,
                                                     base::ByteView csr_data, const std::string& device_serial,
                                                     std::string_view authenticated_by) const {
  HM_TRY(auto csr, pkix::Csr::parse(csr_data));
  const auto& attrs = csr.subject().attributes();
  if (std::count_if(attrs.begin(), attrs.end(), [](const auto& a) { return a.oid == pkix::oid::kSerialNumber; }) > 1) {
    return make_error(ErrorCode::Malformed,
                      "the CSR subject holds serialNumber more than once; give it once or not "
                      "at all (the certificate takes it from the device's identity)");
  }
  // The subject's serialNumber comes from the authenticated identity, never from
  // the CSR; a CSR that claims another one is an impersonation attempt.
  if (auto claimed = csr.subject().get(pkix::oid::kSerialNumber); claimed && *claimed != device_serial) {
    return make_error(ErrorCode::Forbidden, "the CSR claims serialNumber '" + *claimed + "' but " +
                                                std::string(authenticated_by) + " authenticates device '" +
                                                device_serial + "'");
  }
  if (policy.pop_linking) {
    // RFC 7030 §3.5: challengePassword = base64 of the channel binding
    // (tls-unique for TLS 1.2; RFC 9266 tls-exporter for TLS 1.3).
    if (auth.channel_binding.empty()) {
      return make_error(ErrorCode::Unauthenticated, "proof-of-possession linking needs TLS channel binding");
    }
    const auto expected = base::base64_encode(auth.channel_binding);
    const auto& got = csr.challenge_password();
    if (!got) {
      return make_error(ErrorCode::Unauthenticated, "label '" + policy.label +
                                                        "' requires proof-of-possession linking: put base64(" +
                                                        auth.channel_binding_type + ") in the CSR's challengePassword");
    }
    if (*got != expected) {
      return make_error(ErrorCode::Unauthenticated,
                        "CSR challengePassword does not match this TLS connection's " + auth.channel_binding_type);
    }
  }
  return csr;
}

base::Status EnrollmentService::check_key(const std::string& fingerprint, const std::string& device_serial) const {
  auto records = m_lookup.by_key_fingerprint(fingerprint);
  if (!records.ok()) {
    return make_error(ErrorCode::Unavailable, "certificate store is unavailable; retry later",
                      records.error().describe());
  }
  for (const auto& r : records.value()) {
    if (r.device_serial != device_serial) {
      return make_error(ErrorCode::Forbidden, "this public key is already certified for another device");
    }
  }
  return {};
}

base::Result<Enrolled> EnrollmentService::issue(const EnrollmentPolicy& policy, const std::string& authenticator,
                                                const std::string& device_serial, const base::Bytes& spki,
                                                const Authentication* credential) {
  ca::IssuanceRequest req;
  req.profile = policy.profile;
  req.public_key_der = spki;
  req.device_serial = device_serial;
  req.channel = audit::Channel::Runtime;
  req.actor = m_protocol + ":device:" + device_serial;
  req.origin = m_protocol + ":" + authenticator;
  req.evidence_digest = "none";

  std::lock_guard lock(m_issue_mutex);
  HM_CHECK(check_key(base::hex_encode(base::sha256(spki)), device_serial));
  HM_TRY(auto authority, m_authorities(policy.issuer));
  if (credential != nullptr) HM_CHECK(check_credential(*credential, true));
  HM_TRY(auto issued, m_issuer.issue(authority, req));
  return Enrolled{std::move(issued.certificate), device_serial};
}

base::Result<Enrolled> EnrollmentService::enroll(const EnrollmentPolicy& policy, const Authentication& auth,
                                                 base::ByteView csr_data,
                                                 const std::optional<base::Bytes>& server_key_spki) {
  if (auth.peer_chain.empty() && auth.basic) return enroll_with_credential(policy, auth, csr_data, server_key_spki);
  HM_TRY(auto id, m_devices.verify(auth.peer_chain));
  auto enrolled = enroll_device(policy, auth, id, csr_data, server_key_spki);
  if (!enrolled.ok()) return refused(id, auth, enrolled.error());
  return enrolled;
}

base::Result<Enrolled> EnrollmentService::enroll_device(const EnrollmentPolicy& policy, const Authentication& auth,
                                                        const attest::DeviceIdentity& id, base::ByteView csr_data,
                                                        const std::optional<base::Bytes>& server_key_spki) {
  HM_CHECK(check_not_revoked(id));
  HM_TRY(auto csr, check_csr(policy, auth, csr_data, id.serial_number));
  return issue(policy, id.leaf_fingerprint, id.serial_number,
               server_key_spki ? *server_key_spki : csr.public_key().spki_der());
}

bool is_valid_basic_user(std::string_view user) {
  return !user.empty() && user.size() <= 64 &&
         std::all_of(user.begin(), user.end(), [](char c) { return c > 0x20 && c < 0x7f && c != ':'; });
}

void EnrollmentService::audit_refusals(AuditSink sink) {
  m_audit_refusal = std::move(sink);
}

void EnrollmentService::enable_http_basic(BootstrapCredentialStore& credentials) {
  m_credentials = &credentials;
}

base::Result<Enrolled> EnrollmentService::enroll_with_credential(const EnrollmentPolicy& policy,
                                                                 const Authentication& auth, base::ByteView csr_data,
                                                                 const std::optional<base::Bytes>& server_key_spki) {
  if (!policy.http_basic || m_credentials == nullptr) {
    return make_error(ErrorCode::Unauthenticated,
                      "HTTP Basic authentication is not enabled for this label: present the IDevID as the TLS "
                      "client certificate");
  }
  const auto& device_serial = auth.basic->user;
  if (!is_valid_basic_user(device_serial)) {
    return make_error(ErrorCode::Unauthenticated,
                      "the HTTP Basic user must be the device serial (1 to 64 printable characters)");
  }
  // Authenticate first (no CSR work for a stranger), but spend the credential
  // only when the request will be issued, so a bad CSR does not burn it.
  HM_CHECK(check_credential(auth, false));
  auto csr = check_csr(policy, auth, csr_data, device_serial, "the HTTP Basic credential");
  const auto actor = m_protocol + ":basic:" + device_serial;
  if (!csr.ok()) return refused(actor, device_serial, "", auth, csr.error());
  auto issued = issue(policy, "basic:" + device_serial, device_serial,
                      server_key_spki ? *server_key_spki : csr->public_key().spki_der(), &auth);
  if (!issued.ok()) return refused(actor, device_serial, "", auth, issued.error());
  return issued;
}

base::Status EnrollmentService::check_credential(const Authentication& auth, bool spend) {
  const auto& basic = *auth.basic;
  const auto digest = base::hex_encode(base::sha256(base::to_bytes(basic.password)));
  const auto now = base::SystemClock().now();
  auto use = spend ? m_credentials->use_credential(basic.user, digest, now)
                   : m_credentials->credential_state(basic.user, digest, now);
  if (!use.ok()) {
    return make_error(ErrorCode::Unavailable, "credential store is unavailable; retry later", use.error().describe());
  }
  switch (use.value()) {
    case CredentialUse::Accepted:
      return {};
    case CredentialUse::Reused:
      if (m_audit_refusal) {
        m_audit_refusal({m_protocol + ":basic:" + basic.user, audit::Channel::Runtime, "credential-reused", "", "",
                         "none",
                         "device " + basic.user + ": single-use EST credential presented again from " +
                             (auth.peer_address.empty() ? "?" : auth.peer_address)});
      }
      return make_error(ErrorCode::Unauthenticated,
                        "this single-use credential was already used; ask the operator for a new one");
    case CredentialUse::Expired:
      return make_error(ErrorCode::Unauthenticated, "this credential has expired; ask the operator for a new one");
    case CredentialUse::Unknown:
      break;
  }
  return make_error(ErrorCode::Unauthenticated, "unknown device or wrong password");
}

base::Result<Enrolled> EnrollmentService::reenroll(const EnrollmentPolicy& policy, const Authentication& auth,
                                                   base::ByteView csr_data) {
  HM_TRY(auto id, m_renewals.verify(auth.peer_chain));
  auto renewed = reenroll_device(policy, auth, id, csr_data);
  if (!renewed.ok()) return refused(id, auth, renewed.error());
  return renewed;
}

base::Result<Enrolled> EnrollmentService::reenroll_device(const EnrollmentPolicy& policy, const Authentication& auth,
                                                          const attest::DeviceIdentity& id, base::ByteView csr_data) {
  HM_CHECK(check_not_revoked(id));
  auto record = m_lookup.by_serial(id.leaf_serial);
  if (!record.ok()) return make_error(ErrorCode::Unavailable, "certificate store is unavailable; retry later");
  if (!record.value()) {
    return make_error(ErrorCode::Unauthenticated, "client certificate " + id.leaf_serial + " is not in the ledger");
  }
  const auto& current = *record.value();
  if (current.status != "issued" || current.device_serial != id.serial_number || current.profile != policy.profile) {
    return make_error(ErrorCode::Unauthenticated, "client certificate " + id.leaf_serial + " is not a " +
                                                      policy.profile + " of device '" + id.serial_number + "'");
  }
  // "The device's current LDevID": the newest one issued under this profile. An
  // older certificate, already replaced, cannot renew again.
  HM_TRY(auto all, m_lookup.by_device(current.device_serial));
  const CertificateRecord* newest = nullptr;
  for (const auto& r : all) {
    if (r.profile == current.profile && r.status == "issued") newest = &r;  // oldest first
  }
  if (newest != nullptr && newest->serial != current.serial) {
    return make_error(ErrorCode::Unauthenticated, "client certificate " + id.leaf_serial + " has been replaced by " +
                                                      newest->serial + "; renew with the current certificate");
  }
  HM_CHECK(check_birth_identity(current.device_serial));
  HM_TRY(auto csr, check_csr(policy, auth, csr_data, current.device_serial));
  const auto& spki = csr.public_key().spki_der();
  if (policy.require_rekey && spki == id.leaf.subject_public_key_info()) {
    return make_error(ErrorCode::Forbidden, "label '" + policy.label + "' requires a new key on renewal (rekey)");
  }
  return issue(policy, id.leaf_fingerprint, current.device_serial, spki);
}

}  // namespace hallmark::ra
