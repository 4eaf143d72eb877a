// HTTP request and response values exchanged between the server (or client) and
// the code above it. Plain data: no sockets, no TLS objects, no PKI — the peer
// certificate chain is raw DER that the handler (a protocol front end) judges.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/bytes.h"

namespace hallmark::http {

using Headers = std::vector<std::pair<std::string, std::string>>;

// The value of the first header called `name` (case-insensitive), if any.
std::optional<std::string_view> find_header(const Headers& headers, std::string_view name);

// Whether a Content-Type value names `type`: case-insensitive, parameters and
// surrounding blanks ignored (RFC 9110 §8.3.1).
bool media_type_is(std::string_view value, std::string_view type);

// Channel-binding types (RFC 5056) that the server hands to handlers.
inline constexpr std::string_view kTlsUnique = "tls-unique";      // RFC 5929 §3, TLS 1.2
inline constexpr std::string_view kTlsExporter = "tls-exporter";  // RFC 9266, TLS 1.3

struct Request {
  std::string method;  // "GET", "POST", ... as sent
  std::string target;  // request-target as sent: "/a/b?x=1"
  std::string path;    // target up to '?', still percent-encoded
  std::string query;   // after '?', without it; empty when absent
  Headers headers;     // in arrival order, names as sent
  std::string body;

  // The client's certificate chain as presented in the handshake, DER, leaf
  // first; empty when the client sent none or on a plain-HTTP listener. NOT
  // verified: deciding whether to trust it is the handler's job.
  std::vector<base::Bytes> peer_chain;
  std::string tls_version;           // "TLSv1.2", "TLSv1.3"; empty on plain HTTP
  std::string channel_binding_type;  // kTlsUnique, kTlsExporter, or empty (none)
  base::Bytes channel_binding;       // empty when channel_binding_type is empty
  std::string peer_address;          // "127.0.0.1:51234", "[::1]:51234"

  std::optional<std::string_view> header(std::string_view name) const { return find_header(headers, name); }
};

struct Response {
  int status = 200;
  // Content-Length and Connection are set by the server (client: as received).
  Headers headers;
  std::string body;

  // A response with Content-Type: text/plain; charset=utf-8.
  static Response text(int status, std::string body);
  // A response with the given Content-Type.
  static Response with(int status, std::string content_type, std::string body);

  std::optional<std::string_view> header(std::string_view name) const { return find_header(headers, name); }
};

// Called on an io thread for every complete request; must be thread-safe. It
// may block (it holds one io thread meanwhile). An exception escaping it is
// logged and answered with 500.
using Handler = std::function<Response(const Request&)>;

}  // namespace hallmark::http
