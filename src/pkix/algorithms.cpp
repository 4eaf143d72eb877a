#include "pkix/algorithms.h"

#include <openssl/err.h>

#include "pkix/der.h"
#include "pkix/oid.h"
#include "pkix/ossl.h"

namespace hallmark::pkix {

using base::ErrorCode;
using base::make_error;
using base::SignatureAlgorithm;

base::Result<ParsedAlgorithmIdentifier> parse_algorithm_identifier(base::ByteView der, std::string_view what) {
  const std::string name = std::string(what) + " AlgorithmIdentifier";
  HM_TRY(der::Tlv seq, der::parse_single(der, der::kSequence, name));
  der::Reader r(seq.content, name);
  HM_TRY(der::Tlv oid_tlv, r.read(der::kOid, "algorithm OID"));
  ParsedAlgorithmIdentifier out;
  HM_TRY(out.oid, der::decode_oid(oid_tlv.content));
  if (!r.at_end()) {
    HM_TRY(der::Tlv params, r.read_any());
    out.params_absent = false;
    out.params = params.encoded;
  }
  HM_CHECK(r.expect_end());
  return out;
}

base::Result<base::ByteView> tbs_signature_field(base::ByteView tbs_der) {
  HM_TRY(der::Tlv tbs, der::parse_single(tbs_der, der::kSequence, "TBSCertificate"));
  der::Reader r(tbs.content, "TBSCertificate");
  HM_TRY(auto version, r.read_optional(der::context_tag(0, true)));
  (void)version;
  HM_TRY(der::Tlv serial, r.read(der::kInteger, "serialNumber"));
  (void)serial;
  HM_TRY(der::Tlv alg, r.read(der::kSequence, "signature AlgorithmIdentifier"));
  return alg.encoded;
}

const char* signature_algorithm_oid(SignatureAlgorithm alg) {
  switch (alg) {
    case SignatureAlgorithm::EcdsaSha256:
      return oid::kEcdsaWithSha256;
    case SignatureAlgorithm::EcdsaSha384:
      return oid::kEcdsaWithSha384;
    case SignatureAlgorithm::RsaPkcs1Sha256:
      return oid::kSha256WithRsa;
    case SignatureAlgorithm::RsaPkcs1Sha384:
      return oid::kSha384WithRsa;
    case SignatureAlgorithm::Ed25519:
      return oid::kEd25519;
  }
  return oid::kEcdsaWithSha256;
}

bool is_sha1_signature_oid(std::string_view oid) {
  // sha1WithRSAEncryption, ecdsa-with-SHA1, dsa-with-sha1 (RFC 3279 §2.2) and
  // the OIW sha1WithRSASignature that some old encoders still emit.
  return oid == oid::kSha1WithRsa || oid == oid::kEcdsaWithSha1 || oid == "1.2.840.10040.4.3" || oid == "1.3.14.3.2.29";
}

base::Result<SignatureAlgorithm> accepted_signature_algorithm(const ParsedAlgorithmIdentifier& alg,
                                                              std::string_view what) {
  const std::string w(what);
  if (is_sha1_signature_oid(alg.oid)) {
    return make_error(ErrorCode::Unsupported,
                      w + " is signed with SHA-1, which is no longer accepted; sign with SHA-256 "
                          "or stronger");
  }
  for (auto a : {SignatureAlgorithm::EcdsaSha256, SignatureAlgorithm::EcdsaSha384, SignatureAlgorithm::RsaPkcs1Sha256,
                 SignatureAlgorithm::RsaPkcs1Sha384, SignatureAlgorithm::Ed25519}) {
    if (alg.oid != signature_algorithm_oid(a)) continue;
    const bool rsa = a == SignatureAlgorithm::RsaPkcs1Sha256 || a == SignatureAlgorithm::RsaPkcs1Sha384;
    const bool params_ok =
        alg.params_absent || (rsa && alg.params.size() == 2 && alg.params[0] == der::kNull && alg.params[1] == 0);
    if (!params_ok) {
      return make_error(ErrorCode::Malformed, w + " signature algorithm " + std::string(base::to_string(a)) +
                                                  " has parameters it must not have (" +
                                                  (rsa ? "RFC 4055 §5: NULL" : "RFC 5758 §3.2 / RFC 8410 §3: absent") +
                                                  ")");
    }
    return a;
  }
  return make_error(ErrorCode::Unsupported, w + " signature algorithm " + alg.oid +
                                                " is not supported; use ecdsa-with-SHA256, ecdsa-with-SHA384, "
                                                "sha256WithRSAEncryption, sha384WithRSAEncryption or Ed25519");
}

bool is_ecdsa(SignatureAlgorithm alg) {
  return alg == SignatureAlgorithm::EcdsaSha256 || alg == SignatureAlgorithm::EcdsaSha384;
}

bool key_matches_signature(base::KeyAlgorithm key, SignatureAlgorithm alg) {
  switch (key) {
    case base::KeyAlgorithm::EcP256:
    case base::KeyAlgorithm::EcP384:
      return is_ecdsa(alg);
    case base::KeyAlgorithm::Rsa2048:
    case base::KeyAlgorithm::Rsa3072:
    case base::KeyAlgorithm::Rsa4096:
      return alg == SignatureAlgorithm::RsaPkcs1Sha256 || alg == SignatureAlgorithm::RsaPkcs1Sha384;
    case base::KeyAlgorithm::Ed25519:
      return alg == SignatureAlgorithm::Ed25519;
  }
  return false;
}

base::Status verify_encoded_signature(const PublicKey& key, SignatureAlgorithm alg, base::ByteView message,
                                      base::ByteView signature) {
  // The key imported by PublicKey::from_spki_der, or (for a key built another
  // way) a fresh import.
  std::shared_ptr<EVP_PKEY> pkey = key.m_key;
  if (!pkey) {
    HM_TRY(ossl::PkeyPtr fresh, base::decode_public_key(key.spki_der()));
    pkey = std::shared_ptr<EVP_PKEY>(fresh.release(), EVP_PKEY_free);
  }
  const EVP_MD* md = nullptr;
  switch (alg) {
    case SignatureAlgorithm::EcdsaSha256:
    case SignatureAlgorithm::RsaPkcs1Sha256:
      md = EVP_sha256();
      break;
    case SignatureAlgorithm::EcdsaSha384:
    case SignatureAlgorithm::RsaPkcs1Sha384:
      md = EVP_sha384();
      break;
    case SignatureAlgorithm::Ed25519:
      md = nullptr;
      break;  // PureEdDSA (RFC 8032)
  }
  ossl::MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, md, nullptr, pkey.get()) != 1) {
    return make_error(ErrorCode::BadSignature,
                      "the key cannot verify " + std::string(base::to_string(alg)) + " signatures",
                      base::openssl_error_string());
  }
  // OpenSSL's ECDSA verify also insists that the DER re-encodes identically,
  // so BER or trailing bytes in the signature are refused here.
  if (EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), message.data(), message.size()) != 1) {
    ERR_clear_error();
    return make_error(ErrorCode::BadSignature, "signature does not verify");
  }
  return {};
}

}  // namespace hallmark::pkix
