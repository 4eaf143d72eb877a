// Issuer: the issuance cycle. prepare (build the TBS from the profile, never by
// copying the CSR; lint) -> ledger: reserve serial + TBS with audit "signing"
// -> sign with the keys::Signer -> ledger: store the certificate with audit "signed".
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "audit/record.h"
#include "base/clock.h"
#include "base/result.h"
#include "base/rng.h"
#include "ca/ledger.h"
#include "ca/profile.h"
#include "ca/settings.h"
#include "keys/signer.h"
#include "pkix/certificate.h"
#include "pkix/extensions.h"
#include "pkix/name.h"

namespace hallmark::ca {

// A CA able to sign: its certificate (absent while self-signing a root) and key.
struct SigningAuthority {
  std::string name;                              // issuer name in the ledger
  std::optional<pkix::Certificate> certificate;  // absent for a root being created
  const keys::Signer* signer = nullptr;
};

// A request the RA (or the CLI's admin channel) hands to the CA: values, not a CSR.
struct IssuanceRequest {
  std::string profile;
  base::Bytes public_key_der;             // SubjectPublicKeyInfo
  std::string device_serial;              // device certificates
  std::string product;                    // idevid: selects vendor and hwType
  std::string common_name;                // CAs and tls-server
  std::vector<std::string> dns_names;     // tls-server
  std::vector<std::string> ip_addresses;  // tls-server
  std::optional<std::chrono::seconds> validity_cap;
  std::optional<int> path_len;  // intermediate
  audit::Channel channel = audit::Channel::Admin;
  std::string actor = "cli";
  std::string origin = "cli";
  std::string evidence_digest = "none";
  // idevid: the HardwareModuleName to carry instead of the product's hwType and the
  // device serial (a TPM device: tcg-sv-tpm20 and the EK-derived hwSerialNum).
  std::optional<pkix::HardwareModuleName> hardware_module;
};

struct IssuedCertificate {
  pkix::Certificate certificate;
  std::vector<std::string> warnings;  // e.g. unknown product, validity clamped
};

class Issuer {
 public:
  // `on_audit_appended(n)` is told how many audit records each step wrote (for
  // the checkpoint policy); it may be empty.
  Issuer(const Settings& settings, const ProfileRegistry& profiles, Ledger& ledger, const base::Clock& clock,
         base::Rng& rng, std::function<void(std::uint64_t)> on_audit_appended = {});

  base::Result<IssuedCertificate> issue(const SigningAuthority& authority, const IssuanceRequest& request);

  // Runs body(0) … body(n-1), on several threads if it likes.
  using ParallelFor = std::function<void(std::size_t n, const std::function<void(std::size_t)>& body)>;
  // The same cycle for a batch, with group commit: each request checked,
  // prepared and linted; all reserved in one ledger transaction; signed; all
  // completed in one transaction. Preparing and signing go through `parallel`
  // (sequential when empty). One result per request, in order: a request
  // refused before the ledger fails alone; a ledger failure fails every
  // request it covered (a failed completion leaves its entries pending, as a
  // crash between signature and ledger would).
  std::vector<base::Result<IssuedCertificate>> issue_all(const SigningAuthority& authority,
                                                         std::span<const IssuanceRequest> requests,
                                                         const ParallelFor& parallel = {});

 private:
  struct Prepared;
  base::Result<const Profile*> check(const SigningAuthority& authority, const IssuanceRequest& request) const;
  base::Result<Prepared> prepare(const SigningAuthority& authority, const IssuanceRequest& request,
                                 const Profile& profile);

  const Settings& m_settings;
  const ProfileRegistry& m_profiles;
  Ledger& m_ledger;
  const base::Clock& m_clock;
  base::Rng& m_rng;
  std::function<void(std::uint64_t)> m_on_audit_appended;
};

// A fresh certificate serial: 16 octets, positive, 126 random bits.
base::Bytes new_serial(base::Rng& rng);

}  // namespace hallmark::ca
