#include "pkix_test_util.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <fstream>
#include <iterator>

namespace hallmark::pkix::testutil {

struct TestKey::Impl {
  struct Free {
    void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  };
  std::unique_ptr<EVP_PKEY, Free> key;
  base::KeyAlgorithm alg;
};

TestKey::TestKey(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
TestKey::~TestKey() = default;
TestKey::TestKey(TestKey&&) noexcept = default;
TestKey& TestKey::operator=(TestKey&&) noexcept = default;

TestKey TestKey::generate(base::KeyAlgorithm alg) {
  auto impl = std::make_unique<Impl>();
  impl->alg = alg;
  EVP_PKEY* k = nullptr;
  switch (alg) {
    case base::KeyAlgorithm::EcP256:
      k = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
      break;
    case base::KeyAlgorithm::EcP384:
      k = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384");
      break;
    case base::KeyAlgorithm::Rsa2048:
      k = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048));
      break;
    case base::KeyAlgorithm::Rsa3072:
      k = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(3072));
      break;
    case base::KeyAlgorithm::Rsa4096:
      k = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(4096));
      break;
    case base::KeyAlgorithm::Ed25519:
      k = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
      break;
  }
  impl->key.reset(k);
  if (!k) ADD_FAILURE() << "key generation failed";
  return TestKey(std::move(impl));
}

base::Bytes TestKey::spki() const {
  unsigned char* out = nullptr;
  const int len = i2d_PUBKEY(m_impl->key.get(), &out);
  base::Bytes der(out, out + (len > 0 ? len : 0));
  OPENSSL_free(out);
  return der;
}

base::Bytes TestKey::sign(base::ByteView message, base::SignatureAlgorithm alg) const {
  const EVP_MD* md = nullptr;
  switch (alg) {
    case base::SignatureAlgorithm::EcdsaSha256:
    case base::SignatureAlgorithm::RsaPkcs1Sha256:
      md = EVP_sha256();
      break;
    case base::SignatureAlgorithm::EcdsaSha384:
    case base::SignatureAlgorithm::RsaPkcs1Sha384:
      md = EVP_sha384();
      break;
    case base::SignatureAlgorithm::Ed25519:
      md = nullptr;
      break;
  }
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  size_t len = 0;
  if (EVP_DigestSignInit(ctx.get(), nullptr, md, nullptr, m_impl->key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, message.data(), message.size()) != 1) {
    ADD_FAILURE() << "EVP_DigestSign init failed";
    return {};
  }
  base::Bytes sig(len);
  if (EVP_DigestSign(ctx.get(), sig.data(), &len, message.data(), message.size()) != 1) {
    ADD_FAILURE() << "EVP_DigestSign failed";
    return {};
  }
  sig.resize(len);
  if (alg == base::SignatureAlgorithm::EcdsaSha256 || alg == base::SignatureAlgorithm::EcdsaSha384) {
    const std::size_t width = m_impl->alg == base::KeyAlgorithm::EcP384 ? 48 : 32;
    auto raw = base::ecdsa_der_to_raw(sig, width);
    if (!raw.ok()) ADD_FAILURE() << raw.error().describe();
    return raw.ok() ? raw.value() : base::Bytes{};
  }
  return sig;
}

std::string TestKey::private_pem() const {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  PEM_write_bio_PrivateKey(bio.get(), m_impl->key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

base::Bytes read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return base::Bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void write_file(const std::filesystem::path& path, base::ByteView data) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
}

std::string must_run(const std::string& command) {
  const auto r = hallmark::testing::run(command);
  if (r.exit_code != 0) {
    ADD_FAILURE() << "command failed (" << r.exit_code << "): " << command << "\n" << r.out << r.err;
  }
  return r.out;
}

std::string q(const std::filesystem::path& p) {
  return hallmark::testing::shell_quote(p.string());
}

}  // namespace hallmark::pkix::testutil
