// An ECDSA P-256 EVP_PKEY whose private half lives elsewhere (a TPM): OpenSSL
// sees an ordinary EC key, and every signature it asks of it is one call of a
// function given here, over a SHA-256 digest. The key belongs to a tiny
// in-process OpenSSL provider ("hallmark-tpm") in a library context of its
// own, so nothing else OpenSSL does — digests, random numbers, ECDHE, the
// verification of certificates and of the peer's signatures — can reach it:
// the TLS stack stays on the default provider.
#pragma once

#include <functional>
#include <memory>

#include "base/bytes.h"
#include "base/result.h"

struct evp_pkey_st;

namespace hallmark::device {

// Signs a SHA-256 digest (32 bytes) with the key's private half and returns the
// DER ECDSA-Sig-Value. Called on whichever thread OpenSSL signs on; an error
// makes that signature (and so the TLS handshake) fail.
using DigestSignFn = std::function<base::Result<base::Bytes>(base::ByteView sha256_digest)>;

// An EVP_PKEY for the P-256 public key `spki_der` (a SubjectPublicKeyInfo)
// signing through `sign`. It signs ECDSA with SHA-256 only (EVP_DigestSign*,
// EVP_PKEY_sign over a 32-byte digest); it does not verify, derive or export a
// private key. It compares equal (EVP_PKEY_eq) to the certificate's public key,
// so SSL_CTX_use_PrivateKey and SSL_CTX_check_private_key accept it.
// InvalidArgument when `spki_der` is not a P-256 key.
base::Result<std::shared_ptr<evp_pkey_st>> callback_evp_pkey(base::ByteView spki_der, DigestSignFn sign);

}  // namespace hallmark::device
