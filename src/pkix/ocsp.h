// OCSP (RFC 6960) values: a strict decoder for requests, which come from
// anyone, and an encoder for responses signed through a keys::Signer
// (elsewhere). Nonces follow RFC 9654 (1..128 octets).
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

namespace hallmark::pkix {

enum class OcspHash { Sha1, Sha256 };

// CertID (RFC 6960 §4.1.1): hashes of the issuer's DN DER and of the value of
// its subjectPublicKey BIT STRING, and the serial number.
struct OcspCertId {
  OcspHash hash = OcspHash::Sha1;
  base::Bytes issuer_name_hash;
  base::Bytes issuer_key_hash;
  std::string serial_hex;  // upper-case hex, no leading zeros (as Certificate::serial_hex)
  bool serial_negative = false;
  base::Bytes encoded;  // the CertID DER as received: responses echo it
};

struct OcspRequest {
  std::vector<OcspCertId> ids;
  std::optional<base::Bytes> nonce;  // the nonce octets (RFC 9654 §2.1)
  bool has_signature = false;
};

inline constexpr std::size_t kMaxOcspRequestIds = 16;
inline constexpr std::size_t kMaxOcspNonce = 128;  // RFC 9654 §2.1

// Malformed (with a detail naming the field) when `der` is not one DER
// OCSPRequest, has more than kMaxOcspRequestIds entries, an unsupported hash
// (Unsupported), or a nonce outside 1..128 octets.
base::Result<OcspRequest> decode_ocsp_request(base::ByteView der);

// The issuer hashes a responder matches CertIDs against.
struct OcspIssuerKey {
  base::Bytes name_sha1, key_sha1, name_sha256, key_sha256;
  bool matches(const OcspCertId& id) const;
};
base::Result<OcspIssuerKey> ocsp_issuer_key(const Certificate& issuer);

// OCSPResponseStatus (RFC 6960 §4.2.1).
enum class OcspStatus : int {
  Successful = 0,
  MalformedRequest = 1,
  InternalError = 2,
  TryLater = 3,
  SigRequired = 5,
  Unauthorized = 6,
};
// An unsigned response carrying only an error status (no responseBytes).
base::Bytes ocsp_error_response(OcspStatus status);

struct OcspSingleResponse {
  base::Bytes cert_id;  // CertID DER, echoed from the request
  enum class Kind { Good, Revoked, Unknown } kind = Kind::Unknown;
  base::TimePoint revocation_time;
  std::optional<int> reason;  // CRLReason; omitted when absent
  base::TimePoint this_update;
  base::TimePoint next_update;
};

struct OcspResponseSpec {
  base::SignatureAlgorithm signature_algorithm = base::SignatureAlgorithm::EcdsaSha256;
  base::Bytes responder_spki;  // responderID byKey: SHA-1 of its key bits
  base::TimePoint produced_at;
  std::vector<OcspSingleResponse> responses;
  std::optional<base::Bytes> nonce;  // echoed in responseExtensions
};

// ResponseData DER: the bytes the responder signs.
base::Result<base::Bytes> encode_ocsp_response_data(const OcspResponseSpec& spec);
// A successful OCSPResponse wrapping BasicOCSPResponse {data, alg, signature, certs}.
base::Result<base::Bytes> assemble_ocsp_response(base::ByteView response_data, base::SignatureAlgorithm alg,
                                                 base::ByteView raw_signature, const std::vector<base::Bytes>& certs);

}  // namespace hallmark::pkix
