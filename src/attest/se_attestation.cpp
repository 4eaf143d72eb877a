#include "attest/se_attestation.h"

#include <cstring>

#include "base/crypto.h"
#include "pkix/public_key.h"

namespace hallmark::attest {

namespace {

SeVerdict fail(SeCheck check, std::string detail) {
  SeVerdict v;
  v.check = check;
  v.detail = std::move(detail);
  return v;
}

}  // namespace

base::Bytes se_attestation_message(base::ByteView nonce) {
  const std::size_t n = std::strlen(kSeAttestationContext);
  base::Bytes out(n + nonce.size());
  std::memcpy(out.data(), kSeAttestationContext, n);
  if (!nonce.empty()) std::memcpy(out.data() + n, nonce.data(), nonce.size());
  return out;
}

SeVerdict SeAttestationVerifier::verify(const SeEvidence& ev, base::ByteView key_spki_der) const {
  if (ev.nonce.size() != kSeNonceSize) {
    return fail(SeCheck::Malformed, "the nonce must be " + std::to_string(kSeNonceSize) + " octets (got " +
                                        std::to_string(ev.nonce.size()) + ")");
  }
  if (ev.signature.empty() || ev.signature.size() > 1024) {
    return fail(SeCheck::Malformed, "the signature is empty or longer than 1024 octets");
  }
  if (ev.chain.empty() || ev.chain.size() > kMaxPath) {
    return fail(SeCheck::Malformed,
                "the attestation chain must hold 1 to " + std::to_string(kMaxPath) + " certificates");
  }
  std::vector<pkix::Certificate> presented;
  for (const auto& der : ev.chain) {
    auto c = pkix::Certificate::parse(der);
    if (!c.ok())
      return fail(SeCheck::Malformed, "an attestation chain certificate does not decode: " + c.error().detail);
    presented.push_back(std::move(c.value()));
  }
  if (m_roots.empty()) {
    return fail(SeCheck::Chain,
                "the site authorization names no SE vendor roots (site create --se-roots), so no SE chain can be "
                "trusted");
  }
  auto path = validate_path(presented, m_roots, m_clock.now(),
                            PathWording{"SE attestation certificate", "configured SE vendor root"});
  if (!path.ok()) return fail(SeCheck::Chain, path.error().detail);

  auto leaf_key = presented.front().public_key();
  if (!leaf_key.ok()) return fail(SeCheck::Malformed, "the attestation certificate's key does not decode");
  if (leaf_key->spki_der() != base::Bytes(key_spki_der.begin(), key_spki_der.end())) {
    return fail(SeCheck::KeyMismatch, "the SE attested key " + base::hex_encode(leaf_key->fingerprint()).substr(0, 16) +
                                          "… is not the key in the CSR");
  }
  auto alg = leaf_key->algorithm();
  if (!alg.ok()) return fail(SeCheck::Malformed, "the attested key's algorithm is not supported");
  const auto sig_alg = base::default_signature_algorithm(alg.value());
  base::Bytes raw = ev.signature;
  if (sig_alg == base::SignatureAlgorithm::EcdsaSha256 || sig_alg == base::SignatureAlgorithm::EcdsaSha384) {
    auto converted = base::ecdsa_der_to_raw(ev.signature, alg.value() == base::KeyAlgorithm::EcP384 ? 48 : 32);
    if (!converted.ok()) return fail(SeCheck::Signature, "the signature is not a DER ECDSA signature");
    raw = std::move(converted).value();
  }
  const auto message = se_attestation_message(ev.nonce);
  if (!leaf_key->verify(sig_alg, message, raw).ok()) {
    return fail(SeCheck::Signature,
                "the signature over the station's nonce does not verify with the attested key (signed by another key, "
                "or over another nonce)");
  }
  SeVerdict ok;
  ok.vendor_root = path->anchor->name;
  ok.leaf_subject = presented.front().subject().to_string();
  return ok;
}

}  // namespace hallmark::attest
