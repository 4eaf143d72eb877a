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
  // Malformed when the DER does not decode as a SubjectPublicKeyInfo (for the
  // key types we certify: also when OpenSSL cannot import it, e.g. a point off
  // the curve). The imported key is kept for verify().
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

  base::Status verify(base::SignatureAlgorithm alg, base::ByteView message, base::ByteView raw_signature) const;

 private:
  friend base::Status verify_encoded_signature(const PublicKey& key, base::SignatureAlgorithm alg,
                                               base::ByteView message, base::ByteView signature);
  base::Bytes m_spki;
  std::shared_ptr<EVP_PKEY> m_key;  // imported once; EVP_PKEY is safe to share for verification
};

// The algorithm of a DER SubjectPublicKeyInfo read from its structure alone
// (no import, no point validation): same results and errors as
// PublicKey::algorithm(). For the linter, which must not pay for an import.
base::Result<base::KeyAlgorithm> spki_algorithm(base::ByteView spki_der);
// RFC 5280 §4.2.1.2 method (1) from the structure alone (Malformed if it is not an SPKI).
base::Result<base::Bytes> spki_key_identifier(base::ByteView spki_der);

}  // namespace hallmark::pkix
