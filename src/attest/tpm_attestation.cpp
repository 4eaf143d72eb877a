#include "attest/tpm_attestation.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>

#include <memory>

#include <tss2/tss2_mu.h>
#include <tss2/tss2_tpm2_types.h>

#include "base/crypto.h"
#include "pkix/certificate.h"
#include "pkix/public_key.h"

namespace hallmark::attest {

using base::ErrorCode;
using base::make_error;

namespace {

struct BldDeleter {
  void operator()(OSSL_PARAM_BLD* b) const { OSSL_PARAM_BLD_free(b); }
};
struct ParamDeleter {
  void operator()(OSSL_PARAM* p) const { OSSL_PARAM_free(p); }
};
struct PkeyCtxDeleter {
  void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};
struct BnDeleter {
  void operator()(BIGNUM* b) const { BN_free(b); }
};

TpmVerdict fail(TpmCheck check, std::string detail) {
  TpmVerdict v;
  v.check = check;
  v.detail = std::move(detail);
  return v;
}

const EVP_MD* digest_for(std::uint16_t alg) {
  switch (alg) {
    case TPM2_ALG_SHA256:
      return EVP_sha256();
    case TPM2_ALG_SHA384:
      return EVP_sha384();
    default:
      return nullptr;
  }
}

base::Result<base::Bytes> digest(std::uint16_t alg, base::ByteView data) {
  const EVP_MD* md = digest_for(alg);
  if (md == nullptr) return make_error(ErrorCode::Unsupported, "hash algorithm 0x" + std::to_string(alg));
  base::Bytes out(static_cast<std::size_t>(EVP_MD_get_size(md)));
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out.data(), &len, md, nullptr) != 1) {
    return make_error(ErrorCode::Internal, "digest failed: " + base::openssl_error_string());
  }
  return out;
}

base::Result<base::Bytes> spki_of(EVP_PKEY* key) {
  unsigned char* der = nullptr;
  const int len = i2d_PUBKEY(key, &der);
  if (len <= 0) return make_error(ErrorCode::Internal, "cannot encode the public key: " + base::openssl_error_string());
  base::Bytes out(der, der + len);
  OPENSSL_free(der);
  return out;
}

base::Result<base::Bytes> key_from_params(const char* type, OSSL_PARAM_BLD* bld) {
  std::unique_ptr<OSSL_PARAM, ParamDeleter> params(OSSL_PARAM_BLD_to_param(bld));
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxDeleter> ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    return make_error(ErrorCode::Malformed, "the TPM public key does not import: " + base::openssl_error_string());
  }
  base::EvpPkeyPtr key(raw);
  return spki_of(key.get());
}

// TPMT_PUBLIC -> SubjectPublicKeyInfo, through OSSL_PARAM (no deprecated RSA/EC_KEY API).
base::Result<base::Bytes> spki_from_public(const TPMT_PUBLIC& pub) {
  std::unique_ptr<OSSL_PARAM_BLD, BldDeleter> bld(OSSL_PARAM_BLD_new());
  if (!bld) return make_error(ErrorCode::Internal, "out of memory");
  if (pub.type == TPM2_ALG_RSA) {
    const auto& n = pub.unique.rsa;
    const std::uint32_t exponent = pub.parameters.rsaDetail.exponent == 0 ? 65537 : pub.parameters.rsaDetail.exponent;
    if (n.size < 256) return make_error(ErrorCode::Unsupported, "RSA keys shorter than 2048 bits are not accepted");
    std::unique_ptr<BIGNUM, BnDeleter> bn_n(BN_bin2bn(n.buffer, n.size, nullptr));
    std::unique_ptr<BIGNUM, BnDeleter> bn_e(BN_new());
    if (!bn_n || !bn_e || BN_set_word(bn_e.get(), exponent) != 1 ||
        OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) != 1 ||
        OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) != 1) {
      return make_error(ErrorCode::Internal, "out of memory");
    }
    return key_from_params("RSA", bld.get());
  }
  if (pub.type == TPM2_ALG_ECC) {
    const char* group = nullptr;
    std::size_t width = 0;
    switch (pub.parameters.eccDetail.curveID) {
      case TPM2_ECC_NIST_P256:
        group = "prime256v1";
        width = 32;
        break;
      case TPM2_ECC_NIST_P384:
        group = "secp384r1";
        width = 48;
        break;
      default:
        return make_error(ErrorCode::Unsupported, "ECC curve 0x" + std::to_string(pub.parameters.eccDetail.curveID) +
                                                      " is not supported (P-256, P-384)");
    }
    const auto& x = pub.unique.ecc.x;
    const auto& y = pub.unique.ecc.y;
    if (x.size > width || y.size > width) return make_error(ErrorCode::Malformed, "ECC point coordinates too long");
    // Uncompressed point 04 || X || Y, coordinates left-padded to the field size.
    base::Bytes point(1 + 2 * width, 0);
    point[0] = 0x04;
    std::copy(x.buffer, x.buffer + x.size, point.begin() + 1 + (width - x.size));
    std::copy(y.buffer, y.buffer + y.size, point.begin() + 1 + width + (width - y.size));
    if (OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, 0) != 1 ||
        OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) != 1) {
      return make_error(ErrorCode::Internal, "out of memory");
    }
    return key_from_params("EC", bld.get());
  }
  return make_error(ErrorCode::Unsupported, "TPM key type 0x" + std::to_string(pub.type) + " is not RSA or ECC");
}

std::string attribute_names(std::uint32_t a) {
  std::string out;
  auto add = [&](std::uint32_t bit, const char* name) {
    if (a & bit) out += (out.empty() ? "" : "|") + std::string(name);
  };
  add(TPMA_OBJECT_FIXEDTPM, "fixedTPM");
  add(TPMA_OBJECT_FIXEDPARENT, "fixedParent");
  add(TPMA_OBJECT_SENSITIVEDATAORIGIN, "sensitiveDataOrigin");
  add(TPMA_OBJECT_RESTRICTED, "restricted");
  add(TPMA_OBJECT_DECRYPT, "decrypt");
  add(TPMA_OBJECT_SIGN_ENCRYPT, "sign");
  return out.empty() ? "none" : out;
}

// TCG DevID §3.10/§3.11 (standards.md §1.5 steps 4/5): "" when acceptable, else why.
std::string attribute_problem(std::uint32_t a, bool restricted) {
  constexpr std::uint32_t kRequired =
      TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_SIGN_ENCRYPT;
  if ((a & kRequired) != kRequired) {
    return "must be fixedTPM|fixedParent|sensitiveDataOrigin|sign (a key the TPM generated and can never export) "
           "but has " +
           attribute_names(a);
  }
  if (a & TPMA_OBJECT_DECRYPT) return "must not be a decryption key (has " + attribute_names(a) + ")";
  if (restricted && !(a & TPMA_OBJECT_RESTRICTED)) {
    return "must be restricted (signs only TPM-generated structures) but has " + attribute_names(a);
  }
  if (!restricted && (a & TPMA_OBJECT_RESTRICTED)) {
    return "must be an unrestricted signing key but is restricted";
  }
  return "";
}

// A TPM2B_ATTEST (size prefix equal to the rest) or a bare TPMS_ATTEST.
base::ByteView attest_body(base::ByteView b) {
  if (b.size() >= 2 && static_cast<std::size_t>((b[0] << 8) | b[1]) == b.size() - 2 &&
      !(b[0] == 0xff && b[1] == 0x54)) {
    return b.subspan(2);
  }
  return b;
}

}  // namespace

base::Result<TpmPublic> decode_tpm_public(base::ByteView bytes) {
  TPMT_PUBLIC pub{};
  bool decoded = false;
  if (bytes.size() >= 2 && static_cast<std::size_t>((bytes[0] << 8) | bytes[1]) == bytes.size() - 2) {
    TPM2B_PUBLIC p2b{};
    std::size_t off = 0;
    if (Tss2_MU_TPM2B_PUBLIC_Unmarshal(bytes.data(), bytes.size(), &off, &p2b) == TSS2_RC_SUCCESS &&
        off == bytes.size()) {
      pub = p2b.publicArea;
      decoded = true;
    }
  }
  if (!decoded) {
    std::size_t off = 0;
    if (Tss2_MU_TPMT_PUBLIC_Unmarshal(bytes.data(), bytes.size(), &off, &pub) != TSS2_RC_SUCCESS ||
        off != bytes.size()) {
      return make_error(ErrorCode::Malformed, "not a TPM2B_PUBLIC or TPMT_PUBLIC");
    }
  }
  TpmPublic out;
  base::Bytes buf(sizeof(TPMT_PUBLIC));
  std::size_t len = 0;
  if (Tss2_MU_TPMT_PUBLIC_Marshal(&pub, buf.data(), buf.size(), &len) != TSS2_RC_SUCCESS) {
    return make_error(ErrorCode::Malformed, "the public area does not re-marshal");
  }
  buf.resize(len);
  out.tpmt = std::move(buf);
  out.name_alg = pub.nameAlg;
  out.attributes = pub.objectAttributes;
  HM_TRY(auto h, digest(pub.nameAlg, out.tpmt));
  out.name = {static_cast<std::uint8_t>(pub.nameAlg >> 8), static_cast<std::uint8_t>(pub.nameAlg & 0xff)};
  out.name.insert(out.name.end(), h.begin(), h.end());
  HM_TRY(out.spki_der, spki_from_public(pub));
  out.is_rsa = pub.type == TPM2_ALG_RSA;
  const auto& sym = out.is_rsa ? pub.parameters.rsaDetail.symmetric : pub.parameters.eccDetail.symmetric;
  out.symmetric_alg = sym.algorithm;
  out.symmetric_bits = sym.algorithm == TPM2_ALG_NULL ? 0 : sym.keyBits.sym;
  return out;
}

TpmVerdict TpmAttestationVerifier::verify(const TpmEvidence& ev, base::ByteView key_spki_der) const {
  if (ev.nonce.size() != kTpmNonceSize) {
    return fail(TpmCheck::Malformed, "the nonce must be " + std::to_string(kTpmNonceSize) + " octets");
  }
  if (ev.ek_intermediates.size() + 1 > kMaxPath) {
    return fail(TpmCheck::Malformed, "the EK chain is longer than " + std::to_string(kMaxPath));
  }
  // 1. EK certificate -> TPM manufacturer root (standards.md §1.5 step 2).
  std::vector<pkix::Certificate> presented;
  auto ek_cert = pkix::Certificate::parse(ev.ek_certificate);
  if (!ek_cert.ok()) return fail(TpmCheck::Malformed, "the EK certificate does not decode: " + ek_cert.error().detail);
  presented.push_back(ek_cert.value());
  for (const auto& der : ev.ek_intermediates) {
    auto c = pkix::Certificate::parse(der);
    if (!c.ok()) return fail(TpmCheck::Malformed, "an EK chain certificate does not decode: " + c.error().detail);
    presented.push_back(std::move(c).value());
  }
  if (m_roots.empty()) {
    return fail(TpmCheck::EkChain,
                "the site authorization names no TPM manufacturer roots, so no EK certificate can be trusted");
  }
  // Real EK certificates carry a critical SAN of TPM directoryName attributes
  // and often an empty subject; validate_path processes the SAN as understood
  // and never interprets the subject, so they validate as they are.
  auto path = validate_path(presented, m_roots, m_clock.now(),
                            PathWording{"EK certificate", "configured TPM manufacturer root"});
  if (!path.ok()) return fail(TpmCheck::EkChain, path.error().detail);
  auto ek_key = ek_cert->public_key();
  if (!ek_key.ok()) return fail(TpmCheck::Malformed, "the EK certificate's key does not decode");
  if (!ev.ek_public.empty()) {
    auto ek_pub = decode_tpm_public(ev.ek_public);
    if (!ek_pub.ok()) return fail(TpmCheck::Malformed, "the EK public area: " + ek_pub.error().detail);
    if (ek_pub->spki_der != ek_key->spki_der()) {
      return fail(TpmCheck::EkChain, "the EK public area is not the key of the EK certificate");
    }
  }

  // 2. Public areas and their attributes (steps 4/5).
  auto iak = decode_tpm_public(ev.iak_public);
  if (!iak.ok()) return fail(TpmCheck::Malformed, "the IAK public area: " + iak.error().detail);
  auto idevid = decode_tpm_public(ev.idevid_public);
  if (!idevid.ok()) return fail(TpmCheck::Malformed, "the IDevID public area: " + idevid.error().detail);
  if (auto why = attribute_problem(iak->attributes, true); !why.empty()) {
    return fail(TpmCheck::IakAttributes, "the IAK " + why);
  }
  if (auto why = attribute_problem(idevid->attributes, false); !why.empty()) {
    return fail(TpmCheck::IdevidAttributes, "the IDevID key " + why);
  }

  // 3. TPMS_ATTEST of TPM2_Certify (step 3).
  const auto body = attest_body(ev.certify_info);
  TPMS_ATTEST attest{};
  std::size_t off = 0;
  if (Tss2_MU_TPMS_ATTEST_Unmarshal(body.data(), body.size(), &off, &attest) != TSS2_RC_SUCCESS || off != body.size()) {
    return fail(TpmCheck::Malformed, "the certify info is not a TPMS_ATTEST");
  }
  if (attest.magic != TPM2_GENERATED_VALUE) {
    return fail(TpmCheck::AttestMagic,
                "TPMS_ATTEST.magic is not TPM_GENERATED_VALUE (the structure was not made by a "
                "TPM)");
  }
  if (attest.type != TPM2_ST_ATTEST_CERTIFY) {
    return fail(TpmCheck::AttestType, "TPMS_ATTEST.type is not TPM_ST_ATTEST_CERTIFY");
  }
  if (base::Bytes(attest.extraData.buffer, attest.extraData.buffer + attest.extraData.size) != ev.nonce) {
    return fail(TpmCheck::Nonce, "TPMS_ATTEST.extraData is not the station's nonce");
  }
  const auto& certified = attest.attested.certify.name;
  if (base::Bytes(certified.name, certified.name + certified.size) != idevid->name) {
    return fail(TpmCheck::Name, "the certified Name is not nameAlg || H(TPMT_PUBLIC) of the IDevID public area given");
  }

  // 4. The IAK's signature over TPMS_ATTEST.
  TPMT_SIGNATURE sig{};
  off = 0;
  if (Tss2_MU_TPMT_SIGNATURE_Unmarshal(ev.certify_signature.data(), ev.certify_signature.size(), &off, &sig) !=
          TSS2_RC_SUCCESS ||
      off != ev.certify_signature.size()) {
    return fail(TpmCheck::Malformed, "the certify signature is not a TPMT_SIGNATURE");
  }
  base::SignatureAlgorithm alg{};
  base::Bytes raw;
  if (sig.sigAlg == TPM2_ALG_ECDSA && !iak->is_rsa) {
    const auto& e = sig.signature.ecdsa;
    const std::size_t width = iak->spki_der.size() > 100 ? 48 : 32;  // P-384 SPKI is 120 octets, P-256 91
    if (e.signatureR.size > width || e.signatureS.size > width) {
      return fail(TpmCheck::Signature, "the ECDSA signature does not fit the IAK's curve");
    }
    raw.assign(2 * width, 0);
    std::copy(e.signatureR.buffer, e.signatureR.buffer + e.signatureR.size, raw.begin() + (width - e.signatureR.size));
    std::copy(e.signatureS.buffer, e.signatureS.buffer + e.signatureS.size,
              raw.begin() + width + (width - e.signatureS.size));
    if (e.hash == TPM2_ALG_SHA256) {
      alg = base::SignatureAlgorithm::EcdsaSha256;
    } else if (e.hash == TPM2_ALG_SHA384) {
      alg = base::SignatureAlgorithm::EcdsaSha384;
    } else {
      return fail(TpmCheck::Signature, "the ECDSA signature's hash is not SHA-256 or SHA-384");
    }
  } else if (sig.sigAlg == TPM2_ALG_RSASSA && iak->is_rsa) {
    const auto& r = sig.signature.rsassa;
    raw.assign(r.sig.buffer, r.sig.buffer + r.sig.size);
    if (r.hash == TPM2_ALG_SHA256) {
      alg = base::SignatureAlgorithm::RsaPkcs1Sha256;
    } else if (r.hash == TPM2_ALG_SHA384) {
      alg = base::SignatureAlgorithm::RsaPkcs1Sha384;
    } else {
      return fail(TpmCheck::Signature, "the RSASSA signature's hash is not SHA-256 or SHA-384");
    }
  } else {
    return fail(TpmCheck::Signature, "the certify signature scheme 0x" + std::to_string(sig.sigAlg) +
                                         " is not ECDSA or RSASSA for the IAK's key type");
  }
  if (!base::verify_signature(iak->spki_der, alg, body, raw).ok()) {
    return fail(TpmCheck::Signature,
                "the certify signature does not verify with the IAK (signed by another key, or the TPMS_ATTEST was "
                "altered)");
  }

  // 5. The key to certify is the certified key.
  if (!key_spki_der.empty() && idevid->spki_der != base::Bytes(key_spki_der.begin(), key_spki_der.end())) {
    return fail(TpmCheck::KeyMismatch, "the TPM-certified IDevID key is not the key in the CSR");
  }

  TpmVerdict ok;
  ok.idevid_spki = idevid->spki_der;
  ok.manufacturer_root = path->anchor->name;
  ok.iak_name = iak->name;
  ok.ek_spki = ek_key->spki_der();
  ok.ek_serial_hex = ek_cert->serial_hex();
  return ok;
}

}  // namespace hallmark::attest
