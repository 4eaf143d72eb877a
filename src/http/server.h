// The HTTP(S) server every protocol front end sits on (EST, ACME, BRSKI, CMP,
// CRL/OCSP over plain HTTP). It knows nothing of PKI: it requests — but never
// requires nor verifies — a client certificate, and hands the raw peer chain and
// the TLS channel binding to the handler, which decides (so a missing or
// untrusted client certificate becomes an HTTP 401 with a reason, not a TLS alert).
//
// TLS 1.2 and 1.3 only (OpenSSL 3); TLS 1.2 offers ECDHE with AES-GCM or
// ChaCha20-Poly1305 only; no compression, no renegotiation, no resumption.
// HTTP/1.1 with keep-alive and bounded everything: header size, body size,
// time to read one request, idle time between requests, handshake time, and
// the number of open connections. One access-log line per request (base::log, info).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "base/result.h"
#include "http/message.h"

struct evp_pkey_st;  // OpenSSL's EVP_PKEY, kept opaque here

namespace hallmark::http {

struct ServerConfig {
  // "host:port" or "[v6]:port"; host is an IP literal or a resolvable name.
  // Port 0 binds a free port: read it back with Server::port().
  std::string listen = "127.0.0.1:8443";
  bool tls = true;  // false: a plain-HTTP listener (same handler interface, no chain/binding)

  // TLS only. The certificate chain in PEM, leaf first then intermediates, and
  // the private key either as unencrypted PEM (PKCS#8 or traditional; the caller
  // decrypts) or as a ready EVP_PKEY (e.g. a provider/HSM-backed key), which wins.
  std::string cert_chain_pem;
  std::string key_pem;
  std::shared_ptr<evp_pkey_st> key;

  std::size_t max_header = 8 * 1024;  // request line + headers; beyond: 431
  std::size_t max_body = 64 * 1024;   // beyond (declared or streamed): 413
  // From the first byte of a request to its last (headers and body): a slow
  // client cannot pin a connection longer. Also bounds writing the response.
  std::chrono::milliseconds request_timeout{10'000};
  std::chrono::milliseconds handshake_timeout{10'000};
  // How long a kept-alive connection may wait for its next request.
  std::chrono::milliseconds idle_timeout{30'000};
  // Connections beyond this are closed as soon as they are accepted.
  std::size_t max_connections = 1024;
  // The same for one client address, so that one client cannot take them all
  // (a factory line behind one NAT address needs room: keep it generous).
  std::size_t max_connections_per_address = 256;
  int threads = 0;             // io threads; 0: std::thread::hardware_concurrency()
  std::string name = "https";  // prefix of log lines
  // The body of the answers the server gives on its own (400, 413, 431, 500),
  // for a protocol whose errors have a format (e.g. JSON); plain text when unset.
  std::function<Response(int status, const std::string& reason)> error_response;
};

class Server {
 public:
  // Binds, listens and starts the io threads. Errors: InvalidArgument (bad
  // config, unusable certificate or key), Io (cannot bind).
  [[nodiscard]] static base::Result<std::unique_ptr<Server>> start(ServerConfig config, Handler handler);

  // The bound port (useful with port 0).
  std::uint16_t port() const;

  // Graceful shutdown: stops accepting, closes idle connections, lets requests
  // already being read or handled finish (their responses carry
  // "Connection: close") for up to `grace`, then closes everything and joins
  // the io threads. Idempotent. Must not be called from a handler.
  void stop(std::chrono::milliseconds grace = std::chrono::seconds(5));

  // stop(0): in-flight requests are cut.
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  struct Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  static base::Result<std::unique_ptr<Server>> start_impl(ServerConfig config, Handler handler);
  std::unique_ptr<Impl> m_impl;
};

}  // namespace hallmark::http
