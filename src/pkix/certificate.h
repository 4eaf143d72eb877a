// Certificate: an immutable, parsed X.509 certificate (cheap to copy).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/clock.h"
#include "base/result.h"
#include "pkix/extensions.h"
#include "pkix/name.h"
#include "pkix/public_key.h"

namespace hallmark::pkix {

enum class TimeEncoding { UtcTime, GeneralizedTime };

struct CertificateTime {
  base::TimePoint time;
  TimeEncoding encoding = TimeEncoding::UtcTime;
  bool no_expiry = false;  // exactly GeneralizedTime 99991231235959Z (RFC 5280 §4.1.2.5)
  std::string text;        // the encoded string, e.g. "991231235959Z" or "99991231235959Z"
};

class Certificate {
 public:
  // One certificate, PEM ("CERTIFICATE") or DER by content.
  static base::Result<Certificate> parse(base::ByteView data);
  // Every certificate in a PEM bundle, or the single DER certificate.
  static base::Result<std::vector<Certificate>> parse_all(base::ByteView data);
  // A TBSCertificate wrapped with an empty signature so that the linter can
  // inspect it before anything is signed. verify_signature() fails on it.
  static base::Result<Certificate> from_tbs(base::ByteView tbs_der);

  const base::Bytes& der() const;
  std::string pem() const;

  int version() const;         // 1, 2 or 3
  base::Bytes serial() const;  // content octets of the INTEGER (two's complement)
  bool serial_is_negative() const;
  bool serial_is_zero() const;
  std::string serial_hex() const;  // upper-case hex as `openssl x509 -serial` prints it
  Name subject() const;
  Name issuer() const;
  CertificateTime not_before() const;
  CertificateTime not_after() const;
  base::Result<PublicKey> public_key() const;
  const base::Bytes& subject_public_key_info() const;  // DER, as encoded
  std::string signature_algorithm_oid() const;         // outer signatureAlgorithm
  std::string tbs_signature_algorithm_oid() const;     // TBSCertificate.signature
  bool signature_algorithm_params_absent() const;      // e.g. ECDSA must omit parameters

  std::vector<Extension> extensions() const;
  std::optional<Extension> find_extension(std::string_view oid) const;
  // Convenience decoders (nullopt when the extension is absent or malformed).
  std::optional<BasicConstraints> basic_constraints() const;
  std::optional<std::uint16_t> key_usage() const;
  std::optional<base::Bytes> subject_key_identifier() const;
  std::optional<base::Bytes> authority_key_identifier() const;
  bool is_ca() const;

  base::Bytes fingerprint_sha256() const;
  bool is_self_issued() const;  // issuer == subject

  // Verifies this certificate's signature with the issuer's public key.
  base::Status verify_signature(const PublicKey& issuer_key) const;

 private:
  struct Impl;
  explicit Certificate(std::shared_ptr<const Impl> impl) : m_impl(std::move(impl)) {}
  std::shared_ptr<const Impl> m_impl;
};

}  // namespace hallmark::pkix
