#include "factory/evidence.h"

#include "base/crypto.h"
#include "factory/provisioning.h"
#include "pkix/certificate.h"

namespace hallmark::factory {

using base::ErrorCode;
using base::make_error;
using nlohmann::json;

namespace {

base::Error refused(EvidenceRefusal& out, const char* code, std::string why) {
  out.code = code;
  out.reason = std::move(why);
  return make_error(ErrorCode::Malformed, out.reason);
}

}  // namespace

base::Result<attest::SeEvidence> parse_se_evidence(const json& ev, EvidenceRefusal& r) {
  if (!ev.is_object()) return refused(r, reason::kEvidenceMalformed, "\"evidence\" must be an object {\"type\",...}");
  if (!ev.contains("type") || !ev["type"].is_string()) {
    return refused(r, reason::kEvidenceMalformed, "\"evidence\" has no \"type\" string");
  }
  const auto type = ev["type"].get<std::string>();
  if (type != "se") {
    return refused(r, reason::kEvidenceUnsupported,
                   "evidence type '" + type.substr(0, 32) + "' is not supported by this station (supported: se)");
  }
  attest::SeEvidence out;
  if (!ev.contains("nonce") || !ev["nonce"].is_string()) {
    return refused(r, reason::kEvidenceMalformed, "SE evidence has no \"nonce\" (hex string)");
  }
  auto nonce = base::hex_decode(ev["nonce"].get<std::string>());
  if (!nonce.ok() || nonce->size() != attest::kSeNonceSize) {
    return refused(r, reason::kEvidenceMalformed,
                   "SE evidence \"nonce\" must be " + std::to_string(2 * attest::kSeNonceSize) + " hex digits");
  }
  out.nonce = std::move(nonce).value();
  if (!ev.contains("signature") || !ev["signature"].is_string()) {
    return refused(r, reason::kEvidenceMalformed, "SE evidence has no \"signature\" (base64 string)");
  }
  auto sig = base::base64_decode(ev["signature"].get<std::string>());
  if (!sig.ok() || sig->empty()) {
    return refused(r, reason::kEvidenceMalformed, "SE evidence \"signature\" is not base64");
  }
  out.signature = std::move(sig).value();
  if (!ev.contains("chain") || !ev["chain"].is_array() || ev["chain"].empty() ||
      ev["chain"].size() > attest::kMaxPath) {
    return refused(r, reason::kEvidenceMalformed,
                   "SE evidence \"chain\" must be an array of 1 to " + std::to_string(attest::kMaxPath) +
                       " base64 DER certificates, leaf first");
  }
  for (const auto& c : ev["chain"]) {
    if (!c.is_string()) return refused(r, reason::kEvidenceMalformed, "SE evidence \"chain\" entries must be strings");
    auto der = base::base64_decode(c.get<std::string>());
    if (!der.ok() || der->empty()) {
      return refused(r, reason::kEvidenceMalformed, "SE evidence \"chain\" entries must be base64 DER");
    }
    out.chain.push_back(std::move(der).value());
  }
  return out;
}

const char* reason_for(attest::SeCheck check) {
  switch (check) {
    case attest::SeCheck::Ok:
      return "";
    case attest::SeCheck::Malformed:
      return reason::kEvidenceMalformed;
    case attest::SeCheck::Chain:
      return reason::kSeChainUntrusted;
    case attest::SeCheck::KeyMismatch:
      return reason::kSeKeyMismatch;
    case attest::SeCheck::Signature:
      return reason::kSeSignature;
  }
  return reason::kEvidenceMalformed;
}

EvidenceRefusal refusal_for(NonceUse use) {
  switch (use) {
    case NonceUse::Accepted:
      return {};
    case NonceUse::Unknown:
      return {reason::kNonceUnknown,
              "the evidence's nonce was not issued by this station (get one with `station challenge` or POST "
              "/factory/v1/challenge)"};
    case NonceUse::Expired:
      return {reason::kNonceExpired, "the evidence's nonce expired; get a fresh one"};
    case NonceUse::Reused:
      return {reason::kNonceReused, "the evidence's nonce was already used (each nonce attests one key, once)"};
  }
  return {reason::kNonceUnknown, "unknown nonce"};
}

base::Bytes canonical_evidence(const json& evidence) {
  return base::to_bytes(evidence.dump());
}

std::string evidence_digest(base::ByteView content) {
  return base::hex_encode(base::sha256(content));
}

EvidenceRecord make_evidence_record(std::string type, base::Bytes content, std::string hardware_id,
                                    base::TimePoint verified_at) {
  EvidenceRecord r;
  r.digest = evidence_digest(content);
  r.type = std::move(type);
  r.content = std::move(content);
  r.hardware_id = std::move(hardware_id);
  r.verified_at = verified_at;
  return r;
}

base::Result<std::string> se_hardware_id(const attest::SeEvidence& evidence) {
  if (evidence.chain.empty()) return make_error(ErrorCode::Malformed, "SE evidence without a chain");
  HM_TRY(auto leaf, pkix::Certificate::parse(evidence.chain.front()));
  return std::string(kSeHardwarePrefix) + base::hex_encode(base::sha256(leaf.subject_public_key_info()));
}

namespace {

base::Result<attest::SeEvidence> decode_se_content(base::ByteView content) {
  const auto doc = json::parse(content.begin(), content.end(), nullptr, false);
  EvidenceRefusal why;
  auto ev = parse_se_evidence(doc.is_discarded() ? json() : doc, why);
  if (!ev.ok()) return make_error(ErrorCode::Malformed, "the stored evidence is not SE evidence: " + why.reason);
  return ev;
}

}  // namespace

base::Result<EvidenceSummary> summarize_evidence(const EvidenceRecord& record) {
  EvidenceSummary out;
  out.type = record.type;
  out.digest = record.digest;
  out.hardware_id = record.hardware_id;
  out.verified_at = record.verified_at;
  out.digest_matches = evidence_digest(record.content) == record.digest;
  if (record.type != "se") {
    return make_error(ErrorCode::Unsupported, "evidence of type '" + record.type + "' cannot be summarized yet");
  }
  HM_TRY(auto ev, decode_se_content(record.content));
  out.nonce = base::hex_encode(ev.nonce);
  for (std::size_t i = 0; i < ev.chain.size(); ++i) {
    auto cert = pkix::Certificate::parse(ev.chain[i]);
    if (!cert.ok()) {
      return make_error(ErrorCode::Malformed, "certificate " + std::to_string(i) + " of the SE chain does not decode");
    }
    out.chain_subjects.push_back(cert->subject().to_string());
    if (i == 0) {
      out.attestation_serial = cert->serial_hex();
      out.attestation_fingerprint = base::hex_encode(cert->fingerprint_sha256());
    }
  }
  return out;
}

base::Result<EvidenceRecord> evidence_record_from(const std::string& type, base::Bytes content,
                                                  base::TimePoint verified_at) {
  if (type != "se") return make_error(ErrorCode::Malformed, "evidence of type '" + type.substr(0, 32) + "' is unknown");
  HM_TRY(auto ev, decode_se_content(content));
  auto hw = se_hardware_id(ev);
  if (!hw.ok()) {
    return make_error(ErrorCode::Malformed, "the SE attestation certificate does not decode");
  }
  return make_evidence_record(type, std::move(content), std::move(hw).value(), verified_at);
}

base::Result<std::vector<Challenge>> issue_challenges(ChallengeNonces& store, base::Rng& rng, const base::Clock& clock,
                                                      std::size_t count, std::chrono::seconds lifetime) {
  if (count < 1 || count > kMaxChallenges) {
    return make_error(ErrorCode::InvalidArgument, "the number of nonces must be 1.." + std::to_string(kMaxChallenges));
  }
  std::vector<Challenge> out;
  const auto now = clock.now();
  for (std::size_t i = 0; i < count; ++i) {
    Challenge c{base::hex_encode(rng.bytes(attest::kSeNonceSize)), now + lifetime};
    HM_CHECK(store.add_nonce(c.nonce_hex, now, c.expires));
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace hallmark::factory
