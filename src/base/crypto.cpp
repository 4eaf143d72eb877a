#include "base/crypto.h"

#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>

namespace hallmark::base {
namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
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
    case KeyAlgorithm::EcP256: return "p256";
    case KeyAlgorithm::EcP384: return "p384";
    case KeyAlgorithm::Rsa2048: return "rsa2048";
    case KeyAlgorithm::Rsa3072: return "rsa3072";
    case KeyAlgorithm::Rsa4096: return "rsa4096";
    case KeyAlgorithm::Ed25519: return "ed25519";
  }
  return "unknown";
}

Result<KeyAlgorithm> parse_key_algorithm(std::string_view name) {
  for (auto a : {KeyAlgorithm::EcP256, KeyAlgorithm::EcP384, KeyAlgorithm::Rsa2048,
                 KeyAlgorithm::Rsa3072, KeyAlgorithm::Rsa4096, KeyAlgorithm::Ed25519}) {
    if (to_string(a) == name) return a;
  }
  return make_error(ErrorCode::InvalidArgument,
                    "unknown key algorithm '" + std::string(name) +
                        "': use p256, p384, rsa2048, rsa3072, rsa4096 or ed25519");
}

std::string_view to_string(SignatureAlgorithm a) {
  switch (a) {
    case SignatureAlgorithm::EcdsaSha256: return "ecdsa-with-SHA256";
    case SignatureAlgorithm::EcdsaSha384: return "ecdsa-with-SHA384";
    case SignatureAlgorithm::RsaPkcs1Sha256: return "sha256WithRSAEncryption";
    case SignatureAlgorithm::RsaPkcs1Sha384: return "sha384WithRSAEncryption";
    case SignatureAlgorithm::Ed25519: return "Ed25519";
  }
  return "unknown";
}

Result<SignatureAlgorithm> parse_signature_algorithm(std::string_view name) {
  for (auto a : {SignatureAlgorithm::EcdsaSha256, SignatureAlgorithm::EcdsaSha384,
                 SignatureAlgorithm::RsaPkcs1Sha256, SignatureAlgorithm::RsaPkcs1Sha384,
                 SignatureAlgorithm::Ed25519}) {
    if (to_string(a) == name) return a;
  }
  return make_error(ErrorCode::Unsupported, "unknown signature algorithm '" + std::string(name) + "'");
}

SignatureAlgorithm default_signature_algorithm(KeyAlgorithm a) {
  switch (a) {
    case KeyAlgorithm::EcP256: return SignatureAlgorithm::EcdsaSha256;
    case KeyAlgorithm::EcP384: return SignatureAlgorithm::EcdsaSha384;
    case KeyAlgorithm::Rsa2048:
    case KeyAlgorithm::Rsa3072:
    case KeyAlgorithm::Rsa4096: return SignatureAlgorithm::RsaPkcs1Sha256;
    case KeyAlgorithm::Ed25519: return SignatureAlgorithm::Ed25519;
  }
  return SignatureAlgorithm::EcdsaSha256;
}

Bytes sha256(ByteView data) { return digest(EVP_sha256(), data); }
Bytes sha1(ByteView data) { return digest(EVP_sha1(), data); }

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

Status verify_signature(ByteView spki_der, SignatureAlgorithm alg, ByteView message,
                        ByteView signature) {
  const unsigned char* p = spki_der.data();
  std::unique_ptr<EVP_PKEY, PkeyFree> key(d2i_PUBKEY(nullptr, &p, static_cast<long>(spki_der.size())));
  if (!key) return make_error(ErrorCode::Malformed, "public key is not valid DER SubjectPublicKeyInfo");
  Bytes sig(signature.begin(), signature.end());
  const EVP_MD* md = nullptr;
  switch (alg) {
    case SignatureAlgorithm::EcdsaSha256:
    case SignatureAlgorithm::EcdsaSha384: {
      const std::size_t want = alg == SignatureAlgorithm::EcdsaSha256 ? 64 : 96;
      if (signature.size() != want) {
        return make_error(ErrorCode::BadSignature, "signature does not verify (wrong length for " +
                                                       std::string(to_string(alg)) + ")");
      }
      HM_TRY(sig, ecdsa_raw_to_der(signature));
      md = alg == SignatureAlgorithm::EcdsaSha256 ? EVP_sha256() : EVP_sha384();
      break;
    }
    case SignatureAlgorithm::RsaPkcs1Sha256: md = EVP_sha256(); break;
    case SignatureAlgorithm::RsaPkcs1Sha384: md = EVP_sha384(); break;
    case SignatureAlgorithm::Ed25519: md = nullptr; break;
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
