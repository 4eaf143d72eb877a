// Csr: a PKCS#10 certification request, decoded and checked. Building CSRs (for
// device emulation, tests and benchmarks) goes through a Signer like everything else.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"
#include "pkix/extensions.h"
#include "pkix/name.h"
#include "pkix/public_key.h"

namespace hallmark::pkix {

inline constexpr std::size_t kMaxCsrSize = 64 * 1024;
inline constexpr std::size_t kMaxKeyIdentifierSize = 64;

// RFC 7030 §4.4.1: how an EST client asks for its server-generated key to be
// CMS-encrypted. Symmetric: DecryptKeyIdentifier names a pre-provisioned
// symmetric key (KEKRecipientInfo). Asymmetric: AsymmetricDecryptKeyIdentifier
// names the client's encryption certificate (here: its subjectKeyIdentifier).
struct KeyEncryptionRequest {
  enum class Kind { Symmetric, Asymmetric };
  Kind kind = Kind::Symmetric;
  base::Bytes key_id;  // 1..kMaxKeyIdentifierSize octets
};

class Csr {
 public:
  // Decodes PEM ("CERTIFICATE REQUEST" or "NEW CERTIFICATE REQUEST") or DER and
  // checks it. Each failure is its own error with a message a person can act on:
  //  - empty input                         Malformed "CSR is empty"
  //  - larger than max_size                TooLarge
  //  - PEM with junk / bad base64          Malformed "...PEM..."
  //  - DER cut short                       Malformed "CSR is truncated…"
  //  - not a CSR at all                    Malformed "not a PKCS#10 CSR…"
  //  - version other than 0 (v1)           Unsupported "CSR version…"
  //  - SHA-1 (or other) signature alg      Unsupported "…SHA-1…"
  //  - key not allowed (RSA<2048, explicit EC parameters, other curve) Unsupported
  //  - self-signature does not verify      BadSignature "CSR signature does not verify…"
  static base::Result<Csr> parse(base::ByteView data, std::size_t max_size = kMaxCsrSize);

  const base::Bytes& der() const { return m_der; }
  const Name& subject() const { return m_subject; }
  const PublicKey& public_key() const { return m_key; }
  base::KeyAlgorithm key_algorithm() const { return m_key_algorithm; }
  // Extensions asked for in the extensionRequest attribute (honoured only where a profile allows).
  const std::vector<Extension>& requested_extensions() const { return m_requested; }
  const std::optional<std::string>& challenge_password() const { return m_challenge_password; }
  // DecryptKeyIdentifier / AsymmetricDecryptKeyIdentifier, when present (both at once: Malformed).
  const std::optional<KeyEncryptionRequest>& key_encryption() const { return m_key_encryption; }

 private:
  base::Bytes m_der;
  Name m_subject;
  PublicKey m_key;
  base::KeyAlgorithm m_key_algorithm = base::KeyAlgorithm::EcP256;
  std::vector<Extension> m_requested;
  std::optional<std::string> m_challenge_password;
  std::optional<KeyEncryptionRequest> m_key_encryption;
};

// DER CertificationRequestInfo (version 0) for `subject` and `spki_der`, with an
// extensionRequest when `extensions` is not empty, a challengePassword and a
// key-encryption request when given.
base::Result<base::Bytes> encode_csr_info(const Name& subject, base::ByteView spki_der,
                                          const std::vector<Extension>& extensions = {},
                                          const std::optional<std::string>& challenge_password = {},
                                          const std::optional<KeyEncryptionRequest>& key_encryption = {});
// CertificationRequest from the info and the Signer's signature.
base::Result<base::Bytes> assemble_csr(base::ByteView info_der, base::SignatureAlgorithm alg,
                                       base::ByteView raw_signature);

}  // namespace hallmark::pkix
