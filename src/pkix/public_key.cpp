#include "pkix/public_key.h"

#include <openssl/objects.h>

#include "pkix/der.h"
#include "pkix/oid.h"
#include "pkix/ossl.h"

namespace hallmark::pkix {

using base::Bytes;
using base::ByteView;
using base::ErrorCode;
using base::KeyAlgorithm;
using base::make_error;

namespace {

struct SpkiParts {
  std::string algorithm;               // dotted OID
  std::optional<der::Tlv> parameters;  // absent for Ed25519
  ByteView key_bits;                   // subjectPublicKey without the unused-bits octet
};

// SubjectPublicKeyInfo ::= SEQUENCE { algorithm AlgorithmIdentifier,
//                                     subjectPublicKey BIT STRING }  (RFC 5280 §4.1.2.7)
base::Result<SpkiParts> parse_spki(ByteView der) {
  HM_TRY(der::Tlv spki, der::parse_single(der, der::kSequence, "SubjectPublicKeyInfo"));
  der::Reader r(spki.content, "SubjectPublicKeyInfo");
  HM_TRY(der::Tlv alg, r.read(der::kSequence, "AlgorithmIdentifier"));
  HM_TRY(der::Tlv bits, r.read(der::kBitString, "subjectPublicKey BIT STRING"));
  HM_CHECK(r.expect_end());

  SpkiParts parts;
  der::Reader a(alg.content, "AlgorithmIdentifier");
  HM_TRY(der::Tlv oid_tlv, a.read(der::kOid, "algorithm OID"));
  HM_TRY(parts.algorithm, der::decode_oid(oid_tlv.content));
  if (!a.at_end()) {
    HM_TRY(der::Tlv params, a.read_any());
    parts.parameters = params;
  }
  HM_CHECK(a.expect_end());
  // Every key encoding in use is a whole number of octets.
  if (bits.content.empty() || bits.content[0] != 0) {
    return make_error(ErrorCode::Malformed, "SubjectPublicKeyInfo: subjectPublicKey must have 0 unused bits");
  }
  parts.key_bits = bits.content.subspan(1);
  return parts;
}

// A readable name for an OID OpenSSL knows ("secp256k1", "X25519"), else the OID.
std::string oid_name(const std::string& dotted) {
  const int nid = OBJ_txt2nid(dotted.c_str());
  const char* sn = nid == NID_undef ? nullptr : OBJ_nid2sn(nid);
  return sn != nullptr ? std::string(sn) + " (" + dotted + ")" : dotted;
}

base::Result<ossl::PkeyPtr> decode_pkey(ByteView der) {
  return base::decode_public_key(der);
}

}  // namespace

base::Result<PublicKey> PublicKey::from_spki_der(ByteView der) {
  auto parts = parse_spki(der);
  if (!parts.ok()) {
    return make_error(ErrorCode::Malformed, "public key is not a DER SubjectPublicKeyInfo: " + parts.error().detail);
  }
  // The key types we certify must also decode in OpenSSL (a point on the curve,
  // a well-formed RSA modulus). Others, and EC keys with explicit parameters,
  // are kept so that algorithm() can say precisely why they are refused rather
  // than calling a key OpenSSL 3.0 does not know (e.g. ML-DSA) malformed.
  const bool named_ec =
      parts->algorithm == oid::kEcPublicKey && parts->parameters && parts->parameters->tag == der::kOid;
  PublicKey out;
  if (named_ec || parts->algorithm == oid::kRsaEncryption || parts->algorithm == oid::kEd25519) {
    HM_TRY(auto key, decode_pkey(der));
    out.m_key = std::shared_ptr<EVP_PKEY>(key.release(), EVP_PKEY_free);
  }
  out.m_spki.assign(der.begin(), der.end());
  return out;
}

base::Result<KeyAlgorithm> PublicKey::algorithm() const {
  return spki_algorithm(m_spki);
}

base::Result<KeyAlgorithm> spki_algorithm(ByteView spki) {
  HM_TRY(SpkiParts parts, parse_spki(spki));
  if (parts.algorithm == oid::kEcPublicKey) {
    // RFC 5480 §2.1.1: ECParameters ::= CHOICE { namedCurve OID, implicitCurve NULL,
    // specifiedCurve SEQUENCE }; RFC 5480 forbids the last two in certificates.
    if (!parts.parameters || parts.parameters->tag != der::kOid) {
      const bool explicit_params = parts.parameters && parts.parameters->tag == der::kSequence;
      return make_error(ErrorCode::Unsupported,
                        std::string("EC key ") +
                            (explicit_params ? "uses explicit EC parameters" : "has no named curve") +
                            "; use a named curve (P-256 or P-384, RFC 5480 §2.1.1)");
    }
    HM_TRY(std::string curve, der::decode_oid(parts.parameters->content));
    if (curve == oid::kSecp256r1) return KeyAlgorithm::EcP256;
    if (curve == oid::kSecp384r1) return KeyAlgorithm::EcP384;
    return make_error(ErrorCode::Unsupported,
                      "EC key on curve " + oid_name(curve) + " is not supported; use P-256 or P-384");
  }
  if (parts.algorithm == oid::kRsaEncryption) {
    HM_TRY(auto key, decode_pkey(spki));
    const int bits = EVP_PKEY_get_bits(key.get());
    if (bits < 2048) {
      return make_error(ErrorCode::Unsupported, "RSA-" + std::to_string(bits) +
                                                    " key is too short: RSA keys must be at least "
                                                    "2048 bits");
    }
    if (bits == 2048) return KeyAlgorithm::Rsa2048;
    if (bits == 3072) return KeyAlgorithm::Rsa3072;
    if (bits == 4096) return KeyAlgorithm::Rsa4096;
    return make_error(ErrorCode::Unsupported, "RSA-" + std::to_string(bits) +
                                                  " keys are not supported; use 2048, 3072 or "
                                                  "4096 bits");
  }
  if (parts.algorithm == oid::kEd25519) {
    if (parts.parameters) {  // RFC 8410 §3: parameters MUST be absent
      return make_error(ErrorCode::Malformed, "Ed25519 key has AlgorithmIdentifier parameters");
    }
    return KeyAlgorithm::Ed25519;
  }
  return make_error(ErrorCode::Unsupported, "public key type " + oid_name(parts.algorithm) +
                                                " is not supported; use EC P-256, EC P-384, RSA (2048 bits or more) or "
                                                "Ed25519");
}

base::Result<Bytes> spki_key_identifier(ByteView spki) {
  HM_TRY(SpkiParts parts, parse_spki(spki));
  return base::sha1(parts.key_bits);
}

Bytes PublicKey::key_identifier() const {
  auto parts = parse_spki(m_spki);
  if (!parts.ok()) return {};
  return base::sha1(parts->key_bits);
}

Bytes PublicKey::fingerprint() const {
  return base::sha256(m_spki);
}

base::Status PublicKey::verify(base::SignatureAlgorithm alg, ByteView message, ByteView raw_signature) const {
  return base::verify_signature(m_spki, alg, message, raw_signature);
}

}  // namespace hallmark::pkix
