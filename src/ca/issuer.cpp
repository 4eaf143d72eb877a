#include "ca/issuer.h"

#include <signal.h>

#include <cstdlib>
#include <cstring>

#include "ca/linter.h"
#include "pkix/crl.h"
#include "pkix/der.h"
#include "pkix/extensions.h"
#include "pkix/oid.h"
#include "pkix/tbs_certificate.h"

namespace hallmark::ca {

using base::ErrorCode;
using base::make_error;
using base::Result;

namespace {

// Fault injection for crash tests: HALLMARK_FAULT=after-reserve kills the process
// with SIGKILL between the ledger reservation and the signature.
bool fault_after_reserve() {
  static const bool enabled = [] {
    const char* f = std::getenv("HALLMARK_FAULT");
    return f != nullptr && std::strcmp(f, "after-reserve") == 0;
  }();
  return enabled;
}

// Slightly backdated so that devices whose clocks lag a little accept fresh
// certificates (standards.md §7.3).
constexpr std::chrono::seconds kBackdate{60};

}  // namespace

struct Issuer::Prepared {
  LedgerEntry entry;
  base::SignatureAlgorithm signature_algorithm{};
  std::vector<std::string> warnings;
};

base::Bytes new_serial(base::Rng& rng) {
  auto serial = rng.bytes(16);
  // Positive (high bit clear) and always 16 octets (next bit set): RFC 5280 §4.1.2.2.
  serial[0] = static_cast<std::uint8_t>((serial[0] & 0x3F) | 0x40);
  return serial;
}

Issuer::Issuer(const Settings& settings, const ProfileRegistry& profiles, Ledger& ledger, const base::Clock& clock,
               base::Rng& rng, std::function<void(std::uint64_t)> on_audit_appended)
    : m_settings(settings),
      m_profiles(profiles),
      m_ledger(ledger),
      m_clock(clock),
      m_rng(rng),
      m_on_audit_appended(std::move(on_audit_appended)) {}

Result<Issuer::Prepared> Issuer::prepare(const SigningAuthority& authority, const IssuanceRequest& req,
                                         const Profile& profile) {
  Prepared out;
  // The key's structure and type are checked here; that it is a valid key is
  // proven by the proof of possession the caller verified (the CSR signature),
  // so the CA does not pay for a second import of the same key.
  HM_TRY(auto key_alg, pkix::spki_algorithm(req.public_key_der));
  (void)key_alg;
  HM_TRY(const auto key_id, pkix::spki_key_identifier(req.public_key_der));

  const bool self_signed = !authority.certificate.has_value();
  if (self_signed && authority.signer->public_key_der() != req.public_key_der) {
    return make_error(ErrorCode::InvalidArgument, "a self-signed certificate must certify its signer's key");
  }

  pkix::TbsCertificateSpec spec;
  spec.signature_algorithm = authority.signer->signature_algorithm();
  spec.subject_public_key_info = req.public_key_der;

  // Subject from the profile and the request's values (never from a CSR).
  switch (profile.kind) {
    case ProfileKind::Root:
    case ProfileKind::Intermediate:
      if (req.common_name.empty()) return make_error(ErrorCode::InvalidArgument, "a CA needs a common name");
      HM_CHECK(spec.subject.add(pkix::oid::kCountry, m_settings.country));
      HM_CHECK(spec.subject.add(pkix::oid::kOrganization, m_settings.organization));
      HM_CHECK(spec.subject.add(pkix::oid::kCommonName, req.common_name));
      break;
    case ProfileKind::IDevID: {
      Product product{m_settings.organization, m_settings.default_hw_type};
      if (auto it = m_settings.products.find(req.product); it != m_settings.products.end()) {
        product = it->second;
      } else {
        out.warnings.push_back("product '" + req.product + "' is not in the product table; using vendor '" +
                               product.vendor + "' and the default hwType " + product.hw_type);
      }
      HM_CHECK(spec.subject.add(pkix::oid::kOrganization, product.vendor));
      HM_CHECK(spec.subject.add(pkix::oid::kSerialNumber, req.device_serial));
      pkix::SubjectAltNames san;
      if (req.hardware_module) {
        san.hardware_modules.push_back(*req.hardware_module);
      } else {
        san.hardware_modules.push_back({product.hw_type, base::to_bytes(req.device_serial)});
      }
      HM_TRY(auto ext, pkix::ext::subject_alt_name(san));
      spec.extensions.push_back(std::move(ext));
      break;
    }
    case ProfileKind::LDevID:
      HM_CHECK(spec.subject.add(pkix::oid::kOrganization, m_settings.organization));
      HM_CHECK(spec.subject.add(pkix::oid::kSerialNumber, req.device_serial));
      break;
    case ProfileKind::OcspSigning:
      if (req.common_name.empty()) return make_error(ErrorCode::InvalidArgument, "an OCSP responder needs a name");
      HM_CHECK(spec.subject.add(pkix::oid::kOrganization, m_settings.organization));
      HM_CHECK(spec.subject.add(pkix::oid::kCommonName, req.common_name));
      break;
    case ProfileKind::TlsServer: {
      if (req.common_name.empty() && req.dns_names.empty() && req.ip_addresses.empty()) {
        return make_error(ErrorCode::InvalidArgument, "a tls-server certificate needs a name (DNS or IP)");
      }
      HM_CHECK(spec.subject.add(pkix::oid::kOrganization, m_settings.organization));
      HM_CHECK(spec.subject.add(pkix::oid::kCommonName,
                                req.common_name.empty()
                                    ? (req.dns_names.empty() ? req.ip_addresses.front() : req.dns_names.front())
                                    : req.common_name));
      pkix::SubjectAltNames san;
      san.dns = req.dns_names;
      san.ip = req.ip_addresses;
      if (!san.empty()) {
        HM_TRY(auto ext, pkix::ext::subject_alt_name(san));
        spec.extensions.push_back(std::move(ext));
      }
      break;
    }
  }
  spec.issuer = self_signed ? spec.subject : authority.certificate->subject();

  // Validity: from the profile, capped by the request, kept inside the issuer's.
  const auto now = m_clock.now();
  spec.not_before = now - kBackdate;
  if (profile.no_expiry) {
    spec.no_expiry = true;
    spec.not_after = spec.not_before;  // unused when no_expiry
  } else {
    // CA profiles take their lifetime from the hierarchy settings (the request's cap).
    auto validity = profile.validity;
    if (req.validity_cap && (validity.count() == 0 || *req.validity_cap < validity)) validity = *req.validity_cap;
    if (validity.count() <= 0) {
      return make_error(ErrorCode::InvalidArgument, "profile '" + profile.name + "' needs a validity period");
    }
    spec.not_after = spec.not_before + validity;
    if (!self_signed) {
      const auto issuer_end = authority.certificate->not_after();
      if (!issuer_end.no_expiry && spec.not_after > issuer_end.time) {
        spec.not_after = issuer_end.time;
        out.warnings.push_back("validity clamped to the issuer's notAfter " + issuer_end.text);
      }
    }
  }

  // Extensions from the profile.
  const std::uint16_t ku = profile.key_usage;
  if (profile.is_ca) {
    spec.extensions.insert(spec.extensions.begin(),
                           pkix::ext::basic_constraints(true, req.path_len ? req.path_len : profile.path_len));
  }
  spec.extensions.push_back(pkix::ext::key_usage(ku, true));
  if (!profile.ext_key_usage.empty()) spec.extensions.push_back(pkix::ext::ext_key_usage(profile.ext_key_usage));
  // 802.1AR does not recommend an SKI on the IDevID; every other profile carries one.
  if (profile.kind != ProfileKind::IDevID) {
    spec.extensions.push_back(pkix::ext::subject_key_identifier(key_id));
  }
  const auto issuer_key_id =
      self_signed ? key_id : authority.certificate->subject_key_identifier().value_or(base::Bytes{});
  if (!issuer_key_id.empty()) spec.extensions.push_back(pkix::ext::authority_key_identifier(issuer_key_id));
  if (profile.ocsp_nocheck) spec.extensions.push_back({pkix::oid::kOcspNoCheck, false, pkix::der::null()});
  if (profile.revocation_pointers && !m_settings.revocation_base_url.empty()) {
    const auto& base_url = m_settings.revocation_base_url;
    spec.extensions.push_back({pkix::oid::kCrlDistributionPoints, false,
                               pkix::crl_distribution_points_value(base_url + "/crl/" + authority.name + ".crl")});
    spec.extensions.push_back({pkix::oid::kAuthorityInfoAccess, false, pkix::ocsp_access_value(base_url + "/ocsp")});
  }

  // Serial, then the TBS, then lint before anything is recorded or signed.
  spec.serial = new_serial(m_rng);
  HM_TRY(auto tbs, pkix::encode_tbs_certificate(spec));
  HM_TRY(auto inspect, pkix::Certificate::from_tbs(tbs));
  LintContext lint_ctx{&profile, self_signed ? nullptr : &*authority.certificate};
  const auto findings = lint(inspect, lint_ctx);
  if (!findings.empty()) {
    std::string text;
    for (const auto& f : findings) text += (text.empty() ? "" : "; ") + f.rule + ": " + f.message;
    return make_error(ErrorCode::PolicyDenied, "the linter refused the certificate: " + text);
  }

  out.signature_algorithm = spec.signature_algorithm;
  auto& e = out.entry;
  e.serial = inspect.serial_hex();
  e.issuer = authority.name;
  e.profile = profile.name;
  e.device_serial = req.device_serial;
  e.product = req.product;
  e.channel = req.channel;
  e.origin = req.origin;
  e.evidence_digest = req.evidence_digest;
  e.key_fingerprint = base::hex_encode(base::sha256(req.public_key_der));
  e.subject = spec.subject.to_string();
  e.tbs = std::move(tbs);
  e.status = CertificateStatus::Pending;
  e.created = now;
  e.not_after = inspect.not_after().time;
  return out;
}

Result<const Profile*> Issuer::check(const SigningAuthority& authority, const IssuanceRequest& req) const {
  if (authority.signer == nullptr) return make_error(ErrorCode::Internal, "issuer has no signer");
  HM_TRY(const Profile* profile, m_profiles.find(req.profile));
  if (!profile->channels.contains(req.channel)) {
    return make_error(ErrorCode::PolicyDenied, "profile '" + profile->name + "' cannot be issued over the " +
                                                   std::string(audit::to_string(req.channel)) + " channel");
  }
  if (profile->requires_device_serial && req.device_serial.empty()) {
    return make_error(ErrorCode::InvalidArgument,
                      "profile '" + profile->name + "' binds a device serial number: give --serial-number");
  }
  if (authority.certificate) {
    const auto bc = authority.certificate->basic_constraints();
    if (!bc || !bc->ca) return make_error(ErrorCode::InvalidArgument, "issuer '" + authority.name + "' is not a CA");
    // RFC 5280 §4.2.1.9: pathLenConstraint bounds the CA certificates that may follow.
    if (profile->is_ca && bc->path_len) {
      const auto child = req.path_len ? req.path_len : profile->path_len;
      if (*bc->path_len == 0 || !child || *child >= *bc->path_len) {
        return make_error(ErrorCode::PolicyDenied,
                          "issuer '" + authority.name + "' has pathLen " + std::to_string(*bc->path_len) +
                              ": it cannot certify a CA with " +
                              (child ? "pathLen " + std::to_string(*child) : std::string("no pathLen")));
      }
    }
  }
  return profile;
}

Result<IssuedCertificate> Issuer::issue(const SigningAuthority& authority, const IssuanceRequest& req) {
  auto results = issue_all(authority, std::span<const IssuanceRequest>(&req, 1));
  return std::move(results.front());
}

std::vector<Result<IssuedCertificate>> Issuer::issue_all(const SigningAuthority& authority,
                                                         std::span<const IssuanceRequest> reqs,
                                                         const ParallelFor& parallel) {
  const std::size_t n = reqs.size();
  auto each = [&](const std::function<void(std::size_t)>& body) {
    if (parallel) {
      parallel(n, body);
    } else {
      for (std::size_t i = 0; i < n; ++i) body(i);
    }
  };
  std::vector<std::optional<base::Error>> failed(n);
  std::vector<Prepared> prepared(n);
  std::vector<Reservation> batch;
  std::vector<std::size_t> in_batch;  // batch position -> request index
  for (int attempt = 0;; ++attempt) {
    each([&](std::size_t i) {
      if (failed[i]) return;
      auto profile = check(authority, reqs[i]);
      auto p = profile.ok() ? prepare(authority, reqs[i], *profile.value()) : Result<Prepared>(profile.error());
      if (p.ok()) {
        prepared[i] = std::move(p.value());
      } else {
        failed[i] = p.take_error();
      }
    });
    batch.clear();
    in_batch.clear();
    for (std::size_t i = 0; i < n; ++i) {
      if (failed[i]) continue;
      const auto& req = reqs[i];
      audit::Event event;
      event.actor = req.actor;
      event.channel = req.channel;
      event.action = "signing";
      event.profile = prepared[i].entry.profile;
      event.evidence_digest = req.evidence_digest;
      event.cert_serial = prepared[i].entry.serial;
      if (!req.device_serial.empty()) event.detail = "device " + req.device_serial;
      batch.push_back({prepared[i].entry, std::move(event)});
      in_batch.push_back(i);
    }
    if (batch.empty()) break;
    auto reserved = m_ledger.reserve_all(batch);
    if (reserved.ok()) break;
    // A 126-bit random serial collides only by a fault of the RNG: try twice more, then stop.
    if (reserved.error().code != ErrorCode::AlreadyExists || attempt == 2) {
      for (const auto i : in_batch) failed[i] = reserved.error();
      batch.clear();
      in_batch.clear();
      break;
    }
  }
  if (!batch.empty()) {
    if (m_on_audit_appended) m_on_audit_appended(batch.size());
    if (fault_after_reserve()) ::raise(SIGKILL);
  }

  std::vector<std::optional<pkix::Certificate>> certs(n);
  each([&](std::size_t i) {
    if (failed[i]) return;
    auto signature = authority.signer->sign(prepared[i].entry.tbs);
    auto cert = signature.ok() ? pkix::assemble_certificate(prepared[i].entry.tbs, prepared[i].signature_algorithm,
                                                            signature.value())
                               : Result<pkix::Certificate>(signature.error());
    if (cert.ok()) {
      certs[i] = std::move(cert.value());
    } else {
      failed[i] = cert.take_error();
    }
  });
  std::vector<Completion> done;
  std::vector<std::size_t> in_done;
  for (std::size_t b = 0; b < batch.size(); ++b) {
    const auto i = in_batch[b];
    if (failed[i]) continue;
    auto event = batch[b].signing;
    event.action = "signed";
    done.push_back({prepared[i].entry.serial, certs[i]->der(), std::move(event)});
    in_done.push_back(i);
  }
  if (!done.empty()) {
    auto stored = m_ledger.complete_all(done);
    if (!stored.ok()) {
      for (const auto i : in_done) failed[i] = stored.error();
    } else if (m_on_audit_appended) {
      m_on_audit_appended(done.size());
    }
  }

  std::vector<Result<IssuedCertificate>> out;
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    if (failed[i]) {
      out.emplace_back(std::move(*failed[i]));
    } else {
      out.emplace_back(IssuedCertificate{std::move(*certs[i]), std::move(prepared[i].warnings)});
    }
  }
  return out;
}

}  // namespace hallmark::ca
