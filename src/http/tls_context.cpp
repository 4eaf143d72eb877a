#include "http/tls_context.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>

namespace hallmark::http::detail {
namespace {

using base::ErrorCode;
using base::make_error;

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

// TLS 1.2: forward secrecy (ECDHE) and AEAD only — no CBC, no RSA key
// transport, no finite-field DHE (BSI TR-02102-2, Mozilla "intermediate").
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
constexpr const char* kTls13Suites = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";
constexpr const char* kGroups = "X25519:P-256:P-384";

// RFC 9266 §2: label of the tls-exporter channel binding; 32 bytes, empty context.
constexpr std::string_view kExporterLabel = "EXPORTER-Channel-Binding";
constexpr std::size_t kExporterLength = 32;

// Never prompt on a terminal for an encrypted PEM key: the caller decrypts.
int no_passphrase(char*, int, int, void*) {
  return -1;
}

BioPtr memory_bio(std::string_view text) {
  return BioPtr(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

base::Bytes to_der(X509* cert) {
  unsigned char* out = nullptr;
  const int n = i2d_X509(cert, &out);
  if (n <= 0) return {};
  base::Bytes der(out, out + n);
  OPENSSL_free(out);
  return der;
}

// Whatever the chain, accept it: the handler judges the client (see server.h).
int accept_any_chain(X509_STORE_CTX*, void*) {
  return 1;
}

base::Status use_certificate_and_key(SSL_CTX* ctx, std::string_view chain_pem, std::string_view key_pem,
                                     EVP_PKEY* key) {
  auto bio = memory_bio(chain_pem);
  X509Ptr leaf(PEM_read_bio_X509(bio.get(), nullptr, no_passphrase, nullptr));
  if (!leaf) {
    return make_error(ErrorCode::InvalidArgument, "no PEM certificate in the certificate chain", openssl_errors());
  }
  if (SSL_CTX_use_certificate(ctx, leaf.get()) != 1) {
    return make_error(ErrorCode::InvalidArgument, "unusable TLS certificate", openssl_errors());
  }
  while (X509Ptr extra{PEM_read_bio_X509(bio.get(), nullptr, no_passphrase, nullptr)}) {
    if (SSL_CTX_add1_chain_cert(ctx, extra.get()) != 1) {
      return make_error(ErrorCode::InvalidArgument, "unusable chain certificate", openssl_errors());
    }
  }
  ERR_clear_error();  // the loop ends on "no start line"

  PkeyPtr owned;
  if (key == nullptr) {
    auto key_bio = memory_bio(key_pem);
    owned.reset(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, no_passphrase, nullptr));
    if (!owned) {
      return make_error(ErrorCode::InvalidArgument, "no unencrypted PEM private key for the TLS certificate",
                        openssl_errors());
    }
    key = owned.get();
  }
  if (SSL_CTX_use_PrivateKey(ctx, key) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    return make_error(ErrorCode::InvalidArgument, "the TLS private key does not match the certificate",
                      openssl_errors());
  }
  return base::ok_status();
}

base::Status common_policy(SSL_CTX* ctx) {
  SSL_CTX_set_options(
      ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET | SSL_OP_CIPHER_SERVER_PREFERENCE);
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 || SSL_CTX_set_cipher_list(ctx, kTls12Ciphers) != 1 ||
      SSL_CTX_set_ciphersuites(ctx, kTls13Suites) != 1 || SSL_CTX_set1_groups_list(ctx, kGroups) != 1) {
    return make_error(ErrorCode::Internal, "cannot apply the TLS policy", openssl_errors());
  }
  return base::ok_status();
}

bool is_ip_literal(const std::string& name) {
  unsigned char buf[16];
  return inet_pton(AF_INET, name.c_str(), buf) == 1 || inet_pton(AF_INET6, name.c_str(), buf) == 1;
}

}  // namespace

std::string openssl_errors() {
  std::string out;
  while (const unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out;
}

base::Status configure_server_context(SSL_CTX* ctx, std::string_view cert_chain_pem, std::string_view key_pem,
                                      EVP_PKEY* key) {
  HM_CHECK(common_policy(ctx));
  // No resumption: every connection does a full handshake, so tls-unique is
  // always the client's Finished and nothing is cached across connections.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_num_tickets(ctx, 0);
  // Request a client certificate without requiring it (no FAIL_IF_NO_PEER_CERT),
  // and accept whatever chain comes: the handler decides and answers 401 itself.
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  SSL_CTX_set_cert_verify_callback(ctx, accept_any_chain, nullptr);
  return use_certificate_and_key(ctx, cert_chain_pem, key_pem, key);
}

base::Status configure_client_context(SSL_CTX* ctx, const ClientTls& tls) {
  HM_CHECK(common_policy(ctx));
  if (tls.version == "1.2") {
    SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION);
  } else if (tls.version == "1.3") {
    SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
  } else if (!tls.version.empty()) {
    return make_error(ErrorCode::InvalidArgument, "tls_version must be empty, 1.2 or 1.3");
  }
  if (tls.verify_server) {
    auto bio = memory_bio(tls.trust_anchors_pem);
    X509_STORE* store = SSL_CTX_get_cert_store(ctx);
    int count = 0;
    while (X509Ptr cert{PEM_read_bio_X509(bio.get(), nullptr, no_passphrase, nullptr)}) {
      if (X509_STORE_add_cert(store, cert.get()) != 1) {
        return make_error(ErrorCode::InvalidArgument, "unusable trust anchor", openssl_errors());
      }
      ++count;
    }
    ERR_clear_error();
    if (count == 0) {
      return make_error(ErrorCode::InvalidArgument, "no trust anchors to verify the server with (verify_server is on)");
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  } else {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  }
  if (!tls.cert_chain_pem.empty()) {
    HM_CHECK(use_certificate_and_key(ctx, tls.cert_chain_pem, tls.key_pem, tls.key));
  }
  if (!tls.client_sigalgs.empty() &&
      SSL_CTX_set1_client_sigalgs_list(ctx, std::string(tls.client_sigalgs).c_str()) != 1) {
    return make_error(ErrorCode::InvalidArgument, "unusable client signature algorithms", openssl_errors());
  }
  return base::ok_status();
}

base::Status configure_client_connection(SSL* ssl, const std::string& server_name, bool verify) {
  const bool ip = is_ip_literal(server_name);
  // RFC 6066 §3: SNI carries DNS names only, never IP literals.
  if (!ip && SSL_set_tlsext_host_name(ssl, server_name.c_str()) != 1) {
    return make_error(ErrorCode::InvalidArgument, "bad server name", openssl_errors());
  }
  if (verify) {
    const int rc = ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), server_name.c_str())
                      : SSL_set1_host(ssl, server_name.c_str());
    if (rc != 1) {
      return make_error(ErrorCode::InvalidArgument, "bad server name", openssl_errors());
    }
  }
  return base::ok_status();
}

TlsFacts connection_facts(SSL* ssl, bool is_server) {
  TlsFacts facts;
  facts.version = SSL_get_version(ssl);

  // The chain as the peer sent it. OpenSSL leaves the leaf out of
  // SSL_get_peer_cert_chain on the server side and includes it on the client side.
  if (X509* leaf = SSL_get0_peer_certificate(ssl)) {
    facts.peer_chain.push_back(to_der(leaf));
    if (STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl)) {
      for (int i = 0; i < sk_X509_num(chain); ++i) {
        X509* cert = sk_X509_value(chain, i);
        if (i == 0 && X509_cmp(cert, leaf) == 0) continue;
        facts.peer_chain.push_back(to_der(cert));
      }
    }
  }

  if (SSL_version(ssl) == TLS1_3_VERSION) {
    // RFC 9266 §2: tls-exporter = TLS-Exporter("EXPORTER-Channel-Binding",
    // empty context, 32). (RFC 5929 tls-unique is undefined for TLS 1.3.)
    base::Bytes out(kExporterLength);
    if (SSL_export_keying_material(ssl, out.data(), out.size(), kExporterLabel.data(), kExporterLabel.size(), nullptr,
                                   0, 1) == 1) {
      facts.binding_type = "tls-exporter";
      facts.binding = std::move(out);
    }
  } else if (SSL_version(ssl) == TLS1_2_VERSION && SSL_get_extms_support(ssl) == 1) {
    // RFC 5929 §3.1: tls-unique is the first Finished message's verify_data
    // of the most recent handshake — the client's in a full handshake, the
    // server's in an abbreviated (resumed) one. Without the extended master
    // secret (RFC 7627) it is open to the triple-handshake attack (RFC 7627
    // §1, RFC 9266 §1), so we then offer no binding at all.
    const bool first_is_client = SSL_session_reused(ssl) == 0;
    const bool first_is_mine = first_is_client != is_server;
    unsigned char buf[EVP_MAX_MD_SIZE];
    const std::size_t n =
        first_is_mine ? SSL_get_finished(ssl, buf, sizeof buf) : SSL_get_peer_finished(ssl, buf, sizeof buf);
    if (n > 0 && n <= sizeof buf) {
      facts.binding_type = "tls-unique";
      facts.binding.assign(buf, buf + n);
    }
  }
  return facts;
}

}  // namespace hallmark::http::detail
