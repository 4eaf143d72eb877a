// A small HTTP(S) client: one connection, kept alive across requests, with an
// optional client certificate. For device emulation, tests and benchmarks —
// not a browser: no redirects, no proxies, no HTTP/2.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base/result.h"
#include "http/message.h"

struct evp_pkey_st;  // OpenSSL's EVP_PKEY, kept opaque here

namespace hallmark::http {

struct ClientConfig {
  bool tls = true;
  // PEM certificates the server's chain must lead to. Required unless
  // verify_server is false (tests and diagnostics only).
  std::string trust_anchors_pem;
  bool verify_server = true;
  // Sent as SNI (DNS names only) and checked against the server certificate
  // (DNS name or IP address). Empty: the host passed to connect().
  std::string server_name;
  // Optional client certificate: PEM chain, leaf first, and its key either as
  // unencrypted PEM or as a ready EVP_PKEY (e.g. one that signs in a TPM), which wins.
  std::string cert_chain_pem;
  std::string key_pem;
  std::shared_ptr<evp_pkey_st> key;
  // The signature algorithms the client may sign with (OpenSSL list syntax, e.g.
  // "ECDSA+SHA256" for a key that signs only SHA-256 digests); empty: OpenSSL's.
  std::string client_sigalgs;
  std::string tls_version;                    // "" (1.2 or 1.3, preferring 1.3), "1.2" or "1.3"
  std::chrono::milliseconds timeout{10'000};  // for connecting+handshake, and per request
  std::size_t max_body = 16 * 1024 * 1024;    // largest response body accepted
};

class Client {
 public:
  // Connects (and handshakes) to host:port. Errors: InvalidArgument (bad
  // config), Io (connect, handshake or verification failure; cause says which).
  [[nodiscard]] static base::Result<std::unique_ptr<Client>> connect(std::string host, std::uint16_t port,
                                                                     ClientConfig config);

  // Sends one request and reads its response on the current connection; when
  // the previous response closed it, reconnects first (with a new handshake,
  // hence a new channel binding). Sets Host, User-Agent and Content-Length.
  [[nodiscard]] base::Result<Response> request(std::string_view method, std::string_view target, std::string body = {},
                                               Headers headers = {});

  bool is_open() const;
  // Of the current connection; empty on plain HTTP.
  const std::string& tls_version() const;
  const std::string& channel_binding_type() const;  // kTlsUnique or kTlsExporter
  const base::Bytes& channel_binding() const;       // same bytes the server sees
  std::uint16_t local_port() const;

  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  struct Impl;

 private:
  explicit Client(std::unique_ptr<Impl> impl);
  static base::Result<std::unique_ptr<Client>> connect_impl(std::string host, std::uint16_t port, ClientConfig config);
  std::unique_ptr<Impl> m_impl;
};

}  // namespace hallmark::http
