// KDFa and KDFe of the software MakeCredential against independent
// implementations in OpenSSL: KDFa is SP 800-108 counter-mode KBKDF with HMAC
// (OpenSSL "KBKDF": [i]_32 || label || 0x00 || context || [L]_32), KDFe the
// SP 800-56C single-step KDF with a hash (OpenSSL "SSKDF": H([i]_32 || Z || FixedInfo)).
#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include <gtest/gtest.h>

#include "attest/tpm_credential.h"
#include "base/bytes.h"

namespace hallmark::attest {
namespace {

constexpr std::uint16_t kSha256 = 0x000B;
constexpr std::uint16_t kSha384 = 0x000C;

base::Bytes openssl_kdf(const char* kdf_name, const char* digest, const std::vector<OSSL_PARAM>& extra,
                        std::size_t out_len) {
  EVP_KDF* kdf = EVP_KDF_fetch(nullptr, kdf_name, nullptr);
  EVP_KDF_CTX* ctx = EVP_KDF_CTX_new(kdf);
  std::vector<OSSL_PARAM> params = extra;
  params.push_back(OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, const_cast<char*>(digest), 0));
  params.push_back(OSSL_PARAM_construct_end());
  base::Bytes out(out_len);
  const int rc = EVP_KDF_derive(ctx, out.data(), out.size(), params.data());
  EVP_KDF_CTX_free(ctx);
  EVP_KDF_free(kdf);
  EXPECT_EQ(rc, 1);
  return out;
}

base::Bytes kbkdf(const char* digest, base::Bytes key, std::string label, base::Bytes context, std::size_t len) {
  std::vector<OSSL_PARAM> p = {OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_MAC, const_cast<char*>("HMAC"), 0),
                               OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_MODE, const_cast<char*>("counter"), 0),
                               OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, key.data(), key.size()),
                               OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, label.data(), label.size()),
                               OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, context.data(), context.size())};
  return openssl_kdf("KBKDF", digest, p, len);
}

TEST(TpmKdf, KdfaIsSp800_108CounterModeWithTheLabelsNul) {
  const base::Bytes seed(32, 0x5a);
  const auto name = base::hex_decode("000b765e79059a8d3463dcb7c8490943709f483c699a41387bfbbcdbbbf6b4a06e28").value();
  // symKey of MakeCredential: KDFa(SHA-256, seed, "STORAGE", name, -, 128).
  auto storage = kdfa(kSha256, seed, "STORAGE", name, {}, 128);
  ASSERT_TRUE(storage.ok());
  EXPECT_EQ(storage.value(), kbkdf("SHA256", seed, "STORAGE", name, 16));
  // HMACkey: KDFa(SHA-256, seed, "INTEGRITY", -, -, 256); and a two-block output.
  EXPECT_EQ(kdfa(kSha256, seed, "INTEGRITY", {}, {}, 256).value(), kbkdf("SHA256", seed, "INTEGRITY", {}, 32));
  EXPECT_EQ(kdfa(kSha256, seed, "INTEGRITY", {}, {}, 512).value(), kbkdf("SHA256", seed, "INTEGRITY", {}, 64));
  EXPECT_EQ(kdfa(kSha384, seed, "STORAGE", name, {}, 256).value(), kbkdf("SHA384", seed, "STORAGE", name, 32));
  // contextU || contextV are concatenated.
  const base::Bytes u = {1, 2, 3}, v = {4, 5};
  EXPECT_EQ(kdfa(kSha256, seed, "X", u, v, 128).value(), kbkdf("SHA256", seed, "X", {1, 2, 3, 4, 5}, 16));
}

TEST(TpmKdf, KdfeIsTheSingleStepHashKdfOverZAndFixedInfo) {
  base::Bytes z(48, 0x11), pu(48, 0x22), pv(48, 0x33);
  base::Bytes fixed_info = base::to_bytes("IDENTITY");
  fixed_info.push_back(0);
  fixed_info.insert(fixed_info.end(), pu.begin(), pu.end());
  fixed_info.insert(fixed_info.end(), pv.begin(), pv.end());
  std::vector<OSSL_PARAM> p = {
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, z.data(), z.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, fixed_info.data(), fixed_info.size())};
  EXPECT_EQ(kdfe(kSha384, z, "IDENTITY", pu, pv, 384).value(), openssl_kdf("SSKDF", "SHA384", p, 48));
  EXPECT_EQ(kdfe(kSha256, z, "IDENTITY", pu, pv, 512).value(), openssl_kdf("SSKDF", "SHA256", p, 64));
}

TEST(TpmKdf, KdfaMasksTheHighBitsOfAnOddLength) {
  const base::Bytes key(32, 1);
  auto out = kdfa(kSha256, key, "L", {}, {}, 12);
  ASSERT_TRUE(out.ok());
  ASSERT_EQ(out->size(), 2u);
  EXPECT_EQ((*out)[0] & 0xf0, 0);
}

}  // namespace
}  // namespace hallmark::attest
