#include "proto/est/est_service.h"

#include <algorithm>
#include <cctype>

#include "base/log.h"
#include "keys/software_key_store.h"
#include "pkix/cms.h"
#include "pkix/csr.h"
#include "pkix/der.h"
#include "pkix/oid.h"
#include "pkix/pem.h"
#include "proto/est/errors.h"

namespace hallmark::proto::est {

using base::ErrorCode;
using base::make_error;

namespace {

constexpr char kCertsOnly[] = "application/pkcs7-mime; smime-type=certs-only";
constexpr char kChallengePassword[] = "1.2.840.113549.1.9.7";
// RFC 7030 §4.4.1.1 / §4.4.1.2: CSR attributes asking for a CMS-encrypted key.

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// HTTP Basic (RFC 7617): "Basic base64(user:password)"; anything else is no
// credential at all (the label's policy then decides what is missing).
std::optional<ra::BasicCredentials> basic_of(const http::Request& r) {
  const auto value = r.header("Authorization");
  if (!value || value->size() < 6 || lower(value->substr(0, 6)) != "basic ") return std::nullopt;
  auto decoded = base::base64_decode(value->substr(6));
  if (!decoded.ok()) return std::nullopt;
  const std::string text = base::to_string(decoded.value());
  const auto colon = text.find(':');
  if (colon == std::string::npos) return std::nullopt;
  return ra::BasicCredentials{text.substr(0, colon), text.substr(colon + 1)};
}

// An Authorization header that says Basic but does not decode to user:password.
bool malformed_basic(const http::Request& r) {
  const auto value = r.header("Authorization");
  return value && value->size() >= 6 && lower(value->substr(0, 6)) == "basic " && !basic_of(r);
}

ra::Authentication authentication_of(const http::Request& r) {
  return {r.peer_chain, r.channel_binding_type, r.channel_binding, r.peer_address, basic_of(r)};
}

// The CSR from an EST request body: base64 of DER (RFC 8951: any whitespace;
// Content-Transfer-Encoding ignored), or a PEM-armoured CSR, which some
// clients send and which is unambiguous.
base::Result<base::Bytes> csr_from_body(const http::Request& r) {
  const auto ct = r.header("Content-Type");
  if (!ct) return make_error(ErrorCode::Unsupported, "missing Content-Type: send application/pkcs10");
  if (!http::media_type_is(*ct, "application/pkcs10")) {
    return make_error(ErrorCode::Unsupported,
                      "Content-Type '" + std::string(*ct) + "' is not application/pkcs10 (RFC 7030 §4.2.1)");
  }
  if (trim(r.body).find_first_not_of(" \t\r\n") == std::string_view::npos) {
    return make_error(ErrorCode::Malformed, "empty body: send the CSR as base64 of its DER (RFC 8951)");
  }
  const auto body = base::to_bytes(r.body);
  if (pkix::looks_like_pem(body)) {
    auto der = pkix::to_der(body, {"CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"});
    if (!der.ok()) {
      return make_error(ErrorCode::Malformed, "the body is PEM but not one CSR block (" + der.error().detail +
                                                  "); EST expects base64 of the DER CSR");
    }
    return std::move(der).value();
  }
  auto der = base::base64_decode(r.body);
  if (!der.ok()) {
    return make_error(ErrorCode::Malformed, "the body is not base64: EST carries the DER CSR in base64 (RFC 8951)");
  }
  if (der->empty()) return make_error(ErrorCode::Malformed, "empty body: send the CSR as base64 of its DER");
  return std::move(der).value();
}

}  // namespace

std::string base64_lines(base::ByteView der) {
  const auto b64 = base::base64_encode(der);
  std::string out;
  out.reserve(b64.size() + b64.size() / 64 + 1);
  for (std::size_t i = 0; i < b64.size(); i += 64) {
    out.append(b64, i, 64);
    out.push_back('\n');
  }
  return out;
}

base::Bytes csr_attributes(const ra::EnrollmentPolicy& policy) {
  namespace der = pkix::der;
  // ecdsa-with-SHA256 and an EC P-256 key (what the ldevid profile certifies by
  // default); challengePassword when PoP linking is required (RFC 7030 §4.5.2).
  std::vector<base::Bytes> items;
  if (policy.pop_linking) items.push_back(der::oid_constant(kChallengePassword));
  items.push_back(der::sequence(
      {der::oid_constant(pkix::oid::kEcPublicKey), der::set_of({der::oid_constant(pkix::oid::kSecp256r1)})}));
  items.push_back(der::oid_constant(pkix::oid::kEcdsaWithSha256));
  base::Bytes content;
  for (const auto& i : items) content.insert(content.end(), i.begin(), i.end());
  return der::tlv(0x30, content);
}

EstService::EstService(EstConfig config, ra::EnrollmentService& enrollment)
    : m_config(std::move(config)), m_enrollment(enrollment) {
  if (!m_config.ca_certs.empty()) {
    if (auto p7 = pkix::encode_certs_only(m_config.ca_certs); p7.ok()) m_cacerts_body = base64_lines(p7.value());
  }
}

http::Response EstService::handle(const http::Request& request) {
  std::string_view path = request.path;
  if (path.substr(0, kPrefix.size()) != kPrefix || (path.size() > kPrefix.size() && path[kPrefix.size()] != '/')) {
    return http::Response::text(404, "not an EST path: use /.well-known/est[/<label>]/<operation>\n");
  }
  path.remove_prefix(kPrefix.size());
  std::vector<std::string_view> segments;
  while (!path.empty()) {
    path.remove_prefix(1);  // '/'
    const auto slash = path.find('/');
    auto seg = path.substr(0, slash);
    if (!seg.empty()) segments.push_back(seg);
    path = slash == std::string_view::npos ? std::string_view{} : path.substr(slash);
  }
  if (segments.empty() || segments.size() > 2) {
    return http::Response::text(404, "use /.well-known/est[/<label>]/<operation>\n");
  }
  const ra::EnrollmentPolicy* policy = &m_config.default_policy;
  if (segments.size() == 2) {
    auto it = m_config.labels.find(std::string(segments[0]));
    if (it == m_config.labels.end()) {
      return http::Response::text(404, "unknown EST label '" + std::string(segments[0]) + "'\n");
    }
    policy = &it->second;
  }
  const auto op = segments.back();
  const bool get = request.method == "GET" || request.method == "HEAD";  // HEAD: the server drops the body
  const bool post = request.method == "POST";
  auto method_not_allowed = [](const char* allow) {
    auto r = http::Response::text(405, std::string("method not allowed; use ") + allow + "\n");
    r.headers.emplace_back("Allow", allow);
    return r;
  };
  if (op == "cacerts") return get ? cacerts() : method_not_allowed("GET, HEAD");
  if (op == "csrattrs") return get ? csrattrs(*policy) : method_not_allowed("GET, HEAD");
  if (op == "simpleenroll") return post ? enroll(*policy, request, false) : method_not_allowed("POST");
  if (op == "simplereenroll") return post ? enroll(*policy, request, true) : method_not_allowed("POST");
  if (op == "serverkeygen") {
    if (!post) return method_not_allowed("POST");
    if (!m_config.server_keygen) return http::Response::text(404, "serverkeygen is not offered by this server\n");
    return server_keygen(*policy, request);
  }
  if (op == "fullcmc") {
    return http::Response::text(501,
                                "fullcmc (RFC 7030 §4.3) is not implemented yet; it is on the roadmap. "
                                "Use simpleenroll / simplereenroll.\n");
  }
  return http::Response::text(404, "unknown EST operation '" + std::string(op) + "'\n");
}

http::Response EstService::cacerts() const {
  if (m_cacerts_body.empty()) return http::Response::text(503, "no CA certificates configured\n");
  return http::Response::with(200, "application/pkcs7-mime", m_cacerts_body);
}

http::Response EstService::csrattrs(const ra::EnrollmentPolicy& policy) const {
  return http::Response::with(200, "application/csrattrs", base64_lines(csr_attributes(policy)));
}

http::Response EstService::enroll(const ra::EnrollmentPolicy& policy, const http::Request& request, bool renewal) {
  auto csr = csr_from_body(request);
  if (!csr.ok()) {
    if (csr.error().code == ErrorCode::Unsupported) return http::Response::text(415, csr.error().detail + "\n");
    return error_response(csr.error());
  }
  if (malformed_basic(request)) {
    return http::Response::text(401,
                                "the Authorization header is not HTTP Basic: send base64 of "
                                "<device serial>:<password> (RFC 7617)\n");
  }
  const auto auth = authentication_of(request);
  auto enrolled =
      renewal ? m_enrollment.reenroll(policy, auth, csr.value()) : m_enrollment.enroll(policy, auth, csr.value());
  if (!enrolled.ok()) {
    auto response = error_response(enrolled.error());
    // RFC 7030 §3.2.3 / RFC 7235 §4.1: say which HTTP authentication would do.
    if (response.status == 401 && policy.http_basic && !renewal) {
      response.headers.emplace_back("WWW-Authenticate", "Basic realm=\"hallmark-est\", charset=\"UTF-8\"");
    }
    return response;
  }
  // RFC 7030 §4.2.3: only the issued certificate.
  auto p7 = pkix::encode_certs_only({enrolled->certificate});
  if (!p7.ok()) return error_response(p7.error());
  base::log::info("est: " + std::string(renewal ? "renewed" : "enrolled") + " device " + enrolled->device_serial +
                  " serial " + enrolled->certificate.serial_hex());
  return http::Response::with(200, kCertsOnly, base64_lines(p7.value()));
}

http::Response EstService::server_keygen(const ra::EnrollmentPolicy& policy, const http::Request& request) {
  auto csr_der = csr_from_body(request);
  if (!csr_der.ok()) {
    if (csr_der.error().code == ErrorCode::Unsupported) return http::Response::text(415, csr_der.error().detail + "\n");
    return error_response(csr_der.error());
  }
  auto csr = pkix::Csr::parse(csr_der.value());
  if (!csr.ok()) return error_response(csr.error());
  const auto auth = authentication_of(request);
  // Authenticate before spending a key generation on the requester (and before
  // telling it which key identifiers exist).
  if (auto id = m_enrollment.authenticate_device(auth); !id.ok()) return error_response(id.error());
  // Refuse an encryption we cannot do before anything is issued.
  auto encryption = key_encryption_for(csr.value());
  if (!encryption.ok()) return error_response(encryption.error());
  auto key = keys::generate_ephemeral(csr->key_algorithm());
  if (!key.ok()) return error_response(key.error());
  auto enrolled = m_enrollment.enroll(policy, auth, csr_der.value(), key.value()->public_key_der());
  if (!enrolled.ok()) return error_response(enrolled.error());
  auto pem = keys::export_unencrypted_pem(*key.value());
  if (!pem.ok()) return error_response(pem.error());
  auto pkcs8 = pkix::to_der(base::to_bytes(pem.value()), {"PRIVATE KEY"});
  if (!pkcs8.ok()) return error_response(pkcs8.error());
  auto key_part = encryption->seal(pkcs8.value());
  if (!key_part.ok()) return error_response(key_part.error());
  auto p7 = pkix::encode_certs_only({enrolled->certificate});
  if (!p7.ok()) return error_response(p7.error());
  // RFC 7030 §4.4.2: multipart/mixed, the key part then the certificate part.
  const std::string boundary = "est-hallmark-" + enrolled->certificate.serial_hex();
  std::string body;
  body +=
      "--" + boundary + "\r\nContent-Type: " + key_part->first + "\r\n\r\n" + base64_lines(key_part->second) + "\r\n";
  body +=
      "--" + boundary + "\r\nContent-Type: " + std::string(kCertsOnly) + "\r\n\r\n" + base64_lines(p7.value()) + "\r\n";
  body += "--" + boundary + "--\r\n";
  base::log::info("est: server-generated key for device " + enrolled->device_serial + " serial " +
                  enrolled->certificate.serial_hex());
  return http::Response::with(200, "multipart/mixed; boundary=" + boundary, body);
}

base::Result<EstService::KeyEncryption> EstService::key_encryption_for(const pkix::Csr& csr) const {
  KeyEncryption out;
  const auto& request = csr.key_encryption();
  if (!request) return out;
  out.key_id = request->key_id;
  const std::string id_hex = base::hex_encode(request->key_id);
  if (request->kind == pkix::KeyEncryptionRequest::Kind::Symmetric) {
    if (m_config.symmetric_key) {
      HM_TRY(out.kek, m_config.symmetric_key(request->key_id));
    }
    if (!out.kek) {
      return make_error(ErrorCode::InvalidArgument, "the CSR's DecryptKeyIdentifier " + id_hex +
                                                        " names no pre-provisioned key on this server; omit the "
                                                        "attribute to receive application/pkcs8 inside TLS");
    }
    return out;
  }
  if (m_config.encryption_certificate) {
    HM_TRY(out.recipient, m_config.encryption_certificate(request->key_id));
  }
  if (!out.recipient) {
    return make_error(ErrorCode::InvalidArgument, "the CSR's AsymmetricDecryptKeyIdentifier " + id_hex +
                                                      " names no registered encryption certificate on this server; "
                                                      "omit the attribute to receive application/pkcs8 inside TLS");
  }
  return out;
}

base::Result<std::pair<std::string, base::Bytes>> EstService::KeyEncryption::seal(base::ByteView pkcs8) const {
  if (!kek && !recipient) {
    return std::pair<std::string, base::Bytes>{"application/pkcs8", base::Bytes(pkcs8.begin(), pkcs8.end())};
  }
  // RFC 7030 §4.4.2 / RFC 5958 §3: the key travels as an AsymmetricKeyPackage
  // (a SEQUENCE OF OneAsymmetricKey; PKCS#8 is OneAsymmetricKey v1) in EnvelopedData.
  const base::Bytes package = pkix::der::sequence({base::Bytes(pkcs8.begin(), pkcs8.end())});
  auto enveloped = kek ? pkix::encrypt_for_kek(package, pkix::oid::kAsymmetricKeyPackage, *kek, key_id)
                       : pkix::encrypt_for_certificate(package, pkix::oid::kAsymmetricKeyPackage, *recipient);
  if (!enveloped.ok()) return enveloped.error();
  return std::pair<std::string, base::Bytes>{"application/pkcs7-mime; smime-type=server-generated-key",
                                             std::move(enveloped).value()};
}

}  // namespace hallmark::proto::est
