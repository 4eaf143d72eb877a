#include "factory/evidence.h"

#include <cctype>

#include "attest/tpm_credential.h"
#include "base/crypto.h"
#include "factory/json_line.h"
#include "factory/provisioning.h"
#include "pkix/certificate.h"
#include "pkix/csr.h"

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

base::Result<std::string> evidence_type(const json& ev, EvidenceRefusal& r) {
  if (!ev.is_object()) return refused(r, reason::kEvidenceMalformed, "\"evidence\" must be an object {\"type\",...}");
  if (!ev.contains("type") || !ev["type"].is_string()) {
    return refused(r, reason::kEvidenceMalformed, "\"evidence\" has no \"type\" string");
  }
  const auto type = ev["type"].get<std::string>();
  if (type != "se" && type != "tpm") {
    return refused(r, reason::kEvidenceUnsupported,
                   "evidence type '" + type.substr(0, 32) + "' is not supported by this station (supported: se, tpm)");
  }
  return type;
}

base::Result<attest::SeEvidence> parse_se_evidence(const json& ev, EvidenceRefusal& r) {
  HM_TRY(const auto type, evidence_type(ev, r));
  if (type != "se") return refused(r, reason::kEvidenceUnsupported, "the evidence is not of type 'se'");
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

namespace {

// A required base64 member; false (and a refusal) when absent or not base64.
bool b64_member(const json& ev, const char* name, base::Bytes& out, EvidenceRefusal& r) {
  if (!ev.contains(name) || !ev[name].is_string()) {
    refused(r, reason::kEvidenceMalformed, std::string("TPM evidence has no \"") + name + "\" (base64 string)");
    return false;
  }
  auto b = base::base64_decode(ev[name].get<std::string>());
  if (!b.ok() || b->empty()) {
    refused(r, reason::kEvidenceMalformed, std::string("TPM evidence \"") + name + "\" is not base64");
    return false;
  }
  out = std::move(b).value();
  return true;
}

}  // namespace

const char* reason_for(attest::TcgCsrProblem problem) {
  using attest::TcgCsrProblem;
  switch (problem) {
    case TcgCsrProblem::Ok:
      return "";
    case TcgCsrProblem::Truncated:
      return reason::kTcgCsrTruncated;
    case TcgCsrProblem::SizeOverflow:
      return reason::kTcgCsrSizeOverflow;
    case TcgCsrProblem::TrailingData:
      return reason::kTcgCsrTrailingData;
    case TcgCsrProblem::StructVer:
      return reason::kTcgCsrStructVer;
    case TcgCsrProblem::HashAlg:
      return reason::kTcgCsrHashAlg;
    case TcgCsrProblem::Missing:
      return reason::kTcgCsrIncomplete;
  }
  return reason::kEvidenceMalformed;
}

bool is_tcg_csr_evidence(const json& ev) {
  return ev.is_object() && ev.contains("tcg_csr_idevid") && ev.contains("type") && ev["type"] == "tpm";
}

base::Result<TpmLineEvidence> parse_tpm_evidence(const json& ev, EvidenceRefusal& r) {
  HM_TRY(const auto type, evidence_type(ev, r));
  if (type != "tpm") return refused(r, reason::kEvidenceUnsupported, "the evidence is not of type 'tpm'");
  TpmLineEvidence out;
  auto& e = out.evidence;
  if (is_tcg_csr_evidence(ev)) {
    // The structure carries the EK certificate, the public areas, the certify and
    // (as its extraData) the nonce: the JSON members of the other form would say them twice.
    for (const char* other :
         {"nonce", "ek_certificate", "ek_public", "iak_public", "idevid_public", "certify_info", "certify_signature"}) {
      if (ev.contains(other)) {
        return refused(r, reason::kEvidenceMalformed,
                       std::string("TPM evidence with \"tcg_csr_idevid\" must not also carry \"") + other +
                           "\" (the TCG-CSR-IDEVID holds it)");
      }
    }
    if (ev["tcg_csr_idevid"].is_string() &&
        ev["tcg_csr_idevid"].get_ref<const std::string&>().size() > (attest::kMaxTcgCsrSize + 2) / 3 * 4) {
      return refused(r, reason::kTcgCsrSizeOverflow,
                     "\"tcg_csr_idevid\" is longer than " + std::to_string(attest::kMaxTcgCsrSize) + " octets");
    }
    base::Bytes raw;
    if (!b64_member(ev, "tcg_csr_idevid", raw, r)) return make_error(ErrorCode::Malformed, r.reason);
    auto decoded = attest::decode_tcg_csr_idevid(raw);
    if (!decoded.ok()) return refused(r, reason_for(decoded.problem), "TCG-CSR-IDEVID refused: " + decoded.detail);
    out.tcg_csr = std::move(decoded.csr);
    out.tcg_contents = std::move(decoded.contents);
  } else {
    if (!ev.contains("nonce") || !ev["nonce"].is_string()) {
      return refused(r, reason::kEvidenceMalformed, "TPM evidence has no \"nonce\" (hex string)");
    }
    auto nonce = base::hex_decode(ev["nonce"].get<std::string>());
    if (!nonce.ok() || nonce->size() != attest::kTpmNonceSize) {
      return refused(r, reason::kEvidenceMalformed,
                     "TPM evidence \"nonce\" must be " + std::to_string(2 * attest::kTpmNonceSize) + " hex digits");
    }
    e.nonce = std::move(nonce).value();
    if (!b64_member(ev, "ek_certificate", e.ek_certificate, r) || !b64_member(ev, "ek_public", e.ek_public, r) ||
        !b64_member(ev, "iak_public", e.iak_public, r) || !b64_member(ev, "idevid_public", e.idevid_public, r) ||
        !b64_member(ev, "certify_info", e.certify_info, r) ||
        !b64_member(ev, "certify_signature", e.certify_signature, r)) {
      return make_error(ErrorCode::Malformed, r.reason);
    }
  }
  if (ev.contains("ek_chain")) {
    if (!ev["ek_chain"].is_array() || ev["ek_chain"].size() + 1 > attest::kMaxPath) {
      return refused(r, reason::kEvidenceMalformed,
                     "TPM evidence \"ek_chain\" must be an array of at most " + std::to_string(attest::kMaxPath - 1) +
                         " base64 DER certificates");
    }
    for (const auto& c : ev["ek_chain"]) {
      auto der = c.is_string() ? base::base64_decode(c.get<std::string>()) : base::Result<base::Bytes>(base::Bytes{});
      if (!der.ok() || der->empty()) {
        return refused(r, reason::kEvidenceMalformed, "TPM evidence \"ek_chain\" entries must be base64 DER");
      }
      e.ek_intermediates.push_back(std::move(der).value());
    }
  }
  if (out.tcg_csr) {
    auto mapped = attest::tcg_csr_evidence(*out.tcg_csr, e.ek_intermediates);
    if (!mapped.ok()) return refused(r, reason::kEvidenceMalformed, "TCG-CSR-IDEVID refused: " + mapped.error().detail);
    e = std::move(mapped).value();
  }
  if (ev.contains("activated_secret")) {
    if (!b64_member(ev, "activated_secret", out.activated_secret, r)) return make_error(ErrorCode::Malformed, r.reason);
    if (out.activated_secret.size() != kActivationSecretSize) {
      return refused(r, reason::kEvidenceMalformed,
                     "TPM evidence \"activated_secret\" must be " + std::to_string(kActivationSecretSize) + " octets");
    }
  }
  return out;
}

attest::TpmVerdict verify_tpm_line(const TpmLineEvidence& line, base::ByteView key_spki,
                                   const attest::TpmAttestationVerifier& verifier) {
  if (!line.tcg_csr) return verifier.verify(line.evidence, key_spki);
  auto verdict = verifier.verify_tcg_csr(*line.tcg_csr, line.tcg_contents, line.evidence.ek_intermediates);
  if (verdict.ok() && !key_spki.empty() && verdict.idevid_spki != base::Bytes(key_spki.begin(), key_spki.end())) {
    verdict.check = attest::TpmCheck::KeyMismatch;
    verdict.detail = "the TPM-certified IDevID key (signingPub) is not the key in the CSR";
  }
  return verdict;
}

const char* reason_for(attest::TpmCheck check) {
  using attest::TpmCheck;
  switch (check) {
    case TpmCheck::Ok:
      return "";
    case TpmCheck::Malformed:
      return reason::kEvidenceMalformed;
    case TpmCheck::EkChain:
      return reason::kTpmEkUntrusted;
    case TpmCheck::IakAttributes:
      return reason::kTpmIakAttributes;
    case TpmCheck::IdevidAttributes:
      return reason::kTpmIdevidAttributes;
    case TpmCheck::AttestMagic:
      return reason::kTpmAttestMagic;
    case TpmCheck::AttestType:
      return reason::kTpmAttestType;
    case TpmCheck::Nonce:
      return reason::kTpmNonceMismatch;
    case TpmCheck::Name:
      return reason::kTpmNameMismatch;
    case TpmCheck::Signature:
      return reason::kTpmSignature;
    case TpmCheck::KeyMismatch:
      return reason::kTpmKeyMismatch;
    case TpmCheck::IakOnly:
      return reason::kTcgCsrIakOnly;
    case TpmCheck::CsrSignature:
      return reason::kTcgCsrSignature;
  }
  return reason::kEvidenceMalformed;
}

EvidenceRefusal activation_refusal_for(NonceUse use) {
  switch (use) {
    case NonceUse::Accepted:
      return {};
    case NonceUse::Unknown:
      return {reason::kTpmActivationWrong,
              "the activated secret is not the one this station made for this TPM2_Certify (TPM2_ActivateCredential "
              "with another TPM's EK or IAK, or a secret of another activation)"};
    case NonceUse::Expired:
      return {reason::kTpmActivationExpired, "the credential activation expired; activate again"};
    case NonceUse::Reused:
      return {reason::kTpmActivationReplayed,
              "this credential activation was already used (each attests one key, once)"};
  }
  return {reason::kTpmActivationWrong, "unknown activation"};
}

std::string tpm_manufacturer_code(const std::string& attribute) {
  // TCG EK Credential Profile: tpmManufacturer is "id:" + the 4-octet TCG vendor
  // ID in hex; registered IDs are ASCII ("IFX", "INTC", "STM "), as
  // TPM_PT_MANUFACTURER reports them.
  std::string digits = attribute.rfind("id:", 0) == 0 ? attribute.substr(3) : attribute;
  auto octets = base::hex_decode(digits);
  if (!octets.ok() || octets->size() != 4) return digits;
  auto& v = octets.value();
  while (!v.empty() && v.back() == 0) v.pop_back();
  if (v.empty()) return digits;
  for (auto c : v) {
    if (c < 0x20 || c > 0x7e || c == ':') return digits;
  }
  return std::string(v.begin(), v.end());
}

std::string tpm_hw_serial_num(const attest::TpmVerdict& verdict) {
  if (verdict.tpm_manufacturer.empty() || verdict.ek_aki.empty() || verdict.ek_serial_hex.empty() ||
      verdict.ek_serial_hex[0] == '-') {
    return "";
  }
  std::string serial = verdict.ek_serial_hex;
  for (auto& c : serial) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return tpm_manufacturer_code(verdict.tpm_manufacturer) + ":" + base::hex_encode(verdict.ek_aki) + ":" + serial;
}

pkix::HardwareModuleName tpm_hardware_module(const attest::TpmVerdict& verdict) {
  const auto text = tpm_hw_serial_num(verdict);
  if (!text.empty()) return {kTcgSvTpm20, base::to_bytes(text)};
  return {kTcgSvTpm20, base::sha256(verdict.ek_spki)};
}

std::vector<attest::TrustAnchor> tpm_anchors(const Authorization& a) {
  std::vector<attest::TrustAnchor> roots;
  for (const auto& der : a.tpm_roots) {
    if (auto c = pkix::Certificate::parse(der); c.ok()) {
      roots.push_back({"tpm-vendor:" + c->subject().to_string(), std::move(c).value()});
    }
  }
  return roots;
}

std::string activation_key(const attest::TpmEvidence& evidence, base::ByteView secret) {
  base::Bytes in = base::to_bytes("hallmark-tpm-activation-v1");
  const auto h = base::sha256(evidence.certify_info);
  in.insert(in.end(), h.begin(), h.end());
  in.insert(in.end(), secret.begin(), secret.end());
  return "tpm-activation:" + base::hex_encode(base::sha256(in));
}

base::Result<TpmActivation> start_tpm_activation(const json& evidence, base::ByteView csr_spki,
                                                 const attest::TpmAttestationVerifier& verifier, ChallengeNonces& store,
                                                 base::Rng& rng, const base::Clock& clock, EvidenceRefusal& r) {
  HM_TRY(auto line, parse_tpm_evidence(evidence, r));
  if (line.tcg_csr && !csr_spki.empty()) {
    return refused(r, reason::kInvalidField,
                   "a request with \"tcg_csr_idevid\" evidence carries no \"csr\": the TCG-CSR-IDEVID is the request "
                   "(the key certified is its signingPub)");
  }
  const auto verdict = verify_tpm_line(line, csr_spki, verifier);
  if (!verdict.ok()) return refused(r, reason_for(verdict.check), "TPM attestation refused: " + verdict.detail);
  // The nonce must be one this station issued and still usable; it is consumed
  // only at provisioning (the line's last check before issuing), so activating
  // twice before provisioning is harmless and a refused line leaves it usable.
  HM_TRY(const auto state, store.nonce_state(base::hex_encode(line.evidence.nonce), clock.now()));
  if (state != NonceUse::Accepted) {
    const auto why = refusal_for(state);
    return refused(r, why.code.c_str(), why.reason);
  }
  auto ek_public = line.evidence.ek_public;
  if (ek_public.empty()) {
    // A TCG-CSR-IDEVID carries the EK certificate only: the EK is the standard template's.
    auto standard = attest::standard_ek_public(verdict.ek_spki);
    if (!standard.ok())
      return refused(r, reason::kEvidenceUnsupported, "no credential for this EK: " + standard.error().detail);
    ek_public = std::move(standard).value();
  }
  const auto secret = rng.bytes(kActivationSecretSize);
  auto made = attest::make_credential(ek_public, verdict.iak_name, secret, rng);
  if (!made.ok()) return refused(r, reason::kEvidenceUnsupported, "no credential for this EK: " + made.error().detail);
  TpmActivation out;
  out.credential_blob = std::move(made->credential_blob);
  out.encrypted_secret = std::move(made->encrypted_secret);
  const auto now = clock.now();
  out.expires = now + kNonceLifetime;
  HM_CHECK(store.add_nonce(activation_key(line.evidence, secret), now, out.expires));
  return out;
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

base::Result<attest::TpmEvidence> decode_tpm_content(base::ByteView content) {
  const auto doc = json::parse(content.begin(), content.end(), nullptr, false);
  EvidenceRefusal why;
  auto ev = parse_tpm_evidence(doc.is_discarded() ? json() : doc, why);
  if (!ev.ok()) return make_error(ErrorCode::Malformed, "the stored evidence is not TPM evidence: " + why.reason);
  return std::move(ev->evidence);
}

// A TPM's hardware identity: its EK, as the SHA-256 of the EK certificate's key.
base::Result<std::string> tpm_hardware_id(const attest::TpmEvidence& evidence) {
  HM_TRY(auto ek, pkix::Certificate::parse(evidence.ek_certificate));
  return "tpm-ek:" + base::hex_encode(base::sha256(ek.subject_public_key_info()));
}

}  // namespace

base::Result<EvidenceSummary> summarize_evidence(const EvidenceRecord& record) {
  EvidenceSummary out;
  out.type = record.type;
  out.digest = record.digest;
  out.hardware_id = record.hardware_id;
  out.verified_at = record.verified_at;
  out.digest_matches = evidence_digest(record.content) == record.digest;
  if (record.type == "tpm") {
    // The EK certificate stands where the SE's attestation certificate does.
    HM_TRY(auto tpm, decode_tpm_content(record.content));
    out.nonce = base::hex_encode(tpm.nonce);
    HM_TRY(auto ek, pkix::Certificate::parse(tpm.ek_certificate));
    out.chain_subjects.push_back("EK certificate issued by " + ek.issuer().to_string());
    out.attestation_serial = ek.serial_hex();
    out.attestation_fingerprint = base::hex_encode(ek.fingerprint_sha256());
    return out;
  }
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
  if (type == "tpm") {
    HM_TRY(auto tpm, decode_tpm_content(content));
    auto hw = tpm_hardware_id(tpm);
    if (!hw.ok()) return make_error(ErrorCode::Malformed, "the TPM's EK certificate does not decode");
    return make_evidence_record(type, std::move(content), std::move(hw).value(), verified_at);
  }
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

base::Result<ActivationRequest> parse_activation_request(const std::string& text, EvidenceRefusal& refusal) {
  auto refuse = [&](const char* code, std::string why) -> base::Result<ActivationRequest> {
    refusal = {code, std::move(why)};
    return make_error(ErrorCode::InvalidArgument, refusal.reason);
  };
  std::string repeated;
  auto doc = parse_json_line(text, repeated);
  if (doc.is_discarded() || !doc.is_object()) return refuse(reason::kInvalidJson, "the request is not a JSON object");
  if (!repeated.empty()) {
    return refuse(reason::kInvalidJson, "the request holds the key \"" + repeated.substr(0, 64) +
                                            "\" twice in one object; give each key once");
  }
  if (!doc.contains("evidence")) return refuse(reason::kMissingField, "the request has no \"evidence\"");
  ActivationRequest out;
  if (doc.contains("csr")) {
    if (!doc["csr"].is_string()) return refuse(reason::kInvalidField, "\"csr\" must be a string");
    const auto csr_text = doc["csr"].get<std::string>();
    const auto der = csr_field_der(csr_text);
    if (!der) return refuse(reason::kBadCsr, "\"csr\" is neither a PEM string nor base64 of DER");
    auto csr = pkix::Csr::parse(*der);
    if (!csr.ok()) return refuse(reason::kBadCsr, "CSR refused: " + csr.error().detail);
    out.csr_spki = csr->public_key().spki_der();
  }
  out.evidence = std::move(doc["evidence"]);
  return out;
}

}  // namespace hallmark::factory
