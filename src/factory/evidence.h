// Hardware evidence on manifest lines (docs/factory.md "Attestation"): decoding
// the "evidence" member, the reason code for each failed check, the station's
// challenge nonces, and the evidence records kept with the certificates
// (docs/factory.md "Evidence records").
//
//   "evidence": {"type": "se", "nonce": "<64 hex>", "signature": "<base64 DER>",
//                "chain": ["<base64 DER>", ...]}       leaf (the SE vendor's certificate for the key) first
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "attest/se_attestation.h"
#include "base/clock.h"
#include "base/result.h"
#include "base/rng.h"
#include "factory/ports.h"

namespace hallmark::factory {

inline constexpr std::chrono::seconds kNonceLifetime{3600};
inline constexpr std::size_t kMaxChallenges = 10000;

struct EvidenceRefusal {
  std::string code;  // a factory::reason code
  std::string reason;
};

// Decodes SE evidence; a refusal (evidence_malformed, evidence_unsupported) otherwise.
base::Result<attest::SeEvidence> parse_se_evidence(const nlohmann::json& evidence, EvidenceRefusal& refusal);

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
