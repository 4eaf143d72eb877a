// SeAttestationVerifier: checks secure-element evidence that a key lives in an
// SE. The station issued a fresh nonce; the device's SE signed
//   "hallmark-se-attestation-v1" || nonce   (26 ASCII octets, then the 32 nonce octets)
// with the key it wants certified, and presents the SE vendor's attestation
// certificate chain for that key (leaf = the vendor's certificate for the
// device key, then intermediates). Pure: the nonce's freshness and single use
// are the caller's (factory) bookkeeping; this checks everything else.
//
// Checks, in order (each failure names its check): the evidence is well formed
// (nonce of 32 octets, 1..8 DER certificates, a signature); the chain validates
// to a configured SE vendor root (validate_path); the leaf's public key equals
// the key being certified (the CSR's SPKI); the signature verifies with that key
// (the key's default algorithm: ECDSA with SHA-256/384 as DER like `openssl dgst
// -sign` makes it, RSA PKCS#1 v1.5 SHA-256, Ed25519).
#pragma once

#include <string>
#include <vector>

#include "attest/path_validator.h"
#include "base/bytes.h"
#include "base/clock.h"

namespace hallmark::attest {

inline constexpr char kSeAttestationContext[] = "hallmark-se-attestation-v1";
inline constexpr std::size_t kSeNonceSize = 32;

// The octets the SE signs: context || nonce.
base::Bytes se_attestation_message(base::ByteView nonce);

struct SeEvidence {
  base::Bytes nonce;
  base::Bytes signature;
  std::vector<base::Bytes> chain;  // DER, leaf first
};

enum class SeCheck { Ok, Malformed, Chain, KeyMismatch, Signature };

struct SeVerdict {
  SeCheck check = SeCheck::Ok;  // the check that failed, Ok when all passed
  std::string detail;           // why (client-safe)
  std::string vendor_root;      // TrustAnchor::name the chain ended at (Ok only)
  std::string leaf_subject;     // the attestation certificate's subject (Ok only)
  bool ok() const { return check == SeCheck::Ok; }
};

class SeAttestationVerifier {
 public:
  SeAttestationVerifier(std::vector<TrustAnchor> vendor_roots, const base::Clock& clock)
      : m_roots(std::move(vendor_roots)), m_clock(clock) {}

  // `key_spki_der`: the SubjectPublicKeyInfo of the key to be certified.
  SeVerdict verify(const SeEvidence& evidence, base::ByteView key_spki_der) const;
  std::size_t root_count() const { return m_roots.size(); }

 private:
  std::vector<TrustAnchor> m_roots;
  const base::Clock& m_clock;
};

}  // namespace hallmark::attest
