#include "ca/revocation.h"

#include <array>
#include <cctype>

#include "pkix/crl.h"

namespace hallmark::ca {

using base::ErrorCode;
using base::make_error;

namespace {

struct ReasonName {
  RevocationReason reason;
  std::string_view name;
};

constexpr std::array<ReasonName, 10> kReasons{{
    {RevocationReason::Unspecified, "unspecified"},
    {RevocationReason::KeyCompromise, "keyCompromise"},
    {RevocationReason::CaCompromise, "cACompromise"},
    {RevocationReason::AffiliationChanged, "affiliationChanged"},
    {RevocationReason::Superseded, "superseded"},
    {RevocationReason::CessationOfOperation, "cessationOfOperation"},
    {RevocationReason::CertificateHold, "certificateHold"},
    {RevocationReason::RemoveFromCrl, "removeFromCRL"},
    {RevocationReason::PrivilegeWithdrawn, "privilegeWithdrawn"},
    {RevocationReason::AaCompromise, "aACompromise"},
}};

bool equal_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

}  // namespace

base::Result<RevocationReason> parse_revocation_reason(std::string_view text) {
  for (const auto& r : kReasons) {
    const bool by_number = text == std::to_string(static_cast<int>(r.reason));
    if (by_number || equal_ignoring_case(text, r.name)) {
      if (r.reason == RevocationReason::RemoveFromCrl) {
        return make_error(
            ErrorCode::InvalidArgument,
            "removeFromCRL (8) only appears in delta CRLs (RFC 5280 §5.3.1); it is not a reason to revoke");
      }
      return r.reason;
    }
  }
  std::string names;
  for (const auto& r : kReasons) {
    if (r.reason == RevocationReason::RemoveFromCrl) continue;
    names +=
        (names.empty() ? "" : ", ") + std::string(r.name) + " (" + std::to_string(static_cast<int>(r.reason)) + ")";
  }
  return make_error(ErrorCode::InvalidArgument, "unknown revocation reason '" + std::string(text) + "'; use " + names);
}

std::string_view to_string(RevocationReason reason) {
  for (const auto& r : kReasons) {
    if (r.reason == reason) return r.name;
  }
  return "unspecified";
}

base::Result<StoredCrl> issue_crl(const SigningAuthority& authority, RevocationStore& store, const base::Clock& clock,
                                  const CrlSettings& settings) {
  if (!authority.certificate || authority.signer == nullptr) {
    return make_error(ErrorCode::Internal, "a CRL needs the issuer's certificate and key");
  }
  const auto& cert = *authority.certificate;
  auto aki = cert.subject_key_identifier();
  if (!aki) return make_error(ErrorCode::InvalidArgument, "issuer '" + authority.name + "' has no key identifier");
  HM_TRY(auto generation, store.generation());
  HM_TRY(auto revoked, store.revoked_by(authority.name));

  pkix::CrlSpec spec;
  spec.signature_algorithm = authority.signer->signature_algorithm();
  spec.issuer = cert.subject();
  // Whole seconds: the CRL's times carry no fractions (RFC 5280 §5.1.2.4).
  spec.this_update = std::chrono::floor<std::chrono::seconds>(clock.now());
  spec.next_update = spec.this_update + settings.validity;
  spec.authority_key_id = *aki;
  spec.distribution_point = settings.distribution_point;
  spec.only_user_certs = settings.only_user_certs;
  for (const auto& r : revoked) {
    HM_TRY(auto serial, base::hex_decode(r.serial));
    spec.entries.push_back({std::move(serial), r.revoked_at, static_cast<int>(r.reason)});
  }
  return store.store_next_crl(authority.name, [&](std::int64_t number) -> base::Result<StoredCrl> {
    spec.crl_number = number;
    HM_TRY(auto tbs, pkix::encode_tbs_cert_list(spec));
    HM_TRY(auto signature, authority.signer->sign(tbs));
    HM_TRY(auto der, pkix::assemble_crl(tbs, spec.signature_algorithm, signature));
    return StoredCrl{authority.name, number, generation, spec.this_update, spec.next_update, std::move(der)};
  });
}

}  // namespace hallmark::ca
