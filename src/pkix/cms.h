// CMS / PKCS#7 values the protocols exchange: the degenerate "certs-only"
// SignedData (RFC 5652 §5, RFC 7030 §4.1.3 / §4.2.3) that EST uses to carry
// certificates, its decoder for the device side, and EnvelopedData (RFC 5652 §6)
// for keys a server generates on a client's behalf (RFC 7030 §4.4.2).
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

// EnvelopedData (RFC 5652 §6) whose encrypted content (AES-256-CBC) is
// `content` of type `content_type_oid`, for one recipient:
//  - encrypt_for_kek: KEKRecipientInfo (§6.2.3), the content key wrapped
//    (RFC 3394) with a pre-shared AES key `kek` (16, 24 or 32 octets) named `key_id`;
//  - encrypt_for_certificate: KeyTransRecipientInfo (RSA) or
//    KeyAgreeRecipientInfo (EC, ECDH) for the recipient certificate's key.
// Encryption needs no private key of ours, so no Signer is involved.
base::Result<base::Bytes> encrypt_for_kek(base::ByteView content, const char* content_type_oid, base::ByteView kek,
                                          base::ByteView key_id);
base::Result<base::Bytes> encrypt_for_certificate(base::ByteView content, const char* content_type_oid,
                                                  const Certificate& recipient);

}  // namespace hallmark::pkix
