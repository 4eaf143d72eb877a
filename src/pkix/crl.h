// CRLs (RFC 5280 §5): encode a TBSCertList, let a keys::Signer sign it
// (elsewhere), then assemble. Today: CRLs with no revoked certificate (the
// offline root's first CRL); revocation entries come with the revocation issue.
#pragma once

#include <cstdint>
#include <optional>

#include "base/bytes.h"
#include "base/clock.h"
#include "base/crypto.h"
#include "base/result.h"

namespace hallmark::pkix {

struct CrlSpec {
  base::SignatureAlgorithm signature_algorithm = base::SignatureAlgorithm::EcdsaSha256;
  base::Bytes issuer_name_der;  // the issuer's subject Name, DER, exactly as in its certificate
  base::TimePoint this_update;
  base::TimePoint next_update;
  std::uint64_t crl_number = 1;
  std::optional<base::Bytes> authority_key_id;  // the issuer's subjectKeyIdentifier
};

// DER TBSCertList v2 with the cRLNumber and authorityKeyIdentifier extensions
// (RFC 5280 §5.2.1, §5.2.3: conforming CAs include both).
base::Result<base::Bytes> encode_tbs_crl(const CrlSpec& spec);
// CertificateList from the TBS and the Signer's signature (raw r||s for ECDSA).
base::Result<base::Bytes> assemble_crl(base::ByteView tbs_der, base::SignatureAlgorithm alg,
                                       base::ByteView raw_signature);

}  // namespace hallmark::pkix
