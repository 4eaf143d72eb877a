#include "device/est_client.h"

#include <cctype>

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
  hc.key = config.key;
  hc.client_sigalgs = config.client_sigalgs;
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

base::Result<ServerGeneratedKey> EstClient::server_keygen(base::ByteView csr_der) {
  HM_TRY(auto r,
         request("POST", "serverkeygen", base::base64_encode(csr_der), {{"Content-Type", "application/pkcs10"}}));
  if (r.status != 200) return error_of(r);
  HM_TRY(auto parts, split_multipart(r.header("Content-Type").value_or(""), r.body));
  if (parts.size() != 2) {
    return base::make_error(
        base::ErrorCode::Malformed,
        "serverkeygen: expected a key part and a certificate part, got " + std::to_string(parts.size()) + " parts");
  }
  const auto& key_type = parts[0].first;
  const bool encrypted = key_type.find("server-generated-key") != std::string::npos;
  if (!encrypted && key_type.find("application/pkcs8") == std::string::npos) {
    return base::make_error(base::ErrorCode::Malformed, "serverkeygen: unexpected key part type '" + key_type + "'");
  }
  HM_TRY(auto key_der, base::base64_decode(parts[0].second));
  HM_TRY(auto der, base::base64_decode(parts[1].second));
  HM_TRY(auto certs, pkix::decode_certs_only(der));
  return ServerGeneratedKey{encrypted, std::move(key_der), certs.front()};
}

base::Result<std::vector<std::pair<std::string, std::string>>> split_multipart(std::string_view content_type,
                                                                               std::string_view body) {
  auto malformed = [](const std::string& why) {
    return base::make_error(base::ErrorCode::Malformed, "multipart body: " + why);
  };
  const auto at = content_type.find("boundary=");
  if (at == std::string_view::npos) return malformed("no boundary parameter in '" + std::string(content_type) + "'");
  std::string boundary(content_type.substr(at + 9));
  boundary = boundary.substr(0, boundary.find(';'));
  if (boundary.size() >= 2 && boundary.front() == '"') boundary = boundary.substr(1, boundary.size() - 2);
  if (boundary.empty()) return malformed("empty boundary");
  const std::string delimiter = "--" + boundary;
  std::vector<std::pair<std::string, std::string>> parts;
  auto pos = body.find(delimiter);
  while (pos != std::string_view::npos) {
    pos += delimiter.size();
    if (body.substr(pos, 2) == "--") return parts;  // close delimiter
    const auto next = body.find(delimiter, pos);
    if (next == std::string_view::npos) break;
    std::string_view part = body.substr(pos, next - pos);
    const auto blank = part.find("\r\n\r\n");
    const auto blank_lf = part.find("\n\n");
    const bool crlf = blank != std::string_view::npos && (blank_lf == std::string_view::npos || blank < blank_lf);
    const auto split = crlf ? blank : blank_lf;
    if (split == std::string_view::npos) return malformed("a part has no header/body separator");
    std::string type;
    std::string_view headers = part.substr(0, split);
    for (std::size_t line_start = 0; line_start < headers.size();) {
      auto line_end = headers.find('\n', line_start);
      if (line_end == std::string_view::npos) line_end = headers.size();
      std::string line(headers.substr(line_start, line_end - line_start));
      if (!line.empty() && line.back() == '\r') line.pop_back();
      std::string lower = line;
      for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (lower.rfind("content-type:", 0) == 0) {
        type = line.substr(13);
        type.erase(0, type.find_first_not_of(" \t"));
      }
      line_start = line_end + 1;
    }
    parts.emplace_back(std::move(type), std::string(part.substr(split + (crlf ? 4 : 2))));
    pos = next;
  }
  return malformed("no closing delimiter");
}

base::Result<base::Bytes> make_csr(const keys::Signer& key, const std::string& device_serial,
                                   const std::optional<std::string>& challenge_password,
                                   const std::optional<pkix::KeyEncryptionRequest>& key_encryption) {
  pkix::Name subject;
  if (!device_serial.empty()) HM_CHECK(subject.add(pkix::oid::kSerialNumber, device_serial));
  HM_TRY(auto info, pkix::encode_csr_info(subject, key.public_key_der(), {}, challenge_password, key_encryption));
  HM_TRY(auto sig, key.sign(info));
  return pkix::assemble_csr(info, key.signature_algorithm(), sig);
}

}  // namespace hallmark::device
