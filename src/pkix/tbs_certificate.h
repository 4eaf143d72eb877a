// Building certificates without holding a private key: encode the
// TBSCertificate, let a keys::Signer sign it (elsewhere), then assemble.
#pragma once

#include <vector>

#include "base/bytes.h"
#include "base/clock.h"
#include "base/crypto.h"
#include "base/result.h"
#include "pkix/certificate.h"
#include "pkix/extensions.h"
#include "pkix/name.h"

namespace hallmark::pkix {

struct TbsCertificateSpec {
  base::Bytes serial;  // positive magnitude, big-endian, <= 20 octets once encoded
  base::SignatureAlgorithm signature_algorithm = base::SignatureAlgorithm::EcdsaSha256;
  Name issuer;
  Name subject;
  base::TimePoint not_before;
  base::TimePoint not_after;
  bool no_expiry = false;               // notAfter = GeneralizedTime 99991231235959Z
  base::Bytes subject_public_key_info;  // DER
  std::vector<Extension> extensions;
};

// DER TBSCertificate (v3). Times: UTCTime through 2049, GeneralizedTime from 2050
// (RFC 5280 §4.1.2.5). InvalidArgument for an empty serial or SPKI.
base::Result<base::Bytes> encode_tbs_certificate(const TbsCertificateSpec& spec);

// Certificate ::= SEQUENCE { tbs, signatureAlgorithm, signatureValue } from the
// TBS and the Signer's signature (ECDSA raw r||s is converted to DER here).
base::Result<Certificate> assemble_certificate(base::ByteView tbs_der, base::SignatureAlgorithm alg,
                                               base::ByteView raw_signature);

// The DER AlgorithmIdentifier for a signature algorithm (parameters absent for
// ECDSA and Ed25519, NULL for RSA PKCS#1 v1.5).
base::Bytes algorithm_identifier_der(base::SignatureAlgorithm alg);

}  // namespace hallmark::pkix
