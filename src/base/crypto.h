// Algorithm names and the few primitive operations (digests, signature format
// conversion, signature verification over a SubjectPublicKeyInfo) shared by pkix,
// keys and audit. No X.509 here: that is pkix's room.
#pragma once

#include <memory>
#include <string_view>

#include <openssl/types.h>

#include "base/bytes.h"
#include "base/result.h"

namespace hallmark::base {

enum class KeyAlgorithm { EcP256, EcP384, Rsa2048, Rsa3072, Rsa4096, Ed25519 };

enum class SignatureAlgorithm {
  EcdsaSha256,  // ecdsa-with-SHA256, signature as raw r||s (2 x 32 bytes)
  EcdsaSha384,  // ecdsa-with-SHA384, raw r||s (2 x 48 bytes)
  RsaPkcs1Sha256,
  RsaPkcs1Sha384,
  Ed25519,
};

std::string_view to_string(KeyAlgorithm a);
Result<KeyAlgorithm> parse_key_algorithm(std::string_view name);  // "p256", "p384", "rsa2048", …
std::string_view to_string(SignatureAlgorithm a);
Result<SignatureAlgorithm> parse_signature_algorithm(std::string_view name);  // inverse of to_string

// The signature algorithm a key of this type signs with.
SignatureAlgorithm default_signature_algorithm(KeyAlgorithm a);

Bytes sha256(ByteView data);
Bytes sha1(ByteView data);

// ECDSA signature conversions: raw r||s (each `width` bytes) <-> DER Ecdsa-Sig-Value.
Result<Bytes> ecdsa_raw_to_der(ByteView raw);
Result<Bytes> ecdsa_der_to_raw(ByteView der, std::size_t width);

// Verifies `signature` (raw r||s for ECDSA) over `message` with the public key
// given as DER SubjectPublicKeyInfo. BadSignature when it does not verify.
Status verify_signature(ByteView spki_der, SignatureAlgorithm alg, ByteView message, ByteView signature);

struct EvpPkeyDeleter {
  void operator()(EVP_PKEY* key) const;
};
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, EvpPkeyDeleter>;

// Decodes a DER SubjectPublicKeyInfo into an OpenSSL key. P-256, P-384 and
// Ed25519 keys take a fast path (their SPKI has a fixed prefix, and importing
// the raw key skips OpenSSL 3.0's decoder machinery, which costs ~0.3 ms per
// call); everything else goes through d2i_PUBKEY. Malformed when it does not
// decode or bytes follow it.
Result<EvpPkeyPtr> decode_public_key(ByteView spki_der);

// Human-readable description of the most recent OpenSSL error(s); clears the queue.
std::string openssl_error_string();

}  // namespace hallmark::base
