#include "pkix/tbs_certificate.h"

#include <algorithm>

#include "pkix/algorithms.h"
#include "pkix/der.h"

namespace hallmark::pkix {

using base::Bytes;
using base::ByteView;
using base::ErrorCode;
using base::make_error;
using base::SignatureAlgorithm;

namespace {

constexpr std::size_t kMaxSerialOctets = 20;  // RFC 5280 §4.1.2.2

base::Error invalid(std::string detail) {
  return make_error(ErrorCode::InvalidArgument, std::move(detail));
}

// A structural check only: the CA may certify keys the linter then refuses,
// and it is the linter's job to say why.
base::Status check_spki(ByteView spki) {
  if (spki.empty()) return invalid("the subject public key (SubjectPublicKeyInfo) is empty");
  auto outer = der::parse_single(spki, der::kSequence, "SubjectPublicKeyInfo");
  if (!outer.ok()) return invalid("subject public key is not DER: " + outer.error().detail);
  der::Reader r(outer->content, "SubjectPublicKeyInfo");
  auto alg = r.read(der::kSequence, "AlgorithmIdentifier");
  if (!alg.ok()) return invalid(alg.error().detail);
  auto bits = r.read(der::kBitString, "subjectPublicKey");
  if (!bits.ok()) return invalid(bits.error().detail);
  auto end = r.expect_end();
  if (!end.ok()) return invalid(end.error().detail);
  return {};
}

}  // namespace

Bytes algorithm_identifier_der(SignatureAlgorithm alg) {
  const Bytes id = der::oid_constant(signature_algorithm_oid(alg));
  const bool rsa = alg == SignatureAlgorithm::RsaPkcs1Sha256 || alg == SignatureAlgorithm::RsaPkcs1Sha384;
  return rsa ? der::sequence({id, der::null()}) : der::sequence({id});
}

base::Result<Bytes> encode_tbs_certificate(const TbsCertificateSpec& spec) {
  if (spec.serial.empty()) return invalid("certificate serial number is empty");
  const Bytes serial = der::unsigned_integer(spec.serial);
  const std::size_t serial_octets = serial.size() - 2;  // short-form header: tag + length
  if (serial_octets > kMaxSerialOctets) {
    return invalid("certificate serial number is " + std::to_string(serial_octets) +
                   " octets once encoded; RFC 5280 §4.1.2.2 allows at most 20");
  }
  HM_CHECK(check_spki(spec.subject_public_key_info));

  if (!spec.no_expiry && spec.not_before > spec.not_after) {
    return invalid("certificate notBefore is after notAfter");
  }
  HM_TRY(Bytes not_before, der::time(spec.not_before));
  Bytes not_after;
  if (spec.no_expiry) {
    // RFC 5280 §4.1.2.5: "no well-defined expiration date".
    not_after = der::tlv(der::kGeneralizedTime, base::view("99991231235959Z"));
  } else {
    HM_TRY(not_after, der::time(spec.not_after));
  }

  Bytes extensions;
  if (!spec.extensions.empty()) {
    HM_TRY(Bytes list, encode_extensions(spec.extensions));
    extensions = der::explicit_tag(3, list);  // RFC 5280 §4.1: [3] EXPLICIT, v3 only
  }
  return der::sequence({
      der::explicit_tag(0, der::integer(2)),  // version v3
      serial,
      algorithm_identifier_der(spec.signature_algorithm),
      spec.issuer.der(),
      der::sequence({not_before, not_after}),
      spec.subject.der(),
      spec.subject_public_key_info,
      extensions,
  });
}

base::Result<Certificate> assemble_certificate(ByteView tbs_der, SignatureAlgorithm alg, ByteView raw_signature) {
  auto tbs_alg = tbs_signature_field(tbs_der);
  if (!tbs_alg.ok()) return invalid(tbs_alg.error().detail);

  // RFC 5280 §4.1.1.2: signatureAlgorithm MUST be identical to TBSCertificate.signature.
  const Bytes alg_id = algorithm_identifier_der(alg);
  if (!std::equal(alg_id.begin(), alg_id.end(), tbs_alg->begin(), tbs_alg->end())) {
    return invalid("the TBSCertificate's signature algorithm differs from " + std::string(base::to_string(alg)) +
                   " (RFC 5280 §4.1.1.2)");
  }
  if (raw_signature.empty()) return invalid("signature is empty");
  Bytes signature(raw_signature.begin(), raw_signature.end());
  if (is_ecdsa(alg)) {
    auto converted = base::ecdsa_raw_to_der(raw_signature);
    if (!converted.ok()) return invalid("ECDSA signature: " + converted.error().detail);
    signature = std::move(converted).value();
  }
  const Bytes cert = der::sequence({tbs_der, alg_id, der::bit_string(signature)});
  return Certificate::parse(cert);
}

}  // namespace hallmark::pkix
