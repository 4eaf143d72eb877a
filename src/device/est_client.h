// EstClient: the device side of EST (RFC 7030 + RFC 8951) for device
// emulation, the demo, tests and benchmarks. It talks only over the wire
// (http::Client, mutual TLS with the device's IDevID or LDevID).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"
#include "http/client.h"
#include "keys/signer.h"
#include "pkix/certificate.h"
#include "pkix/csr.h"

namespace hallmark::device {

struct EstClientConfig {
  std::string server_url;         // "https://host:port" (a path after it is ignored)
  std::string label;              // optional /.well-known/est/<label>/
  std::string trust_anchors_pem;  // verifies the server; required unless !verify_server
  bool verify_server = true;
  std::string cert_chain_pem;        // client certificate (IDevID or LDevID), leaf first; may be empty
  std::string key_pem;               // its unencrypted key, or:
  std::shared_ptr<evp_pkey_st> key;  // a ready key (e.g. tpm_evp_pkey), which wins
  std::string client_sigalgs;        // as http::ClientConfig::client_sigalgs
  std::string tls_version;           // "", "1.2", "1.3"
  std::chrono::milliseconds timeout{10'000};
};

// What /serverkeygen returns (RFC 7030 §4.4.2): the key part as sent and the certificate.
struct ServerGeneratedKey {
  bool encrypted = false;  // application/pkcs7-mime; smime-type=server-generated-key (EnvelopedData)
  base::Bytes key_der;     // PKCS#8 (plain) or the CMS ContentInfo (encrypted)
  pkix::Certificate certificate;
};

struct ParsedUrl {
  std::string host;
  std::uint16_t port = 443;
};
// "https://host[:port][/...]", "[v6]:port" accepted. InvalidArgument otherwise.
base::Result<ParsedUrl> parse_https_url(const std::string& url);

class EstClient {
 public:
  // Connects and handshakes. Errors as http::Client::connect.
  [[nodiscard]] static base::Result<std::unique_ptr<EstClient>> connect(EstClientConfig config);

  // GET /cacerts: the CA certificates (certs-only PKCS#7).
  [[nodiscard]] base::Result<std::vector<pkix::Certificate>> cacerts();
  // POST /simpleenroll and /simplereenroll: the issued certificate.
  [[nodiscard]] base::Result<pkix::Certificate> simple_enroll(base::ByteView csr_der);
  [[nodiscard]] base::Result<pkix::Certificate> simple_reenroll(base::ByteView csr_der);
  // POST /serverkeygen: the server makes the key (the CSR's own key only sets its type).
  [[nodiscard]] base::Result<ServerGeneratedKey> server_keygen(base::ByteView csr_der);
  // GET /csrattrs: the DER CsrAttrs.
  [[nodiscard]] base::Result<base::Bytes> csr_attributes();
  // A raw request to /.well-known/est[/<label>]/<op> (tests and diagnostics).
  [[nodiscard]] base::Result<http::Response> request(const std::string& method, const std::string& op,
                                                     std::string body = {}, http::Headers headers = {});

  // The current connection's channel binding (for PoP linking).
  const std::string& channel_binding_type() const { return m_http->channel_binding_type(); }
  const base::Bytes& channel_binding() const { return m_http->channel_binding(); }

 private:
  EstClient(EstClientConfig config, std::unique_ptr<http::Client> http)
      : m_config(std::move(config)), m_http(std::move(http)) {}
  base::Result<pkix::Certificate> enroll(const std::string& op, base::ByteView csr_der);

  EstClientConfig m_config;
  std::unique_ptr<http::Client> m_http;
};

// A PKCS#10 CSR signed by `key` with subject serialNumber=<device_serial>
// (empty: an empty subject), an optional challengePassword (PoP linking) and an
// optional request that a server-generated key come back encrypted.
base::Result<base::Bytes> make_csr(const keys::Signer& key, const std::string& device_serial,
                                   const std::optional<std::string>& challenge_password = std::nullopt,
                                   const std::optional<pkix::KeyEncryptionRequest>& key_encryption = std::nullopt);

// The parts of a multipart/mixed body (RFC 2046 §5.1.1): (Content-Type, body) each.
base::Result<std::vector<std::pair<std::string, std::string>>> split_multipart(std::string_view content_type,
                                                                               std::string_view body);

// The error a non-200 EST response stands for: 400 Malformed, 401
// Unauthenticated, 403 Forbidden, 404 NotFound, 413 TooLarge, 415
// Unsupported, 501 Unsupported, 5xx Unavailable; detail "<status>: <body>".
base::Error error_of(const http::Response& response);

}  // namespace hallmark::device
