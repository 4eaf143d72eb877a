// Internal to http/: the OpenSSL side of the server and client — context
// policy (versions, cipher suites, certificates), per-connection facts (peer
// chain, channel binding). Pure OpenSSL, no Asio, so it is cheap to compile.
#pragma once

#include <openssl/ssl.h>

#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"

namespace hallmark::http::detail {

// What a handshake established, as handed to handlers.
struct TlsFacts {
  std::string version;  // "TLSv1.2" / "TLSv1.3"
  std::string binding_type;
  base::Bytes binding;
  std::vector<base::Bytes> peer_chain;  // DER, leaf first
};

// Server policy: TLS 1.2+, ECDHE+AEAD suites, no compression/renegotiation/
// resumption, client certificate requested but accepted unverified. `key`
// (if non-null) wins over `key_pem`.
base::Status configure_server_context(SSL_CTX* ctx, std::string_view cert_chain_pem, std::string_view key_pem,
                                      EVP_PKEY* key);

struct ClientTls {
  std::string_view trust_anchors_pem;
  bool verify_server = true;
  std::string_view cert_chain_pem;
  std::string_view key_pem;
  EVP_PKEY* key = nullptr;          // wins over key_pem
  std::string_view client_sigalgs;  // "" = OpenSSL's default list
  std::string_view version;         // "", "1.2", "1.3"
};
base::Status configure_client_context(SSL_CTX* ctx, const ClientTls& tls);
// SNI and the expected server name (DNS name or IP literal).
base::Status configure_client_connection(SSL* ssl, const std::string& server_name, bool verify);

// After a completed handshake.
TlsFacts connection_facts(SSL* ssl, bool is_server);

// Drains OpenSSL's error queue into one line (for Error::cause).
std::string openssl_errors();

}  // namespace hallmark::http::detail
