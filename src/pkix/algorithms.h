// Internal: the signature algorithms pkix accepts, mapped between OIDs,
// AlgorithmIdentifier DER and base::SignatureAlgorithm.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "base/bytes.h"
#include "base/crypto.h"
#include "base/result.h"
#include "pkix/public_key.h"

namespace hallmark::pkix {

struct ParsedAlgorithmIdentifier {
  std::string oid;
  bool params_absent = true;
  base::ByteView params;  // the parameters TLV when present
};

// AlgorithmIdentifier ::= SEQUENCE { algorithm OID, parameters ANY OPTIONAL } (RFC 5280 §4.1.1.2).
base::Result<ParsedAlgorithmIdentifier> parse_algorithm_identifier(base::ByteView der, std::string_view what);

// The encoded `signature` AlgorithmIdentifier of a DER TBSCertificate (the
// field after the optional version and the serial number).
base::Result<base::ByteView> tbs_signature_field(base::ByteView tbs_der);

const char* signature_algorithm_oid(base::SignatureAlgorithm alg);
bool is_sha1_signature_oid(std::string_view oid);

// The accepted signature algorithm for an AlgorithmIdentifier, checking its
// parameters: absent for ECDSA (RFC 5758 §3.2) and Ed25519 (RFC 8410 §3), NULL
// (or, as many encoders still write, absent) for RSA PKCS#1 v1.5 (RFC 4055 §5).
// Unsupported for SHA-1 ("…SHA-1…") and anything else; `what` names the object
// ("CSR", "certificate").
base::Result<base::SignatureAlgorithm> accepted_signature_algorithm(const ParsedAlgorithmIdentifier& alg,
                                                                    std::string_view what);

bool is_ecdsa(base::SignatureAlgorithm alg);
// Whether a key of this type can produce signatures of this algorithm.
bool key_matches_signature(base::KeyAlgorithm key, base::SignatureAlgorithm alg);

// Verifies a signature value as X.509 and PKCS#10 carry it (DER Ecdsa-Sig-Value
// for ECDSA) directly with EVP. base::verify_signature takes raw r||s with its
// width tied to the hash, which does not fit a P-384 key signing with SHA-256
// (legal, and what the RFC 8995 example CA does). BadSignature when it fails.
base::Status verify_encoded_signature(const PublicKey& key, base::SignatureAlgorithm alg, base::ByteView message,
                                      base::ByteView signature);

}  // namespace hallmark::pkix
