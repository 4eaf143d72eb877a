// OpenSSL 3.0 routes a key's signatures to the provider of its key manager, and
// a provider key (Debian's tpm2-openssl) can only sign in a library context
// where that provider is also preferred for digests, random numbers and ECDHE,
// which sends the whole TLS handshake to a TPM with three object slots and no
// resource manager. A "foreign" EC key (an EC_KEY with its own EC_KEY_METHOD)
// takes libcrypto's legacy path instead: the TLS stack stays on the default
// provider and only the ECDSA signature comes here, as a digest for TPM2_Sign.
// EC_KEY_METHOD is deprecated API in OpenSSL 3.0 (still supported throughout
// 3.x): this file alone lifts the project-wide OPENSSL_NO_DEPRECATED for it.
#undef OPENSSL_NO_DEPRECATED
#define OPENSSL_SUPPRESS_DEPRECATED
#include "device/tpm_key.h"

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <mutex>

#include "base/crypto.h"

namespace hallmark::device {

using base::ErrorCode;
using base::make_error;

namespace {

struct Binding {
  std::shared_ptr<TpmDevice> tpm;
  TpmKey key;
};

void free_binding(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
  delete static_cast<Binding*>(ptr);
}

int binding_index() {
  static const int index = CRYPTO_get_ex_new_index(CRYPTO_EX_INDEX_EC_KEY, 0, nullptr, nullptr, nullptr, free_binding);
  return index;
}

ECDSA_SIG* tpm_sign_sig(const unsigned char* digest, int length, const BIGNUM*, const BIGNUM*, EC_KEY* ec) {
  auto* binding = static_cast<Binding*>(EC_KEY_get_ex_data(ec, binding_index()));
  if (binding == nullptr || length != 32) return nullptr;  // the key's scheme is ECDSA-SHA256
  auto raw = binding->tpm->sign_digest(base::ByteView(digest, 32), binding->key);
  if (!raw.ok()) return nullptr;
  BIGNUM* r = BN_bin2bn(raw->data(), 32, nullptr);
  BIGNUM* s = BN_bin2bn(raw->data() + 32, 32, nullptr);
  ECDSA_SIG* sig = ECDSA_SIG_new();
  if (r == nullptr || s == nullptr || sig == nullptr || ECDSA_SIG_set0(sig, r, s) != 1) {
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(sig);
    return nullptr;
  }
  return sig;
}

// Libcrypto's own EC method with the signature replaced; lives as long as the process.
const EC_KEY_METHOD* tpm_method() {
  static const EC_KEY_METHOD* method = [] {
    EC_KEY_METHOD* m = EC_KEY_METHOD_new(EC_KEY_OpenSSL());
    if (m == nullptr) return static_cast<EC_KEY_METHOD*>(nullptr);
    int (*sign)(int, const unsigned char*, int, unsigned char*, unsigned int*, const BIGNUM*, const BIGNUM*, EC_KEY*) =
        nullptr;
    int (*setup)(EC_KEY*, BN_CTX*, BIGNUM**, BIGNUM**) = nullptr;
    ECDSA_SIG* (*sign_sig)(const unsigned char*, int, const BIGNUM*, const BIGNUM*, EC_KEY*) = nullptr;
    EC_KEY_METHOD_get_sign(m, &sign, &setup, &sign_sig);
    // ECDSA_sign (the legacy path TLS takes) calls sign_sig through `sign`.
    EC_KEY_METHOD_set_sign(m, sign, setup, tpm_sign_sig);
    return m;
  }();
  return method;
}

class TpmSigner final : public keys::Signer {
 public:
  TpmSigner(std::shared_ptr<TpmDevice> tpm, TpmKey key, base::Bytes spki)
      : m_tpm(std::move(tpm)), m_key(key), m_spki(std::move(spki)) {}
  base::KeyAlgorithm key_algorithm() const override { return base::KeyAlgorithm::EcP256; }
  base::SignatureAlgorithm signature_algorithm() const override { return base::SignatureAlgorithm::EcdsaSha256; }
  const base::Bytes& public_key_der() const override { return m_spki; }
  std::string reference() const override { return m_key == TpmKey::Ldevid ? "tpm:ldevid" : "tpm:idevid"; }
  base::Result<base::Bytes> sign(base::ByteView message) const override {
    return m_tpm->sign_digest(base::sha256(message), m_key);
  }

 private:
  std::shared_ptr<TpmDevice> m_tpm;
  TpmKey m_key;
  base::Bytes m_spki;
};

}  // namespace

base::Result<std::shared_ptr<evp_pkey_st>> tpm_evp_pkey(std::shared_ptr<TpmDevice> tpm, TpmKey key) {
  if (key == TpmKey::Iak) return make_error(ErrorCode::InvalidArgument, "the IAK is not a TLS key");
  HM_TRY(auto spki, tpm->public_key_der(key));
  const unsigned char* p = spki.data();
  std::unique_ptr<EC_KEY, decltype(&EC_KEY_free)> ec(d2i_EC_PUBKEY(nullptr, &p, static_cast<long>(spki.size())),
                                                     EC_KEY_free);
  const EC_KEY_METHOD* method = tpm_method();
  if (!ec || method == nullptr || EC_KEY_set_method(ec.get(), method) != 1) {
    ERR_clear_error();
    return make_error(ErrorCode::Internal, "cannot wrap the TPM key for OpenSSL");
  }
  auto binding = std::make_unique<Binding>(Binding{std::move(tpm), key});
  if (EC_KEY_set_ex_data(ec.get(), binding_index(), binding.get()) != 1) {
    ERR_clear_error();
    return make_error(ErrorCode::Internal, "cannot wrap the TPM key for OpenSSL");
  }
  binding.release();  // owned by the EC_KEY now (free_binding)
  std::shared_ptr<evp_pkey_st> pkey(EVP_PKEY_new(), EVP_PKEY_free);
  if (!pkey || EVP_PKEY_assign_EC_KEY(pkey.get(), ec.get()) != 1) {
    ERR_clear_error();
    return make_error(ErrorCode::Internal, "cannot wrap the TPM key for OpenSSL");
  }
  ec.release();  // owned by the EVP_PKEY
  return pkey;
}

base::Result<std::unique_ptr<keys::Signer>> tpm_signer(std::shared_ptr<TpmDevice> tpm, TpmKey key) {
  if (key == TpmKey::Iak) return make_error(ErrorCode::InvalidArgument, "the IAK signs only TPM-made structures");
  HM_TRY(auto spki, tpm->public_key_der(key));
  return std::unique_ptr<keys::Signer>(new TpmSigner(std::move(tpm), key, std::move(spki)));
}

base::Result<TpmKey> tpm_key_for(TpmDevice& tpm, base::ByteView spki_der) {
  for (const auto key : {TpmKey::Idevid, TpmKey::Ldevid}) {
    HM_TRY(auto spki, tpm.public_key_der(key));
    if (spki.size() == spki_der.size() && std::equal(spki.begin(), spki.end(), spki_der.begin())) return key;
  }
  return make_error(ErrorCode::NotFound,
                    "the certificate's key is neither the TPM's IDevID key nor its LDevID key "
                    "(is this the device's TPM?)");
}

}  // namespace hallmark::device
