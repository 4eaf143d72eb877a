// CMS / PKCS#7 values the protocols exchange: the degenerate "certs-only"
// SignedData (RFC 5652 §5, RFC 7030 §4.1.3 / §4.2.3) that EST uses to carry
// certificates, and its decoder for the device side.
#pragma once

#include <vector>

#include "base/bytes.h"
#include "base/result.h"
#include "pkix/certificate.h"

namespace hallmark::pkix {

// DER ContentInfo { signedData { version 1, no digestAlgorithms, encapContentInfo
// id-data without content, certificates, no signerInfos } }. InvalidArgument for
// an empty list.
base::Result<base::Bytes> encode_certs_only(const std::vector<Certificate>& certs);

// The certificates of a certs-only SignedData, in encoded order. Malformed when
// the DER is not a PKCS#7 SignedData or carries no certificate.
base::Result<std::vector<Certificate>> decode_certs_only(base::ByteView der);

}  // namespace hallmark::pkix
