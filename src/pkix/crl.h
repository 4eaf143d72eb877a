// CRL v2 (RFC 5280 §5): encode the TBSCertList, let a keys::Signer sign it
// (elsewhere), then assemble the CertificateList. Like tbs_certificate.h, no
// private key is needed here.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/clock.h"
#include "base/crypto.h"
#include "base/result.h"
#include "pkix/certificate.h"
#include "pkix/name.h"

namespace hallmark::pkix {

struct CrlEntry {
  base::Bytes serial;  // positive magnitude, big-endian
  base::TimePoint revocation_date;
  int reason = 0;  // CRLReason; 0 (unspecified) is omitted, as RFC 5280 §5.3.1 asks
};

struct CrlSpec {
  base::SignatureAlgorithm signature_algorithm = base::SignatureAlgorithm::EcdsaSha256;
  Name issuer;
  base::TimePoint this_update;
  base::TimePoint next_update;
  std::vector<CrlEntry> entries;
  base::Bytes authority_key_id;  // the issuer's SKI (AKI is a MUST, §5.2.1)
  std::int64_t crl_number = 1;   // §5.2.3, monotonic
  // issuingDistributionPoint (§5.2.5, critical): written when either is set.
  std::string distribution_point;  // fullName URI
  bool only_user_certs = false;
};

// InvalidArgument for an empty AKI, a non-positive cRLNumber or nextUpdate not after thisUpdate.
base::Result<base::Bytes> encode_tbs_cert_list(const CrlSpec& spec);
// CertificateList ::= SEQUENCE { tbsCertList, signatureAlgorithm, signatureValue }.
base::Result<base::Bytes> assemble_crl(base::ByteView tbs_der, base::SignatureAlgorithm alg,
                                       base::ByteView raw_signature);

// What a verified CRL says about itself.
struct CrlInfo {
  base::TimePoint this_update;
  base::TimePoint next_update;
};
// Checks that `der` is one CertificateList whose issuer is `issuer`'s subject and
// whose signature verifies with its key. Malformed / BadSignature otherwise.
base::Result<CrlInfo> verify_crl(base::ByteView der, const Certificate& issuer);

// The CRL distribution points extension value (RFC 5280 §4.2.1.13) with one fullName URI.
base::Bytes crl_distribution_points_value(const std::string& uri);
// The authority information access value (RFC 5280 §4.2.2.1) with one id-ad-ocsp URI.
base::Bytes ocsp_access_value(const std::string& uri);

}  // namespace hallmark::pkix
