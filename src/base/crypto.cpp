#include "base/crypto.h"

#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/x509.h>

#include <memory>

namespace hallmark::base {
namespace {

struct MdCtxFree {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
struct SigFree {
  void operator()(ECDSA_SIG* p) const { ECDSA_SIG_free(p); }
};
struct BnFree {
  void operator()(BIGNUM* p) const { BN_free(p); }
};

Bytes digest(const EVP_MD* md, ByteView data) {
  Bytes out(static_cast<std::size_t>(EVP_MD_get_size(md)));
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), out.data(), &len, md, nullptr);
  out.resize(len);
  return out;
}

}  // namespace

std::string_view to_string(KeyAlgorithm a) {
  switch (a) {
    case KeyAlgorithm::EcP256:
      return "p256";
    case KeyAlgorithm::EcP384:
      return "p384";
    case KeyAlgorithm::Rsa2048:
      return "rsa2048";
    case KeyAlgorithm::Rsa3072:
      return "rsa3072";
    case KeyAlgorithm::Rsa4096:
      return "rsa4096";
    case KeyAlgorithm::Ed25519:
      return "ed25519";
  }
  return "unknown";
}

Result<KeyAlgorithm> parse_key_algorithm(std::string_view name) {
  for (auto a : {KeyAlgorithm::EcP256, KeyAlgorithm::EcP384, KeyAlgorithm::Rsa2048, KeyAlgorithm::Rsa3072,
                 KeyAlgorithm::Rsa4096, KeyAlgorithm::Ed25519}) {
    if (to_string(a) == name) return a;
  }
  return make_error(ErrorCode::InvalidArgument, "unknown key algorithm '" + std::string(name) +
                                                    "': use p256, p384, rsa2048, rsa3072, rsa4096 or ed25519");
}

std::string_view to_string(SignatureAlgorithm a) {
  switch (a) {
    case SignatureAlgorithm::EcdsaSha256:
      return "ecdsa-with-SHA256";
    case SignatureAlgorithm::EcdsaSha384:
      return "ecdsa-with-SHA384";
    case SignatureAlgorithm::RsaPkcs1Sha256:
      return "sha256WithRSAEncryption";
    case SignatureAlgorithm::RsaPkcs1Sha384:
      return "sha384WithRSAEncryption";
    case SignatureAlgorithm::Ed25519:
      return "Ed25519";
  }
  return "unknown";
}

Result<SignatureAlgorithm> parse_signature_algorithm(std::string_view name) {
  for (auto a : {SignatureAlgorithm::EcdsaSha256, SignatureAlgorithm::EcdsaSha384, SignatureAlgorithm::RsaPkcs1Sha256,
                 SignatureAlgorithm::RsaPkcs1Sha384, SignatureAlgorithm::Ed25519}) {
    if (to_string(a) == name) return a;
  }
  return make_error(ErrorCode::Unsupported, "unknown signature algorithm '" + std::string(name) + "'");
}

SignatureAlgorithm default_signature_algorithm(KeyAlgorithm a) {
  switch (a) {
    case KeyAlgorithm::EcP256:
      return SignatureAlgorithm::EcdsaSha256;
    case KeyAlgorithm::EcP384:
      return SignatureAlgorithm::EcdsaSha384;
    case KeyAlgorithm::Rsa2048:
    case KeyAlgorithm::Rsa3072:
    case KeyAlgorithm::Rsa4096:
      return SignatureAlgorithm::RsaPkcs1Sha256;
    case KeyAlgorithm::Ed25519:
      return SignatureAlgorithm::Ed25519;
  }
  return SignatureAlgorithm::EcdsaSha256;
}

void EvpPkeyDeleter::operator()(EVP_PKEY* key) const {
  EVP_PKEY_free(key);
}

namespace {

// DER SubjectPublicKeyInfo prefixes up to the key octets (RFC 5480 §2, RFC 8410 §4).
constexpr unsigned char kP256Prefix[] = {0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01,
                                         0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00};
constexpr unsigned char kP384Prefix[] = {0x30, 0x76, 0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02,
                                         0x01, 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22, 0x03, 0x62, 0x00};
constexpr unsigned char kEd25519Prefix[] = {0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00};

template <std::size_t N>
bool has_prefix(ByteView der, const unsigned char (&prefix)[N], std::size_t key_len) {
  return der.size() == N + key_len && std::equal(prefix, prefix + N, der.begin());
}

EVP_PKEY* import_ec_point(const char* group, ByteView point) {
  struct CtxFree {
    void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
  };
  std::unique_ptr<EVP_PKEY_CTX, CtxFree> ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1) return nullptr;
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, const_cast<char*>(group), 0),
                         OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY,
                                                           const_cast<unsigned char*>(point.data()), point.size()),
                         OSSL_PARAM_construct_end()};
  EVP_PKEY* key = nullptr;
  // The import checks that the point lies on the curve.
  if (EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, params) != 1) return nullptr;
  return key;
}

}  // namespace

Result<EvpPkeyPtr> decode_public_key(ByteView der) {
  EVP_PKEY* key = nullptr;
  if (has_prefix(der, kP256Prefix, 65)) {
    key = import_ec_point("P-256", der.subspan(sizeof kP256Prefix));
  } else if (has_prefix(der, kP384Prefix, 97)) {
    key = import_ec_point("P-384", der.subspan(sizeof kP384Prefix));
  } else if (has_prefix(der, kEd25519Prefix, 32)) {
    key = EVP_PKEY_new_raw_public_key_ex(nullptr, "ED25519", nullptr, der.data() + sizeof kEd25519Prefix, 32);
  } else {
    const unsigned char* p = der.data();
    key = d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size()));
    if (key != nullptr && p != der.data() + der.size()) {
      EVP_PKEY_free(key);
      key = nullptr;
    }
  }
  if (key == nullptr) {
    return make_error(ErrorCode::Malformed, "public key does not decode as a SubjectPublicKeyInfo",
                      openssl_error_string());
  }
  return EvpPkeyPtr(key);
}

Bytes sha256(ByteView data) {
  return digest(EVP_sha256(), data);
}
Bytes sha1(ByteView data) {
  return digest(EVP_sha1(), data);
}

Result<Bytes> ecdsa_raw_to_der(ByteView raw) {
  if (raw.empty() || raw.size() % 2 != 0) {
    return make_error(ErrorCode::Malformed, "raw ECDSA signature has an odd length");
  }
  const auto half = static_cast<int>(raw.size() / 2);
  std::unique_ptr<BIGNUM, BnFree> r(BN_bin2bn(raw.data(), half, nullptr));
  std::unique_ptr<BIGNUM, BnFree> s(BN_bin2bn(raw.data() + half, half, nullptr));
  std::unique_ptr<ECDSA_SIG, SigFree> sig(ECDSA_SIG_new());
  if (!r || !s || !sig || ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) {
    return make_error(ErrorCode::Internal, "cannot build ECDSA signature", openssl_error_string());
  }
  r.release();
  s.release();
  unsigned char* out = nullptr;
  const int len = i2d_ECDSA_SIG(sig.get(), &out);
  if (len <= 0) return make_error(ErrorCode::Internal, "cannot encode ECDSA signature");
  Bytes der(out, out + len);
  OPENSSL_free(out);
  return der;
}

Result<Bytes> ecdsa_der_to_raw(ByteView der, std::size_t width) {
  const unsigned char* p = der.data();
  std::unique_ptr<ECDSA_SIG, SigFree> sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
  if (!sig || p != der.data() + der.size()) {
    return make_error(ErrorCode::Malformed, "ECDSA signature is not valid DER");
  }
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  Bytes raw(width * 2);
  if (BN_bn2binpad(r, raw.data(), static_cast<int>(width)) < 0 ||
      BN_bn2binpad(s, raw.data() + width, static_cast<int>(width)) < 0) {
    return make_error(ErrorCode::Malformed, "ECDSA signature component too large");
  }
  return raw;
}

Status verify_signature(ByteView spki_der, SignatureAlgorithm alg, ByteView message, ByteView signature) {
  HM_TRY(auto key, decode_public_key(spki_der));
  Bytes sig(signature.begin(), signature.end());
  const EVP_MD* md = nullptr;
  switch (alg) {
    case SignatureAlgorithm::EcdsaSha256:
    case SignatureAlgorithm::EcdsaSha384: {
      // The width of r||s follows the key's curve, not the hash (a P-384 key may
      // sign with SHA-256): only require two equal halves of a sane size.
      if (signature.size() % 2 != 0 || signature.size() > 2 * 66) {
        return make_error(ErrorCode::BadSignature, "signature does not verify (malformed r||s)");
      }
      HM_TRY(sig, ecdsa_raw_to_der(signature));
      md = alg == SignatureAlgorithm::EcdsaSha256 ? EVP_sha256() : EVP_sha384();
      break;
    }
    case SignatureAlgorithm::RsaPkcs1Sha256:
      md = EVP_sha256();
      break;
    case SignatureAlgorithm::RsaPkcs1Sha384:
      md = EVP_sha384();
      break;
    case SignatureAlgorithm::Ed25519:
      md = nullptr;
      break;
  }
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, md, nullptr, key.get()) != 1) {
    return make_error(ErrorCode::Unsupported, "public key does not match the signature algorithm",
                      openssl_error_string());
  }
  const int rc = EVP_DigestVerify(ctx.get(), sig.data(), sig.size(), message.data(), message.size());
  if (rc != 1) {
    ERR_clear_error();
    return make_error(ErrorCode::BadSignature, "signature does not verify");
  }
  return {};
}

std::string openssl_error_string() {
  std::string out;
  unsigned long e = 0;
  while ((e = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "no OpenSSL error recorded" : out;
}

}  // namespace hallmark::base
