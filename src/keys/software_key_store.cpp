#include "keys/software_key_store.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstdlib>

#include "base/files.h"
#include "base/rng.h"

namespace hallmark::keys {
namespace {

using base::Bytes;
using base::ErrorCode;
using base::make_error;
using base::Result;

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct BioFree {
  void operator()(BIO* p) const { BIO_free(p); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

Result<base::KeyAlgorithm> algorithm_of(EVP_PKEY* key) {
  if (EVP_PKEY_is_a(key, "EC")) {
    char group[64] = {};
    std::size_t len = 0;
    EVP_PKEY_get_utf8_string_param(key, "group", group, sizeof group, &len);
    const std::string name(group, len);
    if (name == "prime256v1" || name == "P-256") return base::KeyAlgorithm::EcP256;
    if (name == "secp384r1" || name == "P-384") return base::KeyAlgorithm::EcP384;
    return make_error(ErrorCode::Unsupported, "EC key on curve '" + name + "' is not supported");
  }
  if (EVP_PKEY_is_a(key, "RSA")) {
    const int bits = EVP_PKEY_get_bits(key);
    if (bits == 2048) return base::KeyAlgorithm::Rsa2048;
    if (bits == 3072) return base::KeyAlgorithm::Rsa3072;
    if (bits == 4096) return base::KeyAlgorithm::Rsa4096;
    return make_error(ErrorCode::Unsupported, "RSA-" + std::to_string(bits) + " keys are not supported");
  }
  if (EVP_PKEY_is_a(key, "ED25519")) return base::KeyAlgorithm::Ed25519;
  return make_error(ErrorCode::Unsupported, "key type is not supported");
}

// A private key held in this process (decrypted from its file at load).
class SoftwareSigner final : public Signer {
 public:
  SoftwareSigner(Pkey key, base::KeyAlgorithm alg, Bytes spki, std::string reference)
      : m_key(std::move(key)),
        m_alg(alg),
        m_sig_alg(base::default_signature_algorithm(alg)),
        m_spki(std::move(spki)),
        m_reference(std::move(reference)) {
    const EVP_MD* md = nullptr;
    switch (m_sig_alg) {
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
    m_prototype.reset(EVP_MD_CTX_new());
    if (m_prototype && EVP_DigestSignInit(m_prototype.get(), nullptr, md, nullptr, m_key.get()) != 1) {
      m_prototype.reset();  // sign() reports the failure
    }
  }

  base::KeyAlgorithm key_algorithm() const override { return m_alg; }
  base::SignatureAlgorithm signature_algorithm() const override { return m_sig_alg; }
  const Bytes& public_key_der() const override { return m_spki; }
  std::string reference() const override { return m_reference; }
  EVP_PKEY* pkey() const { return m_key.get(); }

  Result<Bytes> sign(base::ByteView message) const override {
    // Each call signs on its own copy of a context initialised once: copying
    // skips the provider fetches of EVP_DigestSignInit (a third of an ECDSA
    // signature's cost in OpenSSL 3.0). EVP_PKEY is safe to share between threads.
    std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
    if (!ctx || !m_prototype || EVP_MD_CTX_copy_ex(ctx.get(), m_prototype.get()) != 1) {
      return make_error(ErrorCode::Internal, "cannot start signing", base::openssl_error_string());
    }
    std::size_t len = static_cast<std::size_t>(EVP_PKEY_get_size(m_key.get()));
    Bytes sig(len);
    if (EVP_DigestSign(ctx.get(), sig.data(), &len, message.data(), message.size()) != 1) {
      return make_error(ErrorCode::Internal, "signing failed", base::openssl_error_string());
    }
    sig.resize(len);
    if (m_sig_alg == base::SignatureAlgorithm::EcdsaSha256) return base::ecdsa_der_to_raw(sig, 32);
    if (m_sig_alg == base::SignatureAlgorithm::EcdsaSha384) return base::ecdsa_der_to_raw(sig, 48);
    return sig;
  }

 private:
  Pkey m_key;
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> m_prototype;
  base::KeyAlgorithm m_alg;
  base::SignatureAlgorithm m_sig_alg;
  Bytes m_spki;
  std::string m_reference;
};

Result<std::unique_ptr<Signer>> make_signer(Pkey key, std::string reference) {
  HM_TRY(auto alg, algorithm_of(key.get()));
  unsigned char* der = nullptr;
  const int len = i2d_PUBKEY(key.get(), &der);
  if (len <= 0) return make_error(ErrorCode::Internal, "cannot encode public key");
  Bytes spki(der, der + len);
  OPENSSL_free(der);
  return std::unique_ptr<Signer>(
      std::make_unique<SoftwareSigner>(std::move(key), alg, std::move(spki), std::move(reference)));
}

Result<Pkey> generate_key(base::KeyAlgorithm alg) {
  EVP_PKEY* raw = nullptr;
  switch (alg) {
    case base::KeyAlgorithm::EcP256:
      raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
      break;
    case base::KeyAlgorithm::EcP384:
      raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384");
      break;
    case base::KeyAlgorithm::Rsa2048:
      raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", std::size_t{2048});
      break;
    case base::KeyAlgorithm::Rsa3072:
      raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", std::size_t{3072});
      break;
    case base::KeyAlgorithm::Rsa4096:
      raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", std::size_t{4096});
      break;
    case base::KeyAlgorithm::Ed25519:
      raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
      break;
  }
  if (raw == nullptr) {
    return make_error(ErrorCode::Internal, "key generation failed", base::openssl_error_string());
  }
  return Pkey(raw);
}

}  // namespace

Result<ResolvedPassphrase> resolve_passphrase(const PassphraseSource& source, bool create_if_missing) {
  if (const char* env = std::getenv("HALLMARK_KEY_PASSPHRASE"); env != nullptr && *env != '\0') {
    return ResolvedPassphrase{env, "HALLMARK_KEY_PASSPHRASE", false};
  }
  auto from_file = [](const std::filesystem::path& p) -> Result<ResolvedPassphrase> {
    HM_TRY(auto data, base::read_file(p, 4096));
    std::string text = base::to_string(data);
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    if (text.empty()) {
      return make_error(ErrorCode::InvalidArgument, "passphrase file '" + p.string() + "' is empty");
    }
    return ResolvedPassphrase{text, p.string(), false};
  };
  if (!source.passphrase_file.empty()) return from_file(source.passphrase_file);
  const auto generated = source.data_dir / "passphrase";
  if (std::filesystem::exists(generated)) return from_file(generated);
  if (!create_if_missing) {
    return make_error(ErrorCode::NotFound,
                      "no key passphrase: set HALLMARK_KEY_PASSPHRASE, configure keys.passphrase_file, "
                      "or keep '" +
                          generated.string() + "'");
  }
  base::SystemRng rng;
  const std::string value = base::base64url_encode(rng.bytes(32));
  HM_CHECK(base::write_file(generated, value + "\n", 0600));
  return ResolvedPassphrase{value, generated.string(), true};
}

SoftwareKeyStore::SoftwareKeyStore(std::filesystem::path key_dir, std::string passphrase)
    : m_dir(std::move(key_dir)), m_passphrase(std::move(passphrase)) {}

std::filesystem::path SoftwareKeyStore::path_of(const std::string& name) const {
  if (name.find('/') != std::string::npos) return name;
  return m_dir / (name + ".key");
}

Result<std::unique_ptr<Signer>> SoftwareKeyStore::generate(const std::string& name, base::KeyAlgorithm alg) {
  const auto path = path_of(name);
  if (std::filesystem::exists(path)) {
    return make_error(ErrorCode::AlreadyExists, "key file '" + path.string() + "' already exists");
  }
  HM_TRY(Pkey key, generate_key(alg));
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  // PKCS#8 EncryptedPrivateKeyInfo, PBES2 with AES-256-CBC (RFC 8018).
  if (!bio || PEM_write_bio_PKCS8PrivateKey(bio.get(), key.get(), EVP_aes_256_cbc(), m_passphrase.data(),
                                            static_cast<int>(m_passphrase.size()), nullptr, nullptr) != 1) {
    return make_error(ErrorCode::Internal, "cannot encrypt key", base::openssl_error_string());
  }
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  std::error_code ec;
  std::filesystem::create_directories(m_dir, ec);
  HM_CHECK(base::write_file(path, std::string_view(data, static_cast<std::size_t>(len)), 0600));
  return make_signer(std::move(key), path.string());
}

Result<std::unique_ptr<Signer>> SoftwareKeyStore::load(const std::string& name) const {
  const auto path = path_of(name);
  HM_TRY(auto data, base::read_file(path, 1 << 20));
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
  Pkey key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, const_cast<char*>(m_passphrase.c_str())));
  if (!key) {
    ERR_clear_error();
    return make_error(ErrorCode::Unauthenticated,
                      "cannot decrypt key '" + path.string() +
                          "': wrong passphrase (HALLMARK_KEY_PASSPHRASE / passphrase file) or not a key");
  }
  return make_signer(std::move(key), path.string());
}

Result<std::unique_ptr<Signer>> generate_ephemeral(base::KeyAlgorithm alg) {
  HM_TRY(Pkey key, generate_key(alg));
  return make_signer(std::move(key), "ephemeral");
}

Result<std::unique_ptr<Signer>> load_unencrypted_key(base::ByteView pem_or_der, std::string reference) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem_or_der.data(), static_cast<int>(pem_or_der.size())));
  Pkey key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) {
    ERR_clear_error();
    const unsigned char* p = pem_or_der.data();
    key.reset(d2i_AutoPrivateKey(nullptr, &p, static_cast<long>(pem_or_der.size())));
  }
  if (!key) {
    ERR_clear_error();
    return make_error(ErrorCode::Malformed, "'" + reference + "' is not an unencrypted private key");
  }
  return make_signer(std::move(key), std::move(reference));
}

Result<std::string> export_unencrypted_pem(const Signer& signer) {
  const auto* soft = dynamic_cast<const SoftwareSigner*>(&signer);
  if (soft == nullptr || soft->reference() != "ephemeral") {
    return make_error(ErrorCode::Forbidden, "only ephemeral device keys can be exported");
  }
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_PrivateKey(bio.get(), soft->pkey(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return make_error(ErrorCode::Internal, "cannot encode key", base::openssl_error_string());
  }
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

}  // namespace hallmark::keys
