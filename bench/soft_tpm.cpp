#include "soft_tpm.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>

#include <chrono>
#include <cstring>

#include <tss2/tss2_mu.h>
#include <tss2/tss2_tpm2_types.h>

#include "attest/tpm_credential.h"
#include "base/crypto.h"
#include "base/rng.h"
#include "device/est_client.h"
#include "keys/software_key_store.h"
#include "pkix/extensions.h"
#include "pkix/name.h"
#include "pkix/oid.h"
#include "pkix/public_key.h"
#include "pkix/tbs_certificate.h"

namespace hallmark::bench {

using base::ErrorCode;
using base::make_error;

namespace {

// PolicySecret(TPM_RH_ENDORSEMENT): the authPolicy of the TCG default EK templates.
constexpr std::uint8_t kEkPolicy[32] = {0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xb3, 0xf8, 0x1a, 0x90, 0xcc,
                                        0x8d, 0x46, 0xa5, 0xd7, 0x24, 0xfd, 0x52, 0xd7, 0x6e, 0x06, 0x52,
                                        0x0b, 0x64, 0xf2, 0xa1, 0xda, 0x1b, 0x33, 0x14, 0x69, 0xaa};

base::Bytes random_serial() {
  base::SystemRng rng;
  auto s = rng.bytes(16);
  s[0] = static_cast<std::uint8_t>((s[0] & 0x7f) | 0x01);
  return s;
}

base::Result<pkix::Certificate> sign(const pkix::TbsCertificateSpec& spec, const keys::Signer& issuer) {
  HM_TRY(auto tbs, pkix::encode_tbs_certificate(spec));
  HM_TRY(auto sig, issuer.sign(tbs));
  return pkix::assemble_certificate(tbs, issuer.signature_algorithm(), sig);
}

pkix::TbsCertificateSpec spec_for(const keys::Signer& issuer, const pkix::Name& issuer_name, const pkix::Name& subject,
                                  base::ByteView spki) {
  const auto now = std::chrono::system_clock::now();
  pkix::TbsCertificateSpec spec;
  spec.serial = random_serial();
  spec.signature_algorithm = issuer.signature_algorithm();
  spec.issuer = issuer_name;
  spec.subject = subject;
  spec.not_before = std::chrono::time_point_cast<base::TimePoint::duration>(now - std::chrono::hours(1));
  spec.not_after = std::chrono::time_point_cast<base::TimePoint::duration>(now + std::chrono::days(365 * 20));
  spec.subject_public_key_info = base::Bytes(spki.begin(), spki.end());
  return spec;
}

base::Result<pkix::Name> name_of(const std::string& cn) {
  pkix::Name n;
  HM_CHECK(n.add(pkix::oid::kOrganization, "Bench TPM Vendor"));
  HM_CHECK(n.add(pkix::oid::kCommonName, cn));
  return n;
}

// An ECC P-256 public area with the SPKI's point; its marshalled TPMT_PUBLIC.
base::Result<base::Bytes> ecc_public(base::ByteView spki, std::uint32_t attributes, bool storage) {
  if (spki.size() != 91 || spki[26] != 0x04) return make_error(ErrorCode::Malformed, "not a P-256 SPKI");
  TPMT_PUBLIC pub{};
  pub.type = TPM2_ALG_ECC;
  pub.nameAlg = TPM2_ALG_SHA256;
  pub.objectAttributes = attributes;
  auto& ecc = pub.parameters.eccDetail;
  if (storage) {  // the EK: a restricted decryption (storage) key
    pub.authPolicy.size = sizeof kEkPolicy;
    std::memcpy(pub.authPolicy.buffer, kEkPolicy, sizeof kEkPolicy);
    ecc.symmetric.algorithm = TPM2_ALG_AES;
    ecc.symmetric.keyBits.aes = 128;
    ecc.symmetric.mode.aes = TPM2_ALG_CFB;
    ecc.scheme.scheme = TPM2_ALG_NULL;
  } else {
    ecc.symmetric.algorithm = TPM2_ALG_NULL;
    ecc.scheme.scheme = TPM2_ALG_ECDSA;
    ecc.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
  }
  ecc.curveID = TPM2_ECC_NIST_P256;
  ecc.kdf.scheme = TPM2_ALG_NULL;
  pub.unique.ecc.x.size = 32;
  std::memcpy(pub.unique.ecc.x.buffer, spki.data() + 27, 32);
  pub.unique.ecc.y.size = 32;
  std::memcpy(pub.unique.ecc.y.buffer, spki.data() + 59, 32);
  base::Bytes out(sizeof(TPMT_PUBLIC));
  std::size_t off = 0;
  if (Tss2_MU_TPMT_PUBLIC_Marshal(&pub, out.data(), out.size(), &off) != TSS2_RC_SUCCESS)
    return make_error(ErrorCode::Internal, "marshal TPMT_PUBLIC");
  out.resize(off);
  return out;
}

base::Bytes name_of_public(base::ByteView tpmt) {
  base::Bytes name = {0x00, 0x0b};  // TPM_ALG_SHA256
  const auto h = base::sha256(tpmt);
  name.insert(name.end(), h.begin(), h.end());
  return name;
}

// TPM2B_PUBLIC: the size, then the TPMT_PUBLIC (what tpm2_readpublic -o writes).
base::Bytes tpm2b(base::ByteView tpmt) {
  base::Bytes out(tpmt.size() + 2);
  out[0] = static_cast<std::uint8_t>(tpmt.size() >> 8);
  out[1] = static_cast<std::uint8_t>(tpmt.size() & 0xff);
  std::memcpy(out.data() + 2, tpmt.data(), tpmt.size());
  return out;
}

base::Result<base::Bytes> spki_of(EVP_PKEY* key) {
  unsigned char* der = nullptr;
  const int len = i2d_PUBKEY(key, &der);
  if (len <= 0) return make_error(ErrorCode::Internal, "i2d_PUBKEY");
  base::Bytes out(der, der + len);
  OPENSSL_free(der);
  return out;
}

std::string b64(base::ByteView b) {
  return base::base64_encode(b);
}

}  // namespace

base::Result<SoftTpmVendor> SoftTpmVendor::create() {
  HM_TRY(auto root_key, keys::generate_ephemeral(base::KeyAlgorithm::EcP256));
  HM_TRY(auto ca_key, keys::generate_ephemeral(base::KeyAlgorithm::EcP256));
  HM_TRY(auto root_name, name_of("Bench TPM Root CA"));
  HM_TRY(auto ca_name, name_of("Bench TPM EK CA"));
  HM_TRY(auto root_ski, pkix::spki_key_identifier(root_key->public_key_der()));
  HM_TRY(auto ca_ski, pkix::spki_key_identifier(ca_key->public_key_der()));
  auto root_spec = spec_for(*root_key, root_name, root_name, root_key->public_key_der());
  root_spec.extensions = {pkix::ext::basic_constraints(true, std::nullopt),
                          pkix::ext::key_usage(pkix::kKeyCertSign | pkix::kCrlSign),
                          pkix::ext::subject_key_identifier(root_ski)};
  HM_TRY(auto root, sign(root_spec, *root_key));
  auto ca_spec = spec_for(*root_key, root_name, ca_name, ca_key->public_key_der());
  ca_spec.extensions = {pkix::ext::basic_constraints(true, 0),
                        pkix::ext::key_usage(pkix::kKeyCertSign | pkix::kCrlSign),
                        pkix::ext::subject_key_identifier(ca_ski), pkix::ext::authority_key_identifier(root_ski)};
  HM_TRY(auto ca, sign(ca_spec, *root_key));
  return SoftTpmVendor(std::shared_ptr<keys::Signer>(std::move(root_key)),
                       std::shared_ptr<keys::Signer>(std::move(ca_key)), std::move(root), std::move(ca));
}

base::Result<base::Bytes> SoftTpmVendor::certify_ek(base::ByteView ek_spki, const std::string& label) const {
  HM_TRY(auto subject, name_of(label));
  HM_TRY(auto aki, pkix::spki_key_identifier(m_ca_key->public_key_der()));
  auto spec = spec_for(*m_ca_key, m_ca.subject(), subject, ek_spki);
  // An ECC EK is a key-agreement key (TCG EK Credential Profile).
  spec.extensions = {pkix::ext::basic_constraints(false, std::nullopt), pkix::ext::key_usage(pkix::kKeyAgreement),
                     pkix::ext::authority_key_identifier(aki)};
  HM_TRY(auto cert, sign(spec, *m_ca_key));
  return cert.der();
}

std::string SoftTpmDevice::request() const {
  return "{\"evidence\":{" + evidence_fields + "},\"csr\":\"" + csr_b64 + "\"}";
}

std::string SoftTpmDevice::manifest_line(const std::string& product, const std::string& secret_b64) const {
  return "{\"serial\":\"" + serial + "\",\"product\":\"" + product + "\",\"csr\":\"" + csr_b64 + "\",\"evidence\":{" +
         evidence_fields + ",\"activated_secret\":\"" + secret_b64 + "\"}}";
}

base::Result<SoftTpmDevice> make_soft_tpm_device(const SoftTpmVendor& vendor, const std::string& serial,
                                                 const std::string& nonce_hex) {
  HM_TRY(auto nonce, base::hex_decode(nonce_hex));
  SoftTpmDevice d;
  d.serial = serial;
  d.ek.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!d.ek) return make_error(ErrorCode::Internal, "EK key generation");
  HM_TRY(auto ek_spki, spki_of(d.ek.get()));
  d.ek_x.assign(ek_spki.begin() + 27, ek_spki.begin() + 59);
  HM_TRY(auto ek_cert, vendor.certify_ek(ek_spki, "EK " + serial));
  HM_TRY(auto iak, keys::generate_ephemeral(base::KeyAlgorithm::EcP256));
  HM_TRY(auto idevid, keys::generate_ephemeral(base::KeyAlgorithm::EcP256));

  const std::uint32_t in_tpm = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN;
  HM_TRY(
      auto ek_pub,
      ecc_public(ek_spki, in_tpm | TPMA_OBJECT_ADMINWITHPOLICY | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT, true));
  HM_TRY(auto iak_pub,
         ecc_public(iak->public_key_der(),
                    in_tpm | TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT, false));
  HM_TRY(auto idevid_pub,
         ecc_public(idevid->public_key_der(), in_tpm | TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_SIGN_ENCRYPT, false));
  d.ek_public = tpm2b(ek_pub);
  d.iak_name = name_of_public(iak_pub);
  const auto idevid_name = name_of_public(idevid_pub);

  // TPM2_Certify(IDevID) by the IAK, the station's nonce as qualifyingData.
  TPMS_ATTEST attest{};
  attest.magic = TPM2_GENERATED_VALUE;
  attest.type = TPM2_ST_ATTEST_CERTIFY;
  attest.qualifiedSigner.size = static_cast<UINT16>(d.iak_name.size());
  std::memcpy(attest.qualifiedSigner.name, d.iak_name.data(), d.iak_name.size());
  if (nonce.size() > sizeof(attest.extraData.buffer)) return make_error(ErrorCode::InvalidArgument, "nonce");
  attest.extraData.size = static_cast<UINT16>(nonce.size());
  std::memcpy(attest.extraData.buffer, nonce.data(), nonce.size());
  attest.clockInfo.safe = 1;
  attest.attested.certify.name.size = static_cast<UINT16>(idevid_name.size());
  std::memcpy(attest.attested.certify.name.name, idevid_name.data(), idevid_name.size());
  attest.attested.certify.qualifiedName = attest.attested.certify.name;
  base::Bytes attest_bytes(sizeof(TPMS_ATTEST));
  std::size_t off = 0;
  if (Tss2_MU_TPMS_ATTEST_Marshal(&attest, attest_bytes.data(), attest_bytes.size(), &off) != TSS2_RC_SUCCESS)
    return make_error(ErrorCode::Internal, "marshal TPMS_ATTEST");
  attest_bytes.resize(off);
  HM_TRY(auto raw, iak->sign(attest_bytes));  // ECDSA-SHA256, raw r || s
  TPMT_SIGNATURE sig{};
  sig.sigAlg = TPM2_ALG_ECDSA;
  sig.signature.ecdsa.hash = TPM2_ALG_SHA256;
  sig.signature.ecdsa.signatureR.size = 32;
  std::memcpy(sig.signature.ecdsa.signatureR.buffer, raw.data(), 32);
  sig.signature.ecdsa.signatureS.size = 32;
  std::memcpy(sig.signature.ecdsa.signatureS.buffer, raw.data() + 32, 32);
  base::Bytes sig_bytes(sizeof(TPMT_SIGNATURE));
  off = 0;
  if (Tss2_MU_TPMT_SIGNATURE_Marshal(&sig, sig_bytes.data(), sig_bytes.size(), &off) != TSS2_RC_SUCCESS)
    return make_error(ErrorCode::Internal, "marshal TPMT_SIGNATURE");
  sig_bytes.resize(off);

  HM_TRY(auto csr, device::make_csr(*idevid, serial));
  d.csr_b64 = b64(csr);
  d.evidence_fields = "\"type\":\"tpm\",\"nonce\":\"" + nonce_hex + "\",\"ek_certificate\":\"" + b64(ek_cert) +
                      "\",\"ek_chain\":[\"" + b64(vendor.issuing_ca().der()) + "\"],\"ek_public\":\"" +
                      b64(d.ek_public) + "\",\"iak_public\":\"" + b64(tpm2b(iak_pub)) + "\",\"idevid_public\":\"" +
                      b64(tpm2b(idevid_pub)) + "\",\"certify_info\":\"" + b64(attest_bytes) +
                      "\",\"certify_signature\":\"" + b64(sig_bytes) + "\"";
  return d;
}

base::Result<base::Bytes> activate(const SoftTpmDevice& d, base::ByteView credential_blob,
                                   base::ByteView encrypted_secret) {
  TPM2B_ID_OBJECT id{};
  TPM2B_ENCRYPTED_SECRET es{};
  std::size_t off = 0;
  if (Tss2_MU_TPM2B_ID_OBJECT_Unmarshal(credential_blob.data(), credential_blob.size(), &off, &id) != TSS2_RC_SUCCESS)
    return make_error(ErrorCode::Malformed, "credential blob");
  off = 0;
  if (Tss2_MU_TPM2B_ENCRYPTED_SECRET_Unmarshal(encrypted_secret.data(), encrypted_secret.size(), &off, &es) !=
      TSS2_RC_SUCCESS)
    return make_error(ErrorCode::Malformed, "encrypted secret");
  // The seed: ECDH of the EK's private key with the ephemeral point, then KDFe (Part 1 §C.6.4).
  TPMS_ECC_POINT point{};
  off = 0;
  if (Tss2_MU_TPMS_ECC_POINT_Unmarshal(es.secret, es.size, &off, &point) != TSS2_RC_SUCCESS || point.x.size != 32 ||
      point.y.size != 32)
    return make_error(ErrorCode::Malformed, "the encrypted secret is not a P-256 point");
  base::Bytes encoded = {0x04};
  encoded.insert(encoded.end(), point.x.buffer, point.x.buffer + 32);
  encoded.insert(encoded.end(), point.y.buffer, point.y.buffer + 32);
  char group[] = "P-256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
                         OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, encoded.data(), encoded.size()),
                         OSSL_PARAM_construct_end()};
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> from(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr),
                                                                   &EVP_PKEY_CTX_free);
  EVP_PKEY* raw_peer = nullptr;
  if (!from || EVP_PKEY_fromdata_init(from.get()) != 1 ||
      EVP_PKEY_fromdata(from.get(), &raw_peer, EVP_PKEY_PUBLIC_KEY, params) != 1) {
    return make_error(ErrorCode::Malformed, "the ephemeral point is not on P-256");
  }
  std::unique_ptr<EVP_PKEY, PkeyFree> peer(raw_peer);
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> dh(EVP_PKEY_CTX_new(d.ek.get(), nullptr),
                                                                 &EVP_PKEY_CTX_free);
  base::Bytes z(32);
  std::size_t zlen = z.size();
  if (!dh || EVP_PKEY_derive_init(dh.get()) != 1 || EVP_PKEY_derive_set_peer(dh.get(), peer.get()) != 1 ||
      EVP_PKEY_derive(dh.get(), z.data(), &zlen) != 1 || zlen != 32) {
    return make_error(ErrorCode::Internal, "ECDH");
  }
  const base::ByteView ephemeral_x(point.x.buffer, 32);
  HM_TRY(auto seed, attest::kdfe(TPM2_ALG_SHA256, z, "IDENTITY", ephemeral_x, d.ek_x, 256));
  HM_TRY(auto sym_key, attest::kdfa(TPM2_ALG_SHA256, seed, "STORAGE", d.iak_name, {}, 128));
  HM_TRY(auto hmac_key, attest::kdfa(TPM2_ALG_SHA256, seed, "INTEGRITY", {}, {}, 256));

  // The blob: TPM2B_DIGEST(outer HMAC) || encIdentity; the HMAC over encIdentity || the IAK's Name.
  TPM2B_DIGEST outer{};
  off = 0;
  if (Tss2_MU_TPM2B_DIGEST_Unmarshal(id.credential, id.size, &off, &outer) != TSS2_RC_SUCCESS)
    return make_error(ErrorCode::Malformed, "credential blob HMAC");
  const base::Bytes enc(id.credential + off, id.credential + id.size);
  base::Bytes mac_in = enc;
  mac_in.insert(mac_in.end(), d.iak_name.begin(), d.iak_name.end());
  unsigned char mac[EVP_MAX_MD_SIZE];
  std::size_t mac_len = 0;
  if (EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, hmac_key.data(), hmac_key.size(), mac_in.data(),
                mac_in.size(), mac, sizeof mac, &mac_len) == nullptr) {
    return make_error(ErrorCode::Internal, "HMAC");
  }
  if (mac_len != outer.size || CRYPTO_memcmp(mac, outer.buffer, mac_len) != 0) {
    return make_error(ErrorCode::BadSignature, "the credential's integrity check fails (not for this EK and IAK)");
  }
  std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> c(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
  const unsigned char iv[16] = {};
  base::Bytes plain(enc.size() + 16);
  int len = 0, fin = 0;
  if (!c || EVP_DecryptInit_ex(c.get(), EVP_aes_128_cfb128(), nullptr, sym_key.data(), iv) != 1 ||
      EVP_DecryptUpdate(c.get(), plain.data(), &len, enc.data(), static_cast<int>(enc.size())) != 1 ||
      EVP_DecryptFinal_ex(c.get(), plain.data() + len, &fin) != 1) {
    return make_error(ErrorCode::Internal, "AES-CFB");
  }
  plain.resize(static_cast<std::size_t>(len + fin));
  TPM2B_DIGEST credential{};
  off = 0;
  if (Tss2_MU_TPM2B_DIGEST_Unmarshal(plain.data(), plain.size(), &off, &credential) != TSS2_RC_SUCCESS ||
      off != plain.size())
    return make_error(ErrorCode::Malformed, "the decrypted credential is not a TPM2B_DIGEST");
  return base::Bytes(credential.buffer, credential.buffer + credential.size);
}

}  // namespace hallmark::bench
