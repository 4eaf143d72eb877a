#include "attest/tpm_credential.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <cstring>
#include <memory>

#include <tss2/tss2_mu.h>
#include <tss2/tss2_tpm2_types.h>

#include "attest/tpm_attestation.h"
#include "base/crypto.h"

namespace hallmark::attest {

using base::ErrorCode;
using base::make_error;

namespace {

struct PkeyCtxDeleter {
  void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};
struct MacDeleter {
  void operator()(EVP_MAC* m) const { EVP_MAC_free(m); }
};
struct MacCtxDeleter {
  void operator()(EVP_MAC_CTX* c) const { EVP_MAC_CTX_free(c); }
};
struct CipherCtxDeleter {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using PkeyCtx = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxDeleter>;

const char* digest_name(std::uint16_t alg) {
  switch (alg) {
    case TPM2_ALG_SHA256:
      return "SHA256";
    case TPM2_ALG_SHA384:
      return "SHA384";
    default:
      return nullptr;
  }
}

base::Error crypto_failed(const char* what) {
  return make_error(ErrorCode::Internal, std::string(what) + " failed: " + base::openssl_error_string());
}

void put_u32(base::Bytes& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(v >> shift));
}

void append(base::Bytes& out, base::ByteView b) {
  out.insert(out.end(), b.begin(), b.end());
}

void append_label(base::Bytes& out, std::string_view label) {
  out.insert(out.end(), label.begin(), label.end());
  out.push_back(0);  // the label's terminating NUL is part of the input (Part 1 §11.4.10.2)
}

base::Result<base::Bytes> hmac(const char* md, base::ByteView key, base::ByteView data) {
  std::unique_ptr<EVP_MAC, MacDeleter> mac(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
  if (!mac) return crypto_failed("HMAC fetch");
  std::unique_ptr<EVP_MAC_CTX, MacCtxDeleter> ctx(EVP_MAC_CTX_new(mac.get()));
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>(md), 0),
                         OSSL_PARAM_construct_end()};
  if (!ctx || EVP_MAC_init(ctx.get(), key.data(), key.size(), params) != 1 ||
      EVP_MAC_update(ctx.get(), data.data(), data.size()) != 1) {
    return crypto_failed("HMAC");
  }
  base::Bytes out(EVP_MAX_MD_SIZE);
  std::size_t len = 0;
  if (EVP_MAC_final(ctx.get(), out.data(), &len, out.size()) != 1) return crypto_failed("HMAC");
  out.resize(len);
  return out;
}

base::Result<base::Bytes> hash(const char* md_name, base::ByteView data) {
  const EVP_MD* md = EVP_get_digestbyname(md_name);
  if (md == nullptr) return crypto_failed("digest lookup");
  base::Bytes out(static_cast<std::size_t>(EVP_MD_get_size(md)));
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out.data(), &len, md, nullptr) != 1) return crypto_failed("digest");
  return out;
}

// Truncate to `bits`, masking the unused high bits of the first octet (Part 1 §11.4.10.2).
void truncate_bits(base::Bytes& out, std::uint32_t bits) {
  out.resize((bits + 7) / 8);
  if (bits % 8 != 0) out[0] &= static_cast<std::uint8_t>(0xff >> (8 - bits % 8));
}

base::Result<base::Bytes> aes_cfb_encrypt(std::uint16_t key_bits, base::ByteView key, base::ByteView plain) {
  const EVP_CIPHER* cipher = key_bits == 128   ? EVP_aes_128_cfb128()
                             : key_bits == 192 ? EVP_aes_192_cfb128()
                             : key_bits == 256 ? EVP_aes_256_cfb128()
                                               : nullptr;
  if (cipher == nullptr || key.size() * 8 != key_bits) {
    return make_error(ErrorCode::Unsupported, "the EK's symmetric algorithm is not AES-128/192/256-CFB");
  }
  std::unique_ptr<EVP_CIPHER_CTX, CipherCtxDeleter> ctx(EVP_CIPHER_CTX_new());
  const std::uint8_t iv[16] = {};  // Part 1 §24.4: the IV is zero (the key is used once)
  base::Bytes out(plain.size() + 16);
  int len = 0, fin = 0;
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), cipher, nullptr, key.data(), iv) != 1 ||
      EVP_EncryptUpdate(ctx.get(), out.data(), &len, plain.data(), static_cast<int>(plain.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), out.data() + len, &fin) != 1) {
    return crypto_failed("AES-CFB");
  }
  out.resize(static_cast<std::size_t>(len + fin));
  return out;
}

base::Result<base::Bytes> rsa_oaep_seed(EVP_PKEY* ek, const char* md, base::ByteView seed) {
  PkeyCtx ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, ek, nullptr));
  static constexpr char kLabel[] = "IDENTITY";  // with its NUL: 9 octets (Part 1 §24.4)
  auto* label = static_cast<unsigned char*>(OPENSSL_malloc(sizeof(kLabel)));
  if (label == nullptr) return crypto_failed("allocation");
  std::memcpy(label, kLabel, sizeof(kLabel));
  if (!ctx || EVP_PKEY_encrypt_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING) != 1 ||
      EVP_PKEY_CTX_set_rsa_oaep_md_name(ctx.get(), md, nullptr) != 1 ||
      EVP_PKEY_CTX_set_rsa_mgf1_md_name(ctx.get(), md, nullptr) != 1) {
    OPENSSL_free(label);
    return crypto_failed("RSA-OAEP setup");
  }
  if (EVP_PKEY_CTX_set0_rsa_oaep_label(ctx.get(), label, sizeof(kLabel)) != 1) {  // takes ownership on success
    OPENSSL_free(label);
    return crypto_failed("RSA-OAEP label");
  }
  std::size_t len = 0;
  if (EVP_PKEY_encrypt(ctx.get(), nullptr, &len, seed.data(), seed.size()) != 1) return crypto_failed("RSA-OAEP");
  base::Bytes out(len);
  if (EVP_PKEY_encrypt(ctx.get(), out.data(), &len, seed.data(), seed.size()) != 1) return crypto_failed("RSA-OAEP");
  out.resize(len);
  return out;
}

base::Result<base::Bytes> ec_point(EVP_PKEY* key) {
  std::size_t len = 0;
  if (EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, nullptr, 0, &len) != 1)
    return crypto_failed("EC point");
  base::Bytes out(len);
  if (EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, out.data(), out.size(), &len) != 1)
    return crypto_failed("EC point");
  out.resize(len);
  if (out.empty() || out[0] != 0x04 || out.size() % 2 == 0) {
    return make_error(ErrorCode::Malformed, "the EC point is not uncompressed");
  }
  return out;
}

// ECC EK: the seed from an ephemeral ECDH (Part 1 §C.6.4); `secret_out` gets the TPMS_ECC_POINT.
base::Result<base::Bytes> ecc_seed(EVP_PKEY* ek, std::uint16_t name_alg, std::size_t seed_bits,
                                   base::Bytes& secret_out) {
  char group[64] = {};
  std::size_t glen = 0;
  if (EVP_PKEY_get_utf8_string_param(ek, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), &glen) != 1)
    return crypto_failed("EC group");
  base::EvpPkeyPtr eph(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", group));
  if (!eph) return crypto_failed("ephemeral key");
  PkeyCtx ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, eph.get(), nullptr));
  std::size_t zlen = 0;
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1 || EVP_PKEY_derive_set_peer(ctx.get(), ek) != 1 ||
      EVP_PKEY_derive(ctx.get(), nullptr, &zlen) != 1) {
    return crypto_failed("ECDH");
  }
  base::Bytes z(zlen);
  if (EVP_PKEY_derive(ctx.get(), z.data(), &zlen) != 1) return crypto_failed("ECDH");
  z.resize(zlen);
  HM_TRY(auto eph_point, ec_point(eph.get()));
  HM_TRY(auto ek_point, ec_point(ek));
  const std::size_t w = (eph_point.size() - 1) / 2;
  base::ByteView ex(eph_point.data() + 1, w), ey(eph_point.data() + 1 + w, w), kx(ek_point.data() + 1, w);
  HM_TRY(auto seed, kdfe(name_alg, z, "IDENTITY", ex, kx, static_cast<std::uint32_t>(seed_bits)));
  TPMS_ECC_POINT point{};
  point.x.size = static_cast<UINT16>(w);
  std::memcpy(point.x.buffer, ex.data(), w);
  point.y.size = static_cast<UINT16>(w);
  std::memcpy(point.y.buffer, ey.data(), w);
  base::Bytes buf(sizeof(TPMS_ECC_POINT));
  std::size_t off = 0;
  if (Tss2_MU_TPMS_ECC_POINT_Marshal(&point, buf.data(), buf.size(), &off) != TSS2_RC_SUCCESS)
    return make_error(ErrorCode::Internal, "marshal TPMS_ECC_POINT");
  buf.resize(off);
  secret_out = std::move(buf);
  return seed;
}

}  // namespace

base::Result<base::Bytes> kdfa(std::uint16_t hash_alg, base::ByteView key, std::string_view label,
                               base::ByteView context_u, base::ByteView context_v, std::uint32_t bits) {
  const char* md = digest_name(hash_alg);
  if (md == nullptr) return make_error(ErrorCode::Unsupported, "KDFa: hash algorithm not SHA-256/384");
  base::Bytes out;
  for (std::uint32_t i = 1; out.size() * 8 < bits; ++i) {
    base::Bytes in;
    put_u32(in, i);
    append_label(in, label);
    append(in, context_u);
    append(in, context_v);
    put_u32(in, bits);
    HM_TRY(auto block, hmac(md, key, in));
    append(out, block);
  }
  truncate_bits(out, bits);
  return out;
}

base::Result<base::Bytes> kdfe(std::uint16_t hash_alg, base::ByteView z, std::string_view label, base::ByteView party_u,
                               base::ByteView party_v, std::uint32_t bits) {
  const char* md = digest_name(hash_alg);
  if (md == nullptr) return make_error(ErrorCode::Unsupported, "KDFe: hash algorithm not SHA-256/384");
  base::Bytes out;
  for (std::uint32_t i = 1; out.size() * 8 < bits; ++i) {
    base::Bytes in;
    put_u32(in, i);
    append(in, z);
    append_label(in, label);
    append(in, party_u);
    append(in, party_v);
    HM_TRY(auto block, hash(md, in));
    append(out, block);
  }
  truncate_bits(out, bits);
  return out;
}

base::Result<MadeCredential> make_credential(base::ByteView ek_public, base::ByteView object_name,
                                             base::ByteView credential, base::Rng& rng) {
  HM_TRY(auto ek, decode_tpm_public(ek_public));
  const char* md = digest_name(ek.name_alg);
  if (md == nullptr) return make_error(ErrorCode::Unsupported, "the EK's nameAlg is not SHA-256/384");
  const std::size_t digest_size = ek.name_alg == TPM2_ALG_SHA384 ? 48 : 32;
  if (ek.symmetric_alg != TPM2_ALG_AES) {
    return make_error(ErrorCode::Unsupported, "the EK is not a storage key with AES (a standard EK template)");
  }
  if (credential.empty() || credential.size() > digest_size) {
    return make_error(ErrorCode::InvalidArgument,
                      "the credential must be 1.." + std::to_string(digest_size) + " octets");
  }
  if (object_name.size() < 2 || object_name.size() > sizeof(TPMU_NAME)) {
    return make_error(ErrorCode::InvalidArgument, "the object Name is malformed");
  }
  HM_TRY(auto ek_key, base::decode_public_key(ek.spki_der));

  MadeCredential out;
  base::Bytes secret, seed;
  if (ek.is_rsa) {
    seed = rng.bytes(digest_size);
    HM_TRY(secret, rsa_oaep_seed(ek_key.get(), md, seed));
  } else {
    HM_TRY(seed, ecc_seed(ek_key.get(), ek.name_alg, digest_size * 8, secret));
  }

  HM_TRY(auto sym_key, kdfa(ek.name_alg, seed, "STORAGE", object_name, {}, ek.symmetric_bits));
  TPM2B_DIGEST cred{};
  cred.size = static_cast<UINT16>(credential.size());
  std::memcpy(cred.buffer, credential.data(), credential.size());
  base::Bytes plain(sizeof(TPM2B_DIGEST));
  std::size_t off = 0;
  if (Tss2_MU_TPM2B_DIGEST_Marshal(&cred, plain.data(), plain.size(), &off) != TSS2_RC_SUCCESS)
    return make_error(ErrorCode::Internal, "marshal TPM2B_DIGEST");
  plain.resize(off);
  HM_TRY(auto enc_identity, aes_cfb_encrypt(ek.symmetric_bits, sym_key, plain));

  HM_TRY(auto hmac_key, kdfa(ek.name_alg, seed, "INTEGRITY", {}, {}, static_cast<std::uint32_t>(digest_size * 8)));
  base::Bytes mac_in = enc_identity;
  append(mac_in, object_name);
  HM_TRY(auto outer, hmac(md, hmac_key, mac_in));

  TPM2B_DIGEST outer2b{};
  outer2b.size = static_cast<UINT16>(outer.size());
  std::memcpy(outer2b.buffer, outer.data(), outer.size());
  TPM2B_ID_OBJECT id{};
  off = 0;
  if (Tss2_MU_TPM2B_DIGEST_Marshal(&outer2b, id.credential, sizeof(id.credential), &off) != TSS2_RC_SUCCESS ||
      off + enc_identity.size() > sizeof(id.credential)) {
    return make_error(ErrorCode::Internal, "marshal the credential blob");
  }
  std::memcpy(id.credential + off, enc_identity.data(), enc_identity.size());
  id.size = static_cast<UINT16>(off + enc_identity.size());
  out.credential_blob.resize(sizeof(TPM2B_ID_OBJECT));
  off = 0;
  if (Tss2_MU_TPM2B_ID_OBJECT_Marshal(&id, out.credential_blob.data(), out.credential_blob.size(), &off) !=
      TSS2_RC_SUCCESS)
    return make_error(ErrorCode::Internal, "marshal TPM2B_ID_OBJECT");
  out.credential_blob.resize(off);

  TPM2B_ENCRYPTED_SECRET es{};
  if (secret.size() > sizeof(es.secret)) return make_error(ErrorCode::Unsupported, "the EK is too large");
  es.size = static_cast<UINT16>(secret.size());
  std::memcpy(es.secret, secret.data(), secret.size());
  out.encrypted_secret.resize(sizeof(TPM2B_ENCRYPTED_SECRET));
  off = 0;
  if (Tss2_MU_TPM2B_ENCRYPTED_SECRET_Marshal(&es, out.encrypted_secret.data(), out.encrypted_secret.size(), &off) !=
      TSS2_RC_SUCCESS)
    return make_error(ErrorCode::Internal, "marshal TPM2B_ENCRYPTED_SECRET");
  out.encrypted_secret.resize(off);
  return out;
}

base::Bytes tpm2_tools_credential_file(const MadeCredential& c) {
  base::Bytes out;
  put_u32(out, 0xBADCC0DE);
  put_u32(out, 1);
  append(out, c.credential_blob);
  append(out, c.encrypted_secret);
  return out;
}

}  // namespace hallmark::attest
