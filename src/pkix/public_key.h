// PublicKey: a SubjectPublicKeyInfo with the checks Hallmark applies to keys it
// certifies (P-256, P-384, RSA >= 2048, Ed25519; named curves only).
#pragma once

#include <memory>

#include "base/bytes.h"
#include "base/crypto.h"
#include "base/result.h"

namespace hallmark::pkix {

class PublicKey {
 public:
  // Malformed when the DER does not decode as a SubjectPublicKeyInfo.
  static base::Result<PublicKey> from_spki_der(base::ByteView der);

  const base::Bytes& spki_der() const { return m_spki; }

  // The algorithm, or a distinct Unsupported error per reason: explicit EC
  // parameters ("…uses explicit EC parameters; use a named curve…"), another
  // curve, RSA shorter than 2048 bits ("RSA-1024…at least 2048 bits"), another
  // key type.
  base::Result<base::KeyAlgorithm> algorithm() const;

  // RFC 5280 §4.2.1.2 method (1): SHA-1 of the subjectPublicKey BIT STRING value.
  base::Bytes key_identifier() const;
  // SHA-256 of the DER SubjectPublicKeyInfo (used to detect duplicate keys).
  base::Bytes fingerprint() const;

  base::Status verify(base::SignatureAlgorithm alg, base::ByteView message,
                      base::ByteView raw_signature) const;

 private:
  base::Bytes m_spki;
};

}  // namespace hallmark::pkix
