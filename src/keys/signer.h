// Signer: the only way anything in Hallmark signs. A Signer holds (or names) a
// private key that never leaves its store; callers hand it the bytes to be signed
// and get the signature back. Back ends: software (encrypted PKCS#8 file), PKCS#11.
#pragma once

#include <string>

#include "base/bytes.h"
#include "base/crypto.h"
#include "base/result.h"

namespace hallmark::keys {

class Signer {
 public:
  virtual ~Signer() = default;

  virtual base::KeyAlgorithm key_algorithm() const = 0;
  virtual base::SignatureAlgorithm signature_algorithm() const = 0;
  // The public key as DER SubjectPublicKeyInfo.
  virtual const base::Bytes& public_key_der() const = 0;
  // Where the key lives: a file path or a pkcs11: URI (never a secret).
  virtual std::string reference() const = 0;

  // Signs `message` (the Signer hashes it as the algorithm requires).
  // ECDSA signatures come back raw r||s of fixed width; RSA PKCS#1 v1.5 and
  // Ed25519 as their natural octets. Thread-safe.
  [[nodiscard]] virtual base::Result<base::Bytes> sign(base::ByteView message) const = 0;
};

}  // namespace hallmark::keys
