#include "device/est_client.h"

#include "pkix/cms.h"
#include "pkix/csr.h"
#include "pkix/name.h"
#include "pkix/oid.h"

namespace hallmark::device {

using base::ErrorCode;
using base::make_error;

base::Result<ParsedUrl> parse_https_url(const std::string& url) {
  constexpr std::string_view scheme = "https://";
  if (url.rfind(scheme, 0) != 0) return make_error(ErrorCode::InvalidArgument, "server URL must start with https://");
  std::string rest = url.substr(scheme.size());
  rest = rest.substr(0, rest.find('/'));
  ParsedUrl out;
  std::string port;
  if (!rest.empty() && rest.front() == '[') {
    const auto close = rest.find(']');
    if (close == std::string::npos) return make_error(ErrorCode::InvalidArgument, "bad IPv6 literal in '" + url + "'");
    out.host = rest.substr(1, close - 1);
    if (close + 1 < rest.size() && rest[close + 1] == ':') port = rest.substr(close + 2);
  } else {
    const auto colon = rest.rfind(':');
    out.host = rest.substr(0, colon);
    if (colon != std::string::npos) port = rest.substr(colon + 1);
  }
  if (out.host.empty()) return make_error(ErrorCode::InvalidArgument, "no host in '" + url + "'");
  if (!port.empty()) {
    try {
      const int p = std::stoi(port);
      if (p <= 0 || p > 65535) throw std::out_of_range("port");
      out.port = static_cast<std::uint16_t>(p);
    } catch (const std::exception&) {
      return make_error(ErrorCode::InvalidArgument, "bad port in '" + url + "'");
    }
  }
  return out;
}

base::Error error_of(const http::Response& r) {
  ErrorCode code = ErrorCode::Internal;
  switch (r.status) {
    case 400:
      code = ErrorCode::Malformed;
      break;
    case 401:
      code = ErrorCode::Unauthenticated;
      break;
    case 403:
      code = ErrorCode::Forbidden;
      break;
    case 404:
      code = ErrorCode::NotFound;
      break;
    case 413:
      code = ErrorCode::TooLarge;
      break;
    case 415:
    case 501:
      code = ErrorCode::Unsupported;
      break;
    default:
      code = r.status >= 500 ? ErrorCode::Unavailable : ErrorCode::Internal;
      break;
  }
  std::string body = r.body;
  while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.pop_back();
  return make_error(code, "EST server answered " + std::to_string(r.status) + ": " + body);
}

base::Result<std::unique_ptr<EstClient>> EstClient::connect(EstClientConfig config) {
  HM_TRY(auto url, parse_https_url(config.server_url));
  http::ClientConfig hc;
  hc.trust_anchors_pem = config.trust_anchors_pem;
  hc.verify_server = config.verify_server;
  hc.cert_chain_pem = config.cert_chain_pem;
  hc.key_pem = config.key_pem;
  hc.tls_version = config.tls_version;
  hc.timeout = config.timeout;
  HM_TRY(auto http, http::Client::connect(url.host, url.port, hc));
  return std::unique_ptr<EstClient>(new EstClient(std::move(config), std::move(http)));
}

base::Result<http::Response> EstClient::request(const std::string& method, const std::string& op, std::string body,
                                                http::Headers headers) {
  std::string target = "/.well-known/est/";
  if (!m_config.label.empty()) target += m_config.label + "/";
  target += op;
  return m_http->request(method, target, std::move(body), std::move(headers));
}

base::Result<std::vector<pkix::Certificate>> EstClient::cacerts() {
  HM_TRY(auto r, request("GET", "cacerts"));
  if (r.status != 200) return error_of(r);
  HM_TRY(auto der, base::base64_decode(r.body));  // RFC 8951: whitespace tolerated
  return pkix::decode_certs_only(der);
}

base::Result<base::Bytes> EstClient::csr_attributes() {
  HM_TRY(auto r, request("GET", "csrattrs"));
  if (r.status == 204 || r.status == 404) return base::Bytes{0x30, 0x00};  // RFC 7030 §4.5.2: none
  if (r.status != 200) return error_of(r);
  return base::base64_decode(r.body);
}

base::Result<pkix::Certificate> EstClient::enroll(const std::string& op, base::ByteView csr_der) {
  std::string body = base::base64_encode(csr_der);
  HM_TRY(auto r, request("POST", op, std::move(body), {{"Content-Type", "application/pkcs10"}}));
  if (r.status != 200) return error_of(r);
  HM_TRY(auto der, base::base64_decode(r.body));
  HM_TRY(auto certs, pkix::decode_certs_only(der));
  return certs.front();  // RFC 7030 §4.2.3: only the issued certificate
}

base::Result<pkix::Certificate> EstClient::simple_enroll(base::ByteView csr_der) {
  return enroll("simpleenroll", csr_der);
}
base::Result<pkix::Certificate> EstClient::simple_reenroll(base::ByteView csr_der) {
  return enroll("simplereenroll", csr_der);
}

base::Result<base::Bytes> make_csr(const keys::Signer& key, const std::string& device_serial,
                                   const std::optional<std::string>& challenge_password) {
  pkix::Name subject;
  if (!device_serial.empty()) HM_CHECK(subject.add(pkix::oid::kSerialNumber, device_serial));
  HM_TRY(auto info, pkix::encode_csr_info(subject, key.public_key_der(), {}, challenge_password));
  HM_TRY(auto sig, key.sign(info));
  return pkix::assemble_csr(info, key.signature_algorithm(), sig);
}

}  // namespace hallmark::device
