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
#include "pkix/der.h"
#include "pkix/name.h"
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

// tcg-at-tpmManufacturer (2.23.133.2.1) of the EK certificate's SAN directoryName
// (TCG EK Credential Profile §3.2.9); "" when the certificate has none.
std::string tpm_manufacturer_of(const pkix::Certificate& cert) {
  const auto san = cert.find_extension("2.5.29.17");
  if (!san) return "";
  auto names = pkix::der::parse_single(san->value, 0x30, "subjectAltName");
  if (!names.ok()) return "";
  pkix::der::Reader r(names->content, "subjectAltName");
  while (!r.at_end()) {
    auto gn = r.read_any();
    if (!gn.ok()) return "";
    if (gn->tag != 0xA4) continue;  // directoryName [4] EXPLICIT Name
    auto name = pkix::Name::from_der(gn->content);
    if (!name.ok()) continue;
    for (const auto& a : name->attributes()) {
      if (a.oid == "2.23.133.2.1") return a.value;
    }
  }
  return "";
}

// A signature by `key` over `data`: a TPMT_SIGNATURE (ECDSA or RSASSA, SHA-256/384),
// or, when `fallback_hash` (a TPM_ALG_ID) is not 0 and the octets are not a
// TPMT_SIGNATURE, a DER ECDSA-Sig-Value or PKCS#1 v1.5 octets with that hash.
// {Ok, ""} when it verifies; Malformed or Signature with why otherwise.
std::pair<TpmCheck, std::string> check_tpm_signature(const TpmPublic& key, base::ByteView signature,
                                                     base::ByteView data, std::uint16_t fallback_hash,
                                                     const std::string& what, const std::string& key_name) {
  const std::size_t width = key.spki_der.size() > 100 ? 48 : 32;  // P-384 SPKI is 120 octets, P-256 91
  auto ecdsa_alg = [](std::uint16_t h) {
    return h == TPM2_ALG_SHA384 ? base::SignatureAlgorithm::EcdsaSha384 : base::SignatureAlgorithm::EcdsaSha256;
  };
  auto rsa_alg = [](std::uint16_t h) {
    return h == TPM2_ALG_SHA384 ? base::SignatureAlgorithm::RsaPkcs1Sha384 : base::SignatureAlgorithm::RsaPkcs1Sha256;
  };
  base::SignatureAlgorithm alg{};
  base::Bytes raw;
  TPMT_SIGNATURE sig{};
  std::size_t off = 0;
  const bool tpmt =
      Tss2_MU_TPMT_SIGNATURE_Unmarshal(signature.data(), signature.size(), &off, &sig) == TSS2_RC_SUCCESS &&
      off == signature.size();
  if (!tpmt) {
    if (fallback_hash == 0) return {TpmCheck::Malformed, "the " + what + " signature is not a TPMT_SIGNATURE"};
    if (key.is_rsa) {
      raw.assign(signature.begin(), signature.end());
      alg = rsa_alg(fallback_hash);
    } else {
      auto r = base::ecdsa_der_to_raw(signature, width);
      if (!r.ok()) {
        return {TpmCheck::Malformed,
                "the " + what + " signature is neither a TPMT_SIGNATURE nor a DER ECDSA signature"};
      }
      raw = std::move(r).value();
      alg = ecdsa_alg(fallback_hash);
    }
  } else if (sig.sigAlg == TPM2_ALG_ECDSA && !key.is_rsa) {
    const auto& e = sig.signature.ecdsa;
    if (e.signatureR.size > width || e.signatureS.size > width) {
      return {TpmCheck::Signature, "the " + what + " ECDSA signature does not fit the key's curve"};
    }
    raw.assign(2 * width, 0);
    std::copy(e.signatureR.buffer, e.signatureR.buffer + e.signatureR.size, raw.begin() + (width - e.signatureR.size));
    std::copy(e.signatureS.buffer, e.signatureS.buffer + e.signatureS.size,
              raw.begin() + width + (width - e.signatureS.size));
    if (e.hash != TPM2_ALG_SHA256 && e.hash != TPM2_ALG_SHA384) {
      return {TpmCheck::Signature, "the " + what + " ECDSA signature's hash is not SHA-256 or SHA-384"};
    }
    alg = ecdsa_alg(e.hash);
  } else if (sig.sigAlg == TPM2_ALG_RSASSA && key.is_rsa) {
    const auto& r = sig.signature.rsassa;
    raw.assign(r.sig.buffer, r.sig.buffer + r.sig.size);
    if (r.hash != TPM2_ALG_SHA256 && r.hash != TPM2_ALG_SHA384) {
      return {TpmCheck::Signature, "the " + what + " RSASSA signature's hash is not SHA-256 or SHA-384"};
    }
    alg = rsa_alg(r.hash);
  } else {
    return {TpmCheck::Signature, "the " + what + " signature scheme 0x" + std::to_string(sig.sigAlg) +
                                     " is not ECDSA or RSASSA for the key's type"};
  }
  if (!base::verify_signature(key.spki_der, alg, data, raw).ok()) {
    return {TpmCheck::Signature, "the " + what + " signature does not verify with the " + key_name};
  }
  return {TpmCheck::Ok, ""};
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
  if (auto [check, why] = check_tpm_signature(*iak, ev.certify_signature, body, 0, "certify", "IAK");
      check != TpmCheck::Ok) {
    return fail(check,
                why + (check == TpmCheck::Signature ? " (signed by another key, or the TPMS_ATTEST was altered)" : ""));
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
  if (auto aki = ek_cert->authority_key_identifier()) ok.ek_aki = *aki;
  ok.tpm_manufacturer = tpm_manufacturer_of(ek_cert.value());
  return ok;
}

base::Result<TpmEvidence> tcg_csr_evidence(const TcgCsrIdevid& csr, const std::vector<base::Bytes>& ek_intermediates) {
  TpmEvidence ev;
  ev.ek_certificate = csr.ek_cert;
  ev.ek_intermediates = ek_intermediates;
  ev.iak_public = csr.attest_pub;
  ev.idevid_public = csr.signing_pub;
  ev.certify_info = csr.sgn_certify_info;
  ev.certify_signature = csr.sgn_certify_info_signature;
  if (csr.sgn_certify_info.empty()) return ev;  // the IAK-only flow: verify_tcg_csr refuses it
  const auto body = attest_body(csr.sgn_certify_info);
  TPMS_ATTEST attest{};
  std::size_t off = 0;
  if (Tss2_MU_TPMS_ATTEST_Unmarshal(body.data(), body.size(), &off, &attest) != TSS2_RC_SUCCESS || off != body.size()) {
    return make_error(ErrorCode::Malformed, "sgnCertifyInfo is not a TPM2B_ATTEST or TPMS_ATTEST");
  }
  ev.nonce.assign(attest.extraData.buffer, attest.extraData.buffer + attest.extraData.size);
  return ev;
}

base::Result<base::Bytes> standard_ek_public(base::ByteView ek_spki) {
  HM_TRY(auto key, base::decode_public_key(ek_spki));
  TPMT_PUBLIC pub{};
  const int bits = EVP_PKEY_get_bits(key.get());
  const bool high = bits == 3072 || bits == 384;
  pub.nameAlg = high ? TPM2_ALG_SHA384 : TPM2_ALG_SHA256;
  pub.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
                         TPMA_OBJECT_ADMINWITHPOLICY | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT;
  if (!high) {
    // PolicySecret(TPM_RH_ENDORSEMENT), the low-range templates' authPolicy (TCG EK
    // Credential Profile). MakeCredential does not use the EK's Name, only its key,
    // nameAlg and symmetric algorithm.
    static constexpr std::uint8_t kPolicy[32] = {0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xB3, 0xF8, 0x1A, 0x90, 0xCC,
                                                 0x8D, 0x46, 0xA5, 0xD7, 0x24, 0xFD, 0x52, 0xD7, 0x6E, 0x06, 0x52,
                                                 0x0B, 0x64, 0xF2, 0xA1, 0xDA, 0x1B, 0x33, 0x14, 0x69, 0xAA};
    pub.authPolicy.size = sizeof(kPolicy);
    std::copy(std::begin(kPolicy), std::end(kPolicy), pub.authPolicy.buffer);
  }
  TPMT_SYM_DEF_OBJECT sym{};
  sym.algorithm = TPM2_ALG_AES;
  sym.keyBits.aes = high ? 256 : 128;
  sym.mode.aes = TPM2_ALG_CFB;
  if (EVP_PKEY_get_base_id(key.get()) == EVP_PKEY_RSA) {
    if (bits != 2048 && bits != 3072) return make_error(ErrorCode::Unsupported, "the RSA EK is not 2048 or 3072 bits");
    BIGNUM* n = nullptr;
    if (EVP_PKEY_get_bn_param(key.get(), OSSL_PKEY_PARAM_RSA_N, &n) != 1) {
      return make_error(ErrorCode::Malformed, "the RSA EK has no modulus");
    }
    std::unique_ptr<BIGNUM, BnDeleter> owned(n);
    pub.type = TPM2_ALG_RSA;
    pub.parameters.rsaDetail.symmetric = sym;
    pub.parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
    pub.parameters.rsaDetail.keyBits = static_cast<UINT16>(bits);
    pub.parameters.rsaDetail.exponent = 0;
    pub.unique.rsa.size = static_cast<UINT16>(bits / 8);
    if (BN_bn2binpad(n, pub.unique.rsa.buffer, bits / 8) != bits / 8) {
      return make_error(ErrorCode::Malformed, "the RSA EK modulus does not fit");
    }
  } else if (EVP_PKEY_get_base_id(key.get()) == EVP_PKEY_EC && (bits == 256 || bits == 384)) {
    const std::size_t w = static_cast<std::size_t>(bits / 8);
    base::Bytes point(1 + 2 * w);
    std::size_t len = 0;
    if (EVP_PKEY_get_octet_string_param(key.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size(), &len) != 1 ||
        len != point.size() || point[0] != 0x04) {
      return make_error(ErrorCode::Malformed, "the ECC EK point is not an uncompressed point");
    }
    pub.type = TPM2_ALG_ECC;
    auto& ecc = pub.parameters.eccDetail;
    ecc.symmetric = sym;
    ecc.scheme.scheme = TPM2_ALG_NULL;
    ecc.curveID = bits == 256 ? TPM2_ECC_NIST_P256 : TPM2_ECC_NIST_P384;
    ecc.kdf.scheme = TPM2_ALG_NULL;
    pub.unique.ecc.x.size = static_cast<UINT16>(w);
    std::copy(point.begin() + 1, point.begin() + 1 + static_cast<std::ptrdiff_t>(w), pub.unique.ecc.x.buffer);
    pub.unique.ecc.y.size = static_cast<UINT16>(w);
    std::copy(point.begin() + 1 + static_cast<std::ptrdiff_t>(w), point.end(), pub.unique.ecc.y.buffer);
  } else {
    return make_error(ErrorCode::Unsupported, "the EK is not RSA 2048/3072 or ECC P-256/P-384");
  }
  base::Bytes out(sizeof(TPMT_PUBLIC));
  std::size_t off = 0;
  if (Tss2_MU_TPMT_PUBLIC_Marshal(&pub, out.data(), out.size(), &off) != TSS2_RC_SUCCESS) {
    return make_error(ErrorCode::Internal, "marshal the EK template");
  }
  out.resize(off);
  return out;
}

base::Result<base::Bytes> tpmt_ecdsa_signature(base::ByteView raw, std::uint16_t hash_alg) {
  if (raw.empty() || raw.size() % 2 != 0 || raw.size() / 2 > sizeof(TPM2B_ECC_PARAMETER{}.buffer)) {
    return make_error(ErrorCode::InvalidArgument, "not a raw r||s ECDSA signature");
  }
  const std::size_t w = raw.size() / 2;
  TPMT_SIGNATURE sig{};
  sig.sigAlg = TPM2_ALG_ECDSA;
  sig.signature.ecdsa.hash = hash_alg;
  sig.signature.ecdsa.signatureR.size = static_cast<UINT16>(w);
  std::copy(raw.begin(), raw.begin() + static_cast<std::ptrdiff_t>(w), sig.signature.ecdsa.signatureR.buffer);
  sig.signature.ecdsa.signatureS.size = static_cast<UINT16>(w);
  std::copy(raw.begin() + static_cast<std::ptrdiff_t>(w), raw.end(), sig.signature.ecdsa.signatureS.buffer);
  base::Bytes out(sizeof(TPMT_SIGNATURE));
  std::size_t off = 0;
  if (Tss2_MU_TPMT_SIGNATURE_Marshal(&sig, out.data(), out.size(), &off) != TSS2_RC_SUCCESS) {
    return make_error(ErrorCode::Internal, "marshal TPMT_SIGNATURE");
  }
  out.resize(off);
  return out;
}

TpmVerdict TpmAttestationVerifier::verify_tcg_csr(const TcgCsrIdevid& csr, base::ByteView contents,
                                                  const std::vector<base::Bytes>& ek_intermediates) const {
  // TCG DevID §6.1.2: in the IAK-only flow the request carries no IDevID and the
  // IAK (restricted: it signs only digests the TPM hashed itself) signs it.
  if (csr.signing_pub.empty() || csr.sgn_certify_info.empty() || csr.sgn_certify_info_signature.empty()) {
    return fail(TpmCheck::IakOnly,
                "the TCG-CSR-IDEVID carries no signingPub / sgnCertifyInfo (the IAK-only flow, TCG DevID §6.1.2): "
                "this station supports the single-pass flow (§6.2.2) only");
  }
  auto ev = tcg_csr_evidence(csr, ek_intermediates);
  if (!ev.ok()) return fail(TpmCheck::Malformed, ev.error().detail);
  if (ev->nonce.size() != kTpmNonceSize) {
    return fail(TpmCheck::Nonce,
                "sgnCertifyInfo's extraData is not a " + std::to_string(kTpmNonceSize) + "-octet station nonce");
  }
  auto verdict = verify(ev.value(), {});
  if (!verdict.ok()) return verdict;
  // standards.md §1.5 step 1: the request's signature, by signingPub in the single-pass flow.
  auto idevid = decode_tpm_public(csr.signing_pub);
  if (!idevid.ok()) return fail(TpmCheck::Malformed, "signingPub: " + idevid.error().detail);
  const auto hash = static_cast<std::uint16_t>(csr.hash_alg);
  auto [check, why] = check_tpm_signature(*idevid, csr.signature, contents, hash, "TCG-CSR-IDEVID", "IDevID key");
  if (check == TpmCheck::Ok) return verdict;
  if (auto iak = decode_tpm_public(csr.attest_pub); iak.ok()) {
    if (check_tpm_signature(*iak, csr.signature, contents, hash, "TCG-CSR-IDEVID", "IAK").first == TpmCheck::Ok) {
      return fail(TpmCheck::IakOnly,
                  "the TCG-CSR-IDEVID is signed by the IAK (the IAK-only flow, TCG DevID §6.1.2): this station "
                  "supports the single-pass flow (§6.2.2, signed by the IDevID key) only");
    }
  }
  // An undecodable signature is as much a bad outer signature as a wrong one: one reason code.
  return fail(TpmCheck::CsrSignature,
              why + (check == TpmCheck::Signature ? " (csrContents altered, or signed by another key)" : ""));
}

}  // namespace hallmark::attest
