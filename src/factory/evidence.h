// Hardware evidence on manifest lines (docs/factory.md "Attestation"): decoding
// the "evidence" member, the reason code for each failed check, the station's
// challenge nonces, and the evidence records kept with the certificates
// (docs/factory.md "Evidence records").
//
//   "evidence": {"type": "se", "nonce": "<64 hex>", "signature": "<base64 DER>",
//                "chain": ["<base64 DER>", ...]}       leaf (the SE vendor's certificate for the key) first
//
//   "evidence": {"type": "tpm", "nonce": "<64 hex>",   the station nonce, TPM2_Certify's qualifyingData
//                "ek_certificate": "<base64 DER>", "ek_chain": ["<base64 DER>", ...] (optional intermediates),
//                "ek_public": "<base64 TPM2B_PUBLIC>", "iak_public": "<base64 TPM2B_PUBLIC>",
//                "idevid_public": "<base64 TPM2B_PUBLIC>", "certify_info": "<base64 TPMS_ATTEST>",
//                "certify_signature": "<base64 TPMT_SIGNATURE>",
//                "activated_secret": "<base64>"}     what TPM2_ActivateCredential returned (provision only)
//
//   "evidence": {"type": "tpm", "tcg_csr_idevid": "<base64 TCG_CSR_IDEVID>",   TCG DevID single-pass request
//                "ek_chain": [...]?, "activated_secret": "<base64>"?}        (the line then has no "csr")
//
// TPM credential activation (docs/factory.md): the station verifies the evidence,
// makes a credential for the EK and the IAK's Name with a fresh 32-octet secret,
// and records the pending activation in the nonce store under activation_key()
// (single use, kNonceLifetime); the line is issued only with that secret.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "attest/se_attestation.h"
#include "attest/tpm_attestation.h"
#include "base/clock.h"
#include "base/result.h"
#include "base/rng.h"
#include "factory/authorization.h"
#include "factory/ports.h"
#include "pkix/extensions.h"

namespace hallmark::factory {

inline constexpr std::chrono::seconds kNonceLifetime{3600};
inline constexpr std::size_t kMaxChallenges = 10000;

struct EvidenceRefusal {
  std::string code;  // a factory::reason code
  std::string reason;
};

// The evidence's "type" ("se" or "tpm"); a refusal (evidence_malformed, evidence_unsupported) otherwise.
base::Result<std::string> evidence_type(const nlohmann::json& evidence, EvidenceRefusal& refusal);

// Decodes SE evidence; a refusal (evidence_malformed, evidence_unsupported) otherwise.
base::Result<attest::SeEvidence> parse_se_evidence(const nlohmann::json& evidence, EvidenceRefusal& refusal);

inline constexpr std::size_t kActivationSecretSize = 32;

struct TpmLineEvidence {
  attest::TpmEvidence evidence;                 // for a TCG-CSR-IDEVID: its payloads (attest::tcg_csr_evidence)
  base::Bytes activated_secret;                 // empty when the line does not carry one
  std::optional<attest::TcgCsrIdevid> tcg_csr;  // the "tcg_csr_idevid" form
  base::Bytes tcg_contents;                     // its packed csrContents as received
};

// Whether `evidence` is the TCG-CSR-IDEVID form ({"type":"tpm","tcg_csr_idevid":...}).
bool is_tcg_csr_evidence(const nlohmann::json& evidence);
// Decodes TPM evidence (either form); a refusal (evidence_malformed,
// evidence_unsupported, the tcg_csr_* structure codes) otherwise.
base::Result<TpmLineEvidence> parse_tpm_evidence(const nlohmann::json& evidence, EvidenceRefusal& refusal);
// The checks of `verifier` for either form (verify or verify_tcg_csr); the key
// check against `key_spki` only when it is not empty.
attest::TpmVerdict verify_tpm_line(const TpmLineEvidence& line, base::ByteView key_spki,
                                   const attest::TpmAttestationVerifier& verifier);
// The reason code of a TCG-CSR-IDEVID that does not decode.
const char* reason_for(attest::TcgCsrProblem problem);
// The reason code of a failed TPM check.
const char* reason_for(attest::TpmCheck check);
// The reason code (and text) for an activation secret that was not accepted; empty code for Accepted.
EvidenceRefusal activation_refusal_for(NonceUse use);

// The nonce-store key of a pending activation: "tpm-activation:" + hex SHA-256 of
// "hallmark-tpm-activation-v1" || SHA-256(certify_info) || secret. It binds the
// secret to this TPM2_Certify (so to its nonce, IDevID Name and IAK signature).
std::string activation_key(const attest::TpmEvidence& evidence, base::ByteView secret);

// tcg-sv-tpm20 (TCG DevID: hwType of a TPM 2.0 device).
inline constexpr char kTcgSvTpm20[] = "2.23.133.1.2";
// The IDevID's HardwareModuleName for a verified TPM (standards.md §1.3): hwType
// tcg-sv-tpm20 and hwSerialNum = ASCII "<manufacturer>:<EK AKI>:<EK serial>"
// (tpm_hw_serial_num) when the EK certificate has a tcg-at-tpmManufacturer and
// an authorityKeyIdentifier, else SHA-256 of the EK certificate's
// SubjectPublicKeyInfo (32 octets, the "digest of the EK public key" form).
// The evidence's hardware_id stays "tpm-ek:" + hex SHA-256(EK SPKI) either way.
pkix::HardwareModuleName tpm_hardware_module(const attest::TpmVerdict& verdict);
// "<manufacturer>:<aki>:<serial>": the TCG manufacturer code (tcg-at-tpmManufacturer
// without "id:", as its 4 ASCII characters, trailing NULs dropped, when they are
// printable, else its 8 hex digits as written), the EK certificate's
// keyIdentifier and serial (its octets, as openssl -serial prints it) in lower-case hex without
// separators (as swtpm_setup writes its IAK/IDevID hwSerialNum); "" when the EK
// certificate lacks the manufacturer or the AKI.
std::string tpm_hw_serial_num(const attest::TpmVerdict& verdict);
// The manufacturer code of a tcg-at-tpmManufacturer value (see tpm_hw_serial_num).
std::string tpm_manufacturer_code(const std::string& attribute);

// The authorization's TPM manufacturer roots as trust anchors ("tpm-vendor:<subject>").
std::vector<attest::TrustAnchor> tpm_anchors(const Authorization& authorization);

struct TpmActivation {
  base::Bytes credential_blob;   // TPM2B_ID_OBJECT
  base::Bytes encrypted_secret;  // TPM2B_ENCRYPTED_SECRET
  base::TimePoint expires;
};

// The station's half of the activation round trip: verifies `evidence` (all
// checks of TpmAttestationVerifier; the key check only when `csr_spki` is not
// empty), checks that the nonce is one `store` issued, unexpired and unused
// (nonce_unknown / nonce_expired / nonce_reused; it is not consumed here), makes
// the credential and records the pending activation in `store`.
// A refusal (with its reason code) when the evidence fails.
base::Result<TpmActivation> start_tpm_activation(const nlohmann::json& evidence, base::ByteView csr_spki,
                                                 const attest::TpmAttestationVerifier& verifier, ChallengeNonces& store,
                                                 base::Rng& rng, const base::Clock& clock, EvidenceRefusal& refusal);

// An activation request {"evidence": {...}, "csr"?} (station serve's body or a
// `station tpm-activate` line): one JSON object without repeated keys; "csr" a
// string (PEM or base64 DER) whose key the certified key must be. A refusal
// (invalid_json, missing_field, invalid_field, bad_csr) otherwise.
struct ActivationRequest {
  nlohmann::json evidence;
  base::Bytes csr_spki;  // empty without "csr"
};
base::Result<ActivationRequest> parse_activation_request(const std::string& text, EvidenceRefusal& refusal);

// The reason code of a failed SE check.
const char* reason_for(attest::SeCheck check);
// The reason code (and text) for a nonce that was not accepted; empty code for Accepted.
EvidenceRefusal refusal_for(NonceUse use);

// The octets a line's evidence is hashed and stored as: the "evidence" member
// as compact JSON with sorted keys (nlohmann::json::dump()).
base::Bytes canonical_evidence(const nlohmann::json& evidence);
// Lower-case hex SHA-256 of `content`: the evidence_digest of ledger and audit records.
std::string evidence_digest(base::ByteView content);
// A record whose digest is computed here from `content`, so the two cannot differ.
EvidenceRecord make_evidence_record(std::string type, base::Bytes content, std::string hardware_id,
                                    base::TimePoint verified_at);

inline constexpr char kSeHardwarePrefix[] = "se:";
// The hardware identity of SE evidence: "se:" + hex SHA-256 of the SPKI in the
// SE vendor's attestation certificate (the chain's leaf). Malformed when the leaf does not decode.
base::Result<std::string> se_hardware_id(const attest::SeEvidence& evidence);

// What `cert show` prints about stored evidence.
struct EvidenceSummary {
  std::string type;
  std::string digest;
  std::string hardware_id;
  base::TimePoint verified_at;
  bool digest_matches = false;  // SHA-256 of the content is the digest (recomputed here)
  // SE: the attestation chain, leaf first.
  std::vector<std::string> chain_subjects;
  std::string attestation_serial;       // leaf serial, upper-case hex
  std::string attestation_fingerprint;  // leaf SHA-256 fingerprint, lower-case hex
  std::string nonce;                    // hex
};
// Decodes a stored record (SE evidence today); Malformed when its content is not SE evidence.
base::Result<EvidenceSummary> summarize_evidence(const EvidenceRecord& record);

// The record for stored content as it arrived from elsewhere (a ledger bundle):
// decodes it as `type` evidence and derives its hardware identity; Malformed
// (with the reason) when it is not evidence of that type.
base::Result<EvidenceRecord> evidence_record_from(const std::string& type, base::Bytes content,
                                                  base::TimePoint verified_at);

struct Challenge {
  std::string nonce_hex;
  base::TimePoint expires;
};

// `count` fresh 32-octet nonces, recorded in `store` (1..kMaxChallenges).
base::Result<std::vector<Challenge>> issue_challenges(ChallengeNonces& store, base::Rng& rng, const base::Clock& clock,
                                                      std::size_t count,
                                                      std::chrono::seconds lifetime = kNonceLifetime);

}  // namespace hallmark::factory
