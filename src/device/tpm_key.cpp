// The TLS client key is a callback key (callback_key.h): OpenSSL does all of
// the handshake on its default provider and hands over only the SHA-256 digest
// of what the key signs, which becomes a TPM2_Sign. (Debian's tpm2-openssl
// provider was rejected: on swtpm without a resource manager it also pulls
// digests and random numbers into the TPM.)
#include "device/tpm_key.h"

#include <algorithm>

#include "base/crypto.h"
#include "device/callback_key.h"

namespace hallmark::device {

using base::ErrorCode;
using base::make_error;

namespace {

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
  // TPM2_Sign gives r||s; OpenSSL wants the DER ECDSA-Sig-Value.
  return callback_evp_pkey(spki, [tpm = std::move(tpm), key](base::ByteView digest) -> base::Result<base::Bytes> {
    HM_TRY(auto raw, tpm->sign_digest(digest, key));
    return base::ecdsa_raw_to_der(raw);
  });
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
