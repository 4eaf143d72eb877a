// A callback key (device/callback_key.h) as the TLS client key, with a software
// signing function standing in for the TPM: mutual TLS 1.2 and 1.3 against the
// http server, a failing function, and what OpenSSL may and may not do with it.
#include "device/callback_key.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/provider.h>
#include <openssl/x509.h>

#include <atomic>
#include <stdexcept>

#include "base/crypto.h"
#include "http/client.h"
#include "http_test_fixture.h"

namespace hallmark::device {
namespace {

using http::test::certs;

std::shared_ptr<EVP_PKEY> private_key(const std::string& pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  return {PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr), EVP_PKEY_free};
}

base::Bytes spki_of(EVP_PKEY* key) {
  unsigned char* der = nullptr;
  const int size = i2d_PUBKEY(key, &der);
  base::Bytes out(der, der + (size > 0 ? size : 0));
  OPENSSL_free(der);
  return out;
}

std::shared_ptr<EVP_PKEY> certificate_key(const base::Bytes& cert_der) {
  const unsigned char* p = cert_der.data();
  std::unique_ptr<X509, decltype(&X509_free)> cert(d2i_X509(nullptr, &p, static_cast<long>(cert_der.size())),
                                                   X509_free);
  return {cert ? X509_get_pubkey(cert.get()) : nullptr, EVP_PKEY_free};
}

// The software "TPM": ECDSA over the digest with the default provider's key.
struct SoftwareSigner {
  std::shared_ptr<EVP_PKEY> key = private_key(certs().client_key);
  std::atomic<int> calls{0};
  std::atomic<bool> fail{false};

  DigestSignFn fn() {
    return [this](base::ByteView digest) -> base::Result<base::Bytes> {
      ++calls;
      if (digest.size() != 32) return base::make_error(base::ErrorCode::Internal, "not a SHA-256 digest");
      if (fail) return base::make_error(base::ErrorCode::Io, "the TPM is gone");
      std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(EVP_PKEY_CTX_new(key.get(), nullptr),
                                                                      EVP_PKEY_CTX_free);
      base::Bytes sig(EVP_PKEY_get_size(key.get()));
      std::size_t size = sig.size();
      if (!ctx || EVP_PKEY_sign_init(ctx.get()) != 1 || EVP_PKEY_CTX_set_signature_md(ctx.get(), EVP_sha256()) != 1 ||
          EVP_PKEY_sign(ctx.get(), sig.data(), &size, digest.data(), digest.size()) != 1)
        return base::make_error(base::ErrorCode::Internal, "software signature failed");
      sig.resize(size);
      return sig;
    };
  }
};

http::ClientConfig client_config(std::string version, std::shared_ptr<EVP_PKEY> key) {
  http::ClientConfig c;
  c.trust_anchors_pem = certs().server_pem;
  c.tls_version = std::move(version);
  c.timeout = std::chrono::seconds(10);
  c.cert_chain_pem = certs().client_chain_pem;
  c.key = std::move(key);
  c.client_sigalgs = "ECDSA+SHA256";  // as EstClient passes for a TPM key
  return c;
}

TEST(CallbackKey, AuthenticatesAMutualTlsHandshakeOverTls12AndTls13) {
  SoftwareSigner signer;
  ASSERT_TRUE(signer.key);
  auto key = callback_evp_pkey(spki_of(signer.key.get()), signer.fn());
  ASSERT_TRUE(key.ok()) << key.error().describe();
  for (const std::string version : {"1.2", "1.3"}) {
    http::test::Recorder rec;
    auto server = http::test::start_server(http::test::tls_config(), rec.handler());
    ASSERT_TRUE(server);
    const int before = signer.calls;
    auto client = http::Client::connect("127.0.0.1", server->port(), client_config(version, *key));
    ASSERT_TRUE(client.ok()) << version << ": " << client.error().describe();
    EXPECT_EQ((*client)->tls_version(), "TLSv" + version);
    ASSERT_TRUE((*client)->request("GET", "/").ok());
    ASSERT_EQ(rec.seen().size(), 1u);
    // (A key libssl finds unusable is not an error: the client then sends no certificate.)
    ASSERT_FALSE(rec.seen()[0].peer_chain.empty()) << version;
    EXPECT_EQ(rec.seen()[0].peer_chain[0], certs().client_der) << version;
    EXPECT_EQ(signer.calls - before, 1) << version << ": one CertificateVerify, one signature";
  }
}

TEST(CallbackKey, AFailingSignatureFailsTheHandshakeCleanly) {
  SoftwareSigner signer;
  auto key = callback_evp_pkey(spki_of(signer.key.get()), signer.fn());
  ASSERT_TRUE(key.ok()) << key.error().describe();
  auto throwing = callback_evp_pkey(
      spki_of(signer.key.get()), [](base::ByteView) -> base::Result<base::Bytes> { throw std::runtime_error("boom"); });
  ASSERT_TRUE(throwing.ok()) << throwing.error().describe();
  http::test::Recorder rec;
  auto server = http::test::start_server(http::test::tls_config(), rec.handler());
  ASSERT_TRUE(server);
  for (const std::string version : {"1.2", "1.3"}) {
    signer.fail = true;
    auto refused = http::Client::connect("127.0.0.1", server->port(), client_config(version, *key));
    ASSERT_FALSE(refused.ok()) << version;
    EXPECT_EQ(refused.error().code, base::ErrorCode::Io) << refused.error().describe();
    EXPECT_GT(signer.calls, 0);
    auto thrown = http::Client::connect("127.0.0.1", server->port(), client_config(version, *throwing));
    ASSERT_FALSE(thrown.ok()) << version;
    EXPECT_EQ(thrown.error().code, base::ErrorCode::Io) << thrown.error().describe();
    // The same key signs again once its function does; the server is unharmed.
    signer.fail = false;
    auto again = http::Client::connect("127.0.0.1", server->port(), client_config(version, *key));
    ASSERT_TRUE(again.ok()) << version << ": " << again.error().describe();
  }
}

TEST(CallbackKey, EqualsItsCertificateKeyOnlyAndIsRefusedForAnotherCertificate) {
  SoftwareSigner signer;
  auto key = callback_evp_pkey(spki_of(signer.key.get()), signer.fn());
  ASSERT_TRUE(key.ok());
  auto cert_key = certificate_key(certs().client_der);
  ASSERT_TRUE(cert_key);
  EXPECT_EQ(EVP_PKEY_eq(cert_key.get(), key->get()), 1);
  EXPECT_EQ(EVP_PKEY_get_bits(key->get()), 256);
  EXPECT_EQ(EVP_PKEY_get_security_bits(key->get()), 128);
  EXPECT_TRUE(EVP_PKEY_is_a(key->get(), "EC"));

  auto server_key = private_key(certs().server_key);
  auto other = callback_evp_pkey(spki_of(server_key.get()), signer.fn());
  ASSERT_TRUE(other.ok());
  EXPECT_NE(EVP_PKEY_eq(cert_key.get(), other->get()), 1);
  http::test::Recorder rec;
  auto server = http::test::start_server(http::test::tls_config(), rec.handler());
  ASSERT_TRUE(server);
  auto refused = http::Client::connect("127.0.0.1", server->port(), client_config("1.3", *other));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, base::ErrorCode::InvalidArgument) << refused.error().describe();
  EXPECT_EQ(signer.calls, 0);
}

TEST(CallbackKey, SignsOnlySha256AndItsSignatureVerifiesWithTheCertificate) {
  SoftwareSigner signer;
  auto key = callback_evp_pkey(spki_of(signer.key.get()), signer.fn());
  ASSERT_TRUE(key.ok());
  const std::string message = "to be signed";
  // What libssl's check_cert_usable asks of a key for each signature scheme.
  EXPECT_EQ(EVP_PKEY_digestsign_supports_digest(key->get(), nullptr, "SHA256", nullptr), 1);
  EXPECT_NE(EVP_PKEY_digestsign_supports_digest(key->get(), nullptr, "SHA384", nullptr), 1);
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> md(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EXPECT_NE(EVP_DigestSignInit_ex(md.get(), nullptr, "SHA384", nullptr, nullptr, key->get(), nullptr), 1);
  md.reset(EVP_MD_CTX_new());
  ASSERT_EQ(EVP_DigestSignInit_ex(md.get(), nullptr, "SHA256", nullptr, nullptr, key->get(), nullptr), 1);
  std::size_t size = 0;
  ASSERT_EQ(EVP_DigestSign(md.get(), nullptr, &size, nullptr, 0), 1);
  base::Bytes sig(size);
  ASSERT_EQ(EVP_DigestSign(md.get(), sig.data(), &size, reinterpret_cast<const unsigned char*>(message.data()),
                           message.size()),
            1);
  sig.resize(size);
  EXPECT_EQ(signer.calls, 1);

  // EVP_PKEY_sign over a digest made elsewhere.
  const auto digest = base::sha256(base::view(message));
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> pctx(
      EVP_PKEY_CTX_new_from_pkey(nullptr, key->get(), nullptr), EVP_PKEY_CTX_free);
  base::Bytes sig2(EVP_PKEY_get_size(key->get()));
  std::size_t size2 = sig2.size();
  ASSERT_TRUE(pctx);
  ASSERT_EQ(EVP_PKEY_sign_init(pctx.get()), 1);
  ASSERT_EQ(EVP_PKEY_sign(pctx.get(), sig2.data(), &size2, digest.data(), digest.size()), 1);
  sig2.resize(size2);
  EXPECT_EQ(signer.calls, 2);

  auto cert_key = certificate_key(certs().client_der);
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> verify(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  ASSERT_EQ(EVP_DigestVerifyInit_ex(verify.get(), nullptr, "SHA256", nullptr, nullptr, cert_key.get(), nullptr), 1);
  EXPECT_EQ(EVP_DigestVerify(verify.get(), sig.data(), sig.size(),
                             reinterpret_cast<const unsigned char*>(message.data()), message.size()),
            1);
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> vctx(
      EVP_PKEY_CTX_new_from_pkey(nullptr, cert_key.get(), nullptr), EVP_PKEY_CTX_free);
  ASSERT_EQ(EVP_PKEY_verify_init(vctx.get()), 1);
  EXPECT_EQ(EVP_PKEY_verify(vctx.get(), sig2.data(), sig2.size(), digest.data(), digest.size()), 1);
}

TEST(CallbackKey, StaysOutOfTheDefaultLibraryContext) {
  SoftwareSigner signer;
  auto key = callback_evp_pkey(spki_of(signer.key.get()), signer.fn());
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(OSSL_PROVIDER_available(nullptr, "hallmark-tpm"), 0);
  // An ECDHE-style key generation in the default context is the default provider's.
  std::shared_ptr<EVP_PKEY> ephemeral(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"), EVP_PKEY_free);
  ASSERT_TRUE(ephemeral);
  EXPECT_FALSE(spki_of(ephemeral.get()).empty());
}

TEST(CallbackKey, RefusesAKeyThatIsNotP256) {
  SoftwareSigner signer;
  const base::Bytes junk = {0x30, 0x03, 0x02, 0x01, 0x00};
  auto bad = callback_evp_pkey(junk, signer.fn());
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, base::ErrorCode::InvalidArgument);
  std::shared_ptr<EVP_PKEY> p384(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384"), EVP_PKEY_free);
  auto wrong_curve = callback_evp_pkey(spki_of(p384.get()), signer.fn());
  ASSERT_FALSE(wrong_curve.ok());
  EXPECT_EQ(wrong_curve.error().code, base::ErrorCode::InvalidArgument);
}

}  // namespace
}  // namespace hallmark::device
