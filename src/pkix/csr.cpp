#include "pkix/csr.h"

#include <algorithm>

#include "pkix/algorithms.h"
#include "pkix/der.h"
#include "pkix/oid.h"
#include "pkix/pem.h"
#include "pkix/tbs_certificate.h"

namespace hallmark::pkix {

using base::Bytes;
using base::ByteView;
using base::ErrorCode;
using base::make_error;

namespace {

constexpr std::size_t kMaxChallengePassword = 255;  // ub-challenge-password, RFC 2985 §5.4.1

base::Error not_a_csr(const std::string& why) {
  return make_error(ErrorCode::Malformed, "not a PKCS#10 CSR: " + why);
}

struct RawCsr {
  der::Tlv info;
  std::int64_t version = 0;
  der::Tlv subject;
  der::Tlv spki;
  std::optional<der::Tlv> attributes;
  der::Tlv signature_alg;
  der::Tlv signature;  // BIT STRING
};

// Size, emptiness and the PEM envelope, in that order; the result is the DER.
base::Result<Bytes> unwrap(ByteView data, std::size_t max_size) {
  if (data.size() > max_size) {
    return make_error(ErrorCode::TooLarge, "CSR is " + std::to_string(data.size()) + " bytes, more than the " +
                                               std::to_string(max_size) + " allowed");
  }
  const bool blank = std::all_of(data.begin(), data.end(),
                                 [](std::uint8_t c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; });
  if (blank) return make_error(ErrorCode::Malformed, "CSR is empty");
  // PEM by content: a BEGIN line at the start, or anywhere in data that cannot
  // be DER, so that text pasted before the block gets the PEM error below.
  const std::string_view text(reinterpret_cast<const char*>(data.data()), data.size());
  const bool pem =
      looks_like_pem(data) || (data[0] != der::kSequence && text.find("-----BEGIN ") != std::string_view::npos);
  if (!pem) return Bytes(data.begin(), data.end());

  // Strict: a request must be exactly one CSR, with nothing around it.
  auto blocks = pem_decode_all(data, {"CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"});
  if (!blocks.ok()) {
    if (blocks.error().code == ErrorCode::NotFound) {
      return not_a_csr("the PEM holds no CERTIFICATE REQUEST block");
    }
    return make_error(ErrorCode::Malformed, "CSR PEM is malformed: " + blocks.error().detail);
  }
  if (blocks->size() != 1) {
    return make_error(ErrorCode::Malformed,
                      "CSR PEM holds " + std::to_string(blocks->size()) + " certificate requests; send exactly one");
  }
  return std::move(blocks->front());
}

// The outer TLV against the input length, so that a cut-off upload says so.
base::Status check_envelope(ByteView der) {
  if (der[0] != der::kSequence) return not_a_csr("the data does not start with a DER SEQUENCE");
  const bool header_cut = der.size() < 2 || ((der[1] & 0x80) != 0 && der.size() < 2u + (der[1] & 0x7F));
  if (header_cut) return make_error(ErrorCode::Malformed, "CSR is truncated: the DER header is cut short");
  auto header = der::read_header(der);
  if (!header.ok()) return not_a_csr(header.error().detail);
  const std::size_t declared = header->header_size + header->content_size;
  if (declared > der.size()) {
    return make_error(ErrorCode::Malformed, "CSR is truncated: the DER declares " + std::to_string(declared) +
                                                " bytes but only " + std::to_string(der.size()) + " are present");
  }
  if (declared < der.size()) {
    return make_error(ErrorCode::Malformed,
                      "CSR is followed by " + std::to_string(der.size() - declared) + " bytes of trailing data");
  }
  return {};
}

// RFC 2986 §4: CertificationRequest ::= SEQUENCE { certificationRequestInfo,
// signatureAlgorithm, signature BIT STRING }; CertificationRequestInfo ::=
// SEQUENCE { version INTEGER, subject Name, subjectPKInfo, attributes [0] }.
base::Result<RawCsr> read_structure(ByteView der) {
  RawCsr csr;
  HM_TRY(der::Tlv outer, der::parse_single(der, der::kSequence, "CertificationRequest"));
  der::Reader r(outer.content, "CertificationRequest");
  HM_TRY(csr.info, r.read(der::kSequence, "certificationRequestInfo"));
  HM_TRY(csr.signature_alg, r.read(der::kSequence, "signatureAlgorithm"));
  HM_TRY(csr.signature, r.read(der::kBitString, "signature"));
  HM_CHECK(r.expect_end());

  der::Reader info(csr.info.content, "CertificationRequestInfo");
  HM_TRY(der::Tlv version, info.read(der::kInteger, "version"));
  HM_TRY(csr.version, der::decode_integer(version.content, "version"));
  HM_TRY(csr.subject, info.read(der::kSequence, "subject Name"));
  HM_TRY(csr.spki, info.read(der::kSequence, "subjectPKInfo"));
  // RFC 2986 makes attributes mandatory (possibly empty); a few constrained
  // encoders drop the empty [0], and nothing depends on its presence.
  HM_TRY(csr.attributes, info.read_optional(der::context_tag(0, true)));
  HM_CHECK(info.expect_end());
  return csr;
}

base::Result<std::string> directory_string(const der::Tlv& t) {
  if (t.tag != der::kUtf8String && t.tag != der::kPrintableString && t.tag != der::kIa5String) {
    return make_error(ErrorCode::Malformed,
                      "challengePassword must be a UTF8String or PrintableString (RFC 2985 §5.4.1)");
  }
  return base::to_string(t.content);
}

// Attribute ::= SEQUENCE { type OID, values SET SIZE (1..MAX) OF ANY } (RFC 2986 §4.1).
base::Status read_attributes(ByteView content, std::vector<Extension>& extensions,
                             std::optional<std::string>& challenge_password,
                             std::optional<KeyEncryptionRequest>& key_encryption) {
  der::Reader r(content, "CSR attributes");
  bool seen_extensions = false;
  while (!r.at_end()) {
    HM_TRY(der::Tlv attr, r.read(der::kSequence, "Attribute"));
    der::Reader a(attr.content, "Attribute");
    HM_TRY(der::Tlv type, a.read(der::kOid, "attribute type"));
    HM_TRY(der::Tlv values, a.read(der::kSet, "attribute values"));
    HM_CHECK(a.expect_end());
    HM_TRY(std::string type_oid, der::decode_oid(type.content));
    const bool is_ext = type_oid == oid::kExtensionRequest;
    const bool is_pwd = type_oid == oid::kChallengePassword;
    const bool is_kek = type_oid == oid::kDecryptKeyId || type_oid == oid::kAsymmetricDecryptKeyId;
    if (!is_ext && !is_pwd && !is_kek) continue;  // other attributes carry nothing we use
    if ((is_ext && seen_extensions) || (is_pwd && challenge_password)) {
      return make_error(ErrorCode::Malformed, "CSR attribute " + type_oid + " appears twice");
    }
    if (is_kek && key_encryption) {
      return make_error(ErrorCode::Malformed,
                        "CSR asks for key encryption twice (DecryptKeyIdentifier / "
                        "AsymmetricDecryptKeyIdentifier)");
    }
    // All are single-valued (RFC 2985 §5.4.1, §5.4.2, RFC 7030 §4.4.1).
    der::Reader v(values.content, "attribute values");
    HM_TRY(der::Tlv value, v.read_any());
    if (!v.at_end()) {
      return make_error(ErrorCode::Malformed, "CSR attribute " + type_oid + " has several values");
    }
    if (is_ext) {
      HM_TRY(extensions, decode_extensions(value.encoded));
      seen_extensions = true;
    } else if (is_kek) {
      // Both identifiers are OCTET STRINGs (RFC 4108 §2.2.5, RFC 7030 §4.4.1.2).
      if (value.tag != der::kOctetString || value.content.empty() || value.content.size() > kMaxKeyIdentifierSize) {
        return make_error(ErrorCode::Malformed, "CSR attribute " + type_oid + " must be an OCTET STRING of 1 to " +
                                                    std::to_string(kMaxKeyIdentifierSize) + " octets");
      }
      key_encryption = KeyEncryptionRequest{type_oid == oid::kDecryptKeyId ? KeyEncryptionRequest::Kind::Symmetric
                                                                           : KeyEncryptionRequest::Kind::Asymmetric,
                                            Bytes(value.content.begin(), value.content.end())};
    } else {
      HM_TRY(std::string password, directory_string(value));
      challenge_password = std::move(password);
    }
  }
  return {};
}

base::Status verify_self_signature(const RawCsr& csr, const PublicKey& key, base::KeyAlgorithm key_alg,
                                   base::SignatureAlgorithm alg) {
  auto bad = [](const std::string& why) {
    return make_error(ErrorCode::BadSignature, "CSR signature does not verify: " + why);
  };
  if (!key_matches_signature(key_alg, alg)) {
    return bad(std::string(base::to_string(alg)) + " cannot be made by a " + std::string(base::to_string(key_alg)) +
               " key");
  }
  if (csr.signature.content.empty() || csr.signature.content[0] != 0) {
    return bad("the signature BIT STRING has unused bits");
  }
  const ByteView sig = csr.signature.content.subspan(1);
  if (!verify_encoded_signature(key, alg, csr.info.encoded, sig).ok()) {
    return bad("the request was altered or not signed by the key it carries");
  }
  return {};
}

}  // namespace

base::Result<Csr> Csr::parse(ByteView data, std::size_t max_size) {
  HM_TRY(Bytes der, unwrap(data, max_size));
  HM_CHECK(check_envelope(der));
  auto structure = read_structure(der);
  if (!structure.ok()) return not_a_csr(structure.error().detail);
  const RawCsr& raw = structure.value();

  Csr csr;
  auto subject = Name::from_der(raw.subject.encoded);
  if (!subject.ok()) return not_a_csr("subject: " + subject.error().detail);
  csr.m_subject = std::move(subject).value();
  if (raw.attributes) {
    auto attrs =
        read_attributes(raw.attributes->content, csr.m_requested, csr.m_challenge_password, csr.m_key_encryption);
    if (!attrs.ok()) return not_a_csr(attrs.error().detail);
  }

  // RFC 2986 §4.1: version is 0 (v1); checked before anything cryptographic.
  if (raw.version != 0) {
    return make_error(ErrorCode::Unsupported,
                      "CSR version is " + std::to_string(raw.version) + "; only version 0 (v1, RFC 2986 §4.1) exists");
  }
  HM_TRY(auto alg_id, parse_algorithm_identifier(raw.signature_alg.encoded, "CSR"));
  HM_TRY(base::SignatureAlgorithm alg, accepted_signature_algorithm(alg_id, "CSR"));

  auto key = PublicKey::from_spki_der(raw.spki.encoded);
  if (!key.ok()) return not_a_csr(key.error().detail);
  HM_TRY(base::KeyAlgorithm key_alg, key->algorithm());
  HM_CHECK(verify_self_signature(raw, key.value(), key_alg, alg));

  csr.m_key = std::move(key).value();
  csr.m_key_algorithm = key_alg;
  csr.m_der = std::move(der);
  return csr;
}

base::Result<Bytes> encode_csr_info(const Name& subject, ByteView spki_der, const std::vector<Extension>& extensions,
                                    const std::optional<std::string>& challenge_password,
                                    const std::optional<KeyEncryptionRequest>& key_encryption) {
  if (spki_der.empty() || !der::parse_single(spki_der, der::kSequence, "SPKI").ok()) {
    return make_error(ErrorCode::InvalidArgument, "CSR public key is not a DER SubjectPublicKeyInfo");
  }
  std::vector<Bytes> attributes;
  if (!extensions.empty()) {
    // RFC 2985 §5.4.2: extensionRequest ::= SET { Extensions }.
    HM_TRY(Bytes list, encode_extensions(extensions));
    attributes.push_back(der::sequence({der::oid_constant(oid::kExtensionRequest), der::set_of({list})}));
  }
  if (challenge_password) {
    const std::string& pwd = *challenge_password;
    if (pwd.empty() || pwd.size() > kMaxChallengePassword) {
      return make_error(ErrorCode::InvalidArgument, "challengePassword must be 1 to 255 characters (RFC 2985 §5.4.1)");
    }
    if (!der::is_valid_utf8(pwd)) {
      return make_error(ErrorCode::InvalidArgument, "challengePassword is not valid UTF-8");
    }
    // PrintableString when it fits (the widest-read form), else UTF8String.
    const Bytes value = der::is_printable_string(pwd) ? der::printable_string(pwd) : der::utf8_string(pwd);
    attributes.push_back(der::sequence({der::oid_constant(oid::kChallengePassword), der::set_of({value})}));
  }
  if (key_encryption) {
    if (key_encryption->key_id.empty() || key_encryption->key_id.size() > kMaxKeyIdentifierSize) {
      return make_error(ErrorCode::InvalidArgument,
                        "key identifier must be 1 to " + std::to_string(kMaxKeyIdentifierSize) + " octets");
    }
    const char* type = key_encryption->kind == KeyEncryptionRequest::Kind::Symmetric ? oid::kDecryptKeyId
                                                                                     : oid::kAsymmetricDecryptKeyId;
    attributes.push_back(
        der::sequence({der::oid_constant(type), der::set_of({der::octet_string(key_encryption->key_id)})}));
  }
  // attributes [0] IMPLICIT SET OF Attribute: the SET's DER ordering applies.
  Bytes attribute_set = der::set_of(std::move(attributes));
  attribute_set[0] = der::context_tag(0, true);
  return der::sequence({der::integer(0), subject.der(), spki_der, attribute_set});
}

base::Result<Bytes> assemble_csr(ByteView info_der, base::SignatureAlgorithm alg, ByteView raw_signature) {
  if (!der::parse_single(info_der, der::kSequence, "CertificationRequestInfo").ok()) {
    return make_error(ErrorCode::InvalidArgument, "CertificationRequestInfo is not one DER SEQUENCE");
  }
  if (raw_signature.empty()) return make_error(ErrorCode::InvalidArgument, "signature is empty");
  Bytes signature(raw_signature.begin(), raw_signature.end());
  if (is_ecdsa(alg)) {
    auto converted = base::ecdsa_raw_to_der(raw_signature);
    if (!converted.ok()) {
      return make_error(ErrorCode::InvalidArgument, "ECDSA signature: " + converted.error().detail);
    }
    signature = std::move(converted).value();
  }
  return der::sequence({info_der, algorithm_identifier_der(alg), der::bit_string(signature)});
}

}  // namespace hallmark::pkix
