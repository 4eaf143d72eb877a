// Hardware evidence on manifest lines (docs/factory.md "Attestation"): decoding
// the "evidence" member, the reason code for each failed check, and the
// station's challenge nonces.
//
//   "evidence": {"type": "se", "nonce": "<64 hex>", "signature": "<base64 DER>",
//                "chain": ["<base64 DER>", ...]}       leaf (the SE vendor's certificate for the key) first
#pragma once

#include <chrono>
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

struct Challenge {
  std::string nonce_hex;
  base::TimePoint expires;
};

// `count` fresh 32-octet nonces, recorded in `store` (1..kMaxChallenges).
base::Result<std::vector<Challenge>> issue_challenges(ChallengeNonces& store, base::Rng& rng, const base::Clock& clock,
                                                      std::size_t count,
                                                      std::chrono::seconds lifetime = kNonceLifetime);

}  // namespace hallmark::factory
