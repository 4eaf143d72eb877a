#include "app/station_server.h"

#include <openssl/crypto.h>

#include <nlohmann/json.hpp>

#include "base/files.h"
#include "base/log.h"
#include "factory/evidence.h"
#include "pkix/csr.h"
#include "pkix/pem.h"

namespace hallmark::app {

using base::ErrorCode;
using base::make_error;
using nlohmann::json;

namespace {

http::Response json_response(int status, const json& body) {
  return http::Response::with(status, "application/json", body.dump() + "\n");
}

http::Response problem(int status, const std::string& reason_code, const std::string& reason) {
  return json_response(status, {{"status", "refused"}, {"reason_code", reason_code}, {"reason", reason}});
}

bool token_matches(std::string_view presented, const std::string& expected) {
  return presented.size() == expected.size() && CRYPTO_memcmp(presented.data(), expected.data(), expected.size()) == 0;
}

}  // namespace

int status_for_reason(const std::string& code) {
  namespace r = factory::reason;
  if (code == r::kLineTooLong || code == r::kInvalidJson || code == r::kMissingField || code == r::kInvalidField ||
      code == r::kBadCsr || code == r::kCsrSignature || code == r::kUnsupportedCsr || code == r::kEvidenceMalformed ||
      code == r::kTcgCsrTruncated || code == r::kTcgCsrSizeOverflow || code == r::kTcgCsrTrailingData ||
      code == r::kTcgCsrStructVer || code == r::kTcgCsrHashAlg || code == r::kTcgCsrIncomplete ||
      code == r::kTcgCsrSerialMismatch) {
    return 400;
  }
  if (code == r::kSerialAlreadyIssued || code == r::kDuplicateKey) return 409;
  if (code == r::kIssuanceFailed) return 503;
  return 403;  // attestation, window, product, profile, range, quota: the authorization says no
}

StationServer::StationServer(Station& station, std::string token, ca::SigningAuthority authority)
    : m_station(station), m_token(std::move(token)) {
  factory::EngineOptions opts;
  opts.workers = 1;
  opts.batch_id = "serve";
  opts.nonces = &station.records();
  opts.evidence = &station.records();
  m_engine = std::make_unique<factory::ProvisioningEngine>(station.scope(), station.issuer(), std::move(authority),
                                                           station.ledger(), station.records(), m_clock, opts);
  m_tpm = std::make_unique<attest::TpmAttestationVerifier>(factory::tpm_anchors(station.scope()), m_clock);
}

base::Result<std::unique_ptr<StationServer>> StationServer::start(Station& station, Options o) {
  if (o.token.size() < 16) {
    return make_error(ErrorCode::InvalidArgument,
                      "station serve needs a bearer token of at least 16 characters: set [serve] token in "
                      "station.toml or HALLMARK_STATION_TOKEN (issuance is never unauthenticated)");
  }
  if (o.tls_cert_file.empty() || o.tls_key_file.empty()) {
    return make_error(ErrorCode::InvalidArgument,
                      "give --tls-cert and --tls-key: the line's TLS certificate (PEM chain) and "
                      "its key (PEM); the "
                      "site CA never issues anything its authorization does not list");
  }
  HM_TRY(auto authority, station.authority());
  HM_TRY(auto chain, base::read_file(o.tls_cert_file, 1 << 20));
  HM_TRY(auto key, base::read_file(o.tls_key_file, 1 << 20));
  std::unique_ptr<StationServer> s(new StationServer(station, std::move(o.token), std::move(authority)));
  http::ServerConfig sc;
  sc.listen = o.listen;
  sc.cert_chain_pem = base::to_string(chain);
  sc.key_pem = base::to_string(key);
  sc.max_body = factory::kMaxManifestLine;
  sc.name = "station";
  sc.error_response = [](int status, const std::string& reason) {
    const char* code = status == 413   ? "body_too_large"
                       : status == 431 ? "header_too_large"
                       : status >= 500 ? "internal_error"
                                       : "malformed_request";
    return problem(status, code, reason);
  };
  auto* self = s.get();
  HM_TRY(s->m_server, http::Server::start(sc, [self](const http::Request& r) { return self->handle(r); }));
  return s;
}

http::Response StationServer::handle(const http::Request& request) {
  if (request.path != kProvisionPath && request.path != kChallengePath && request.path != kTpmActivatePath) {
    return problem(404, "not_found",
                   "unknown path; the station serves POST " + std::string(kProvisionPath) + ", " + kChallengePath +
                       " and " + kTpmActivatePath);
  }
  if (request.method != "POST") {
    auto r = problem(405, "method_not_allowed", "use POST");
    r.headers.emplace_back("Allow", "POST");
    return r;
  }
  const auto auth = request.header("Authorization").value_or("");
  constexpr std::string_view kBearer = "Bearer ";
  if (auth.size() <= kBearer.size() || auth.substr(0, kBearer.size()) != kBearer ||
      !token_matches(auth.substr(kBearer.size()), m_token)) {
    auto r = problem(401, "unauthenticated", "present the station's token as 'Authorization: Bearer <token>'");
    r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"hallmark-station\"");
    return r;
  }
  if (request.path == kChallengePath) {
    std::lock_guard lock(m_mutex);
    auto issued = factory::issue_challenges(m_station.records(), m_rng, m_clock, 1);
    if (!issued.ok()) return problem(503, "unavailable", "the station could not record a nonce");
    const auto& c = issued->front();
    return json_response(201, {{"nonce", c.nonce_hex}, {"expires", base::format_rfc3339(c.expires)}});
  }
  if (const auto type = request.header("Content-Type"); !type || !http::media_type_is(*type, "application/json")) {
    return problem(415, "unsupported_media_type", "send the manifest line as Content-Type: application/json");
  }
  if (request.path == kTpmActivatePath) return tpm_activate(request);
  // The body is one manifest line; a JSON document spanning lines is one line too.
  std::string line = request.body;
  for (auto& c : line) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  factory::ProvisionResult result;
  {
    std::lock_guard lock(m_mutex);
    result = m_engine->provision_one(line);
    if (auto c = m_station.audit().checkpoint_if_due(); !c.ok()) {
      base::log::warn("station: audit checkpoint failed: " + c.error().detail);
    }
  }
  json body = {{"serial", result.serial}, {"status", result.status}};
  if (result.status == "refused") {
    body["reason_code"] = result.reason_code;
    body["reason"] = result.reason;
    return json_response(status_for_reason(result.reason_code), body);
  }
  json certs = json::array();
  for (const auto& c : result.certificates) {
    certs.push_back({{"profile", c.profile}, {"serial", c.serial}, {"pem", pkix::pem_encode(c.der, "CERTIFICATE")}});
  }
  body["cert_serial"] = result.certificates.empty() ? json(nullptr) : json(result.certificates.front().serial);
  body["certificates"] = certs;
  body["chain"] = m_station.site_ca_pem() + m_station.factory_pem();
  body["trust_anchors"] = json::array({m_station.root_pem()});
  if (!result.warnings.empty()) body["warnings"] = result.warnings;
  base::log::info("station: " + result.status + " " + result.serial + " from " + request.peer_address);
  return json_response(result.status == "issued" ? 201 : 200, body);
}

http::Response StationServer::tpm_activate(const http::Request& request) {
  namespace r = factory::reason;
  factory::EvidenceRefusal bad;
  auto req = factory::parse_activation_request(request.body, bad);
  if (!req.ok()) return problem(400, bad.code, bad.reason);
  factory::EvidenceRefusal why;
  base::Result<factory::TpmActivation> made = base::make_error(ErrorCode::Internal, "not run");
  {
    std::lock_guard lock(m_mutex);
    made =
        factory::start_tpm_activation(req->evidence, req->csr_spki, *m_tpm, m_station.records(), m_rng, m_clock, why);
  }
  if (!made.ok()) {
    if (why.code.empty()) return problem(503, "unavailable", "the station could not record the activation");
    return problem(status_for_reason(why.code), why.code, why.reason);
  }
  base::log::info("station: TPM credential made for " + request.peer_address);
  return json_response(201, {{"credential_blob", base::base64_encode(made->credential_blob)},
                             {"encrypted_secret", base::base64_encode(made->encrypted_secret)},
                             {"expires", base::format_rfc3339(made->expires)}});
}

}  // namespace hallmark::app
