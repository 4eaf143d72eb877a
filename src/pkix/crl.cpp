#include "pkix/crl.h"

#include <algorithm>

#include "pkix/algorithms.h"
#include "pkix/certificate.h"
#include "pkix/der.h"
#include "pkix/extensions.h"
#include "pkix/oid.h"
#include "pkix/tbs_certificate.h"

namespace hallmark::pkix {

using base::Bytes;
using base::ByteView;
using base::ErrorCode;
using base::make_error;

namespace {

constexpr std::uint8_t kEnumerated = 0x0A;

// GeneralName uniformResourceIdentifier [6] IMPLICIT IA5String.
Bytes uri_name(const std::string& uri) {
  return der::tlv(der::context_tag(6, false), base::view(uri));
}

// DistributionPointName fullName [0] inside distributionPoint [0]. RFC 5280's
// module is IMPLICIT, but a tag on a CHOICE is always explicit (X.680 §31.2.7).
Bytes distribution_point_name(const std::string& uri) {
  return der::tlv(der::context_tag(0, true), der::tlv(der::context_tag(0, true), uri_name(uri)));
}

}  // namespace

Bytes crl_distribution_points_value(const std::string& uri) {
  return der::sequence({der::sequence({distribution_point_name(uri)})});
}

Bytes ocsp_access_value(const std::string& uri) {
  return der::sequence({der::sequence({der::oid_constant(oid::kAdOcsp), uri_name(uri)})});
}

base::Result<Bytes> encode_tbs_cert_list(const CrlSpec& spec) {
  if (spec.authority_key_id.empty()) {
    return make_error(ErrorCode::InvalidArgument, "a CRL needs the issuer's key identifier (RFC 5280 §5.2.1)");
  }
  if (spec.crl_number < 1) return make_error(ErrorCode::InvalidArgument, "cRLNumber must be positive");
  if (spec.next_update <= spec.this_update) {
    return make_error(ErrorCode::InvalidArgument, "CRL nextUpdate must be after thisUpdate");
  }
  HM_TRY(Bytes this_update, der::time(spec.this_update));
  HM_TRY(Bytes next_update, der::time(spec.next_update));

  Bytes revoked;
  if (!spec.entries.empty()) {
    Bytes list;
    for (const auto& e : spec.entries) {
      HM_TRY(Bytes date, der::time(e.revocation_date));
      Bytes entry_exts;
      if (e.reason != 0) {
        const Bytes reason = der::tlv(kEnumerated, Bytes{static_cast<std::uint8_t>(e.reason)});
        HM_TRY(entry_exts, encode_extensions({{oid::kReasonCode, false, reason}}));
      }
      const Bytes entry = der::sequence({der::unsigned_integer(e.serial), date, entry_exts});
      list.insert(list.end(), entry.begin(), entry.end());
    }
    revoked = der::tlv(der::kSequence, list);  // omitted when empty (RFC 5280 §5.1.2.6)
  }

  std::vector<Extension> exts;
  exts.push_back(ext::authority_key_identifier(spec.authority_key_id));
  exts.push_back({oid::kCrlNumber, false, der::integer(spec.crl_number)});
  if (!spec.distribution_point.empty() || spec.only_user_certs) {
    // RFC 5280 §5.2.5: critical; never an empty SEQUENCE.
    Bytes idp_content;
    if (!spec.distribution_point.empty()) idp_content = distribution_point_name(spec.distribution_point);
    if (spec.only_user_certs) {
      const Bytes flag = der::tlv(der::context_tag(1, false), Bytes{0xFF});
      idp_content.insert(idp_content.end(), flag.begin(), flag.end());
    }
    exts.push_back({oid::kIssuingDistributionPoint, true, der::tlv(der::kSequence, idp_content)});
  }
  HM_TRY(Bytes ext_list, encode_extensions(exts));

  return der::sequence({
      der::integer(1),  // v2
      algorithm_identifier_der(spec.signature_algorithm),
      spec.issuer.der(),
      this_update,
      next_update,
      revoked,
      der::explicit_tag(0, ext_list),
  });
}

base::Result<Bytes> assemble_crl(ByteView tbs_der, base::SignatureAlgorithm alg, ByteView raw_signature) {
  if (raw_signature.empty()) return make_error(ErrorCode::InvalidArgument, "signature is empty");
  Bytes signature(raw_signature.begin(), raw_signature.end());
  if (is_ecdsa(alg)) {
    HM_TRY(signature, base::ecdsa_raw_to_der(raw_signature));
  }
  return der::sequence({tbs_der, algorithm_identifier_der(alg), der::bit_string(signature)});
}

base::Result<CrlInfo> verify_crl(ByteView data, const Certificate& issuer) {
  HM_TRY(der::Tlv outer, der::parse_single(data, der::kSequence, "CertificateList"));
  der::Reader r(outer.content, "CertificateList");
  HM_TRY(der::Tlv tbs, r.read(der::kSequence, "tbsCertList"));
  HM_TRY(der::Tlv alg_tlv, r.read(der::kSequence, "signatureAlgorithm"));
  HM_TRY(der::Tlv sig, r.read(der::kBitString, "signatureValue"));
  HM_CHECK(r.expect_end());
  der::Reader t(tbs.content, "TBSCertList");
  HM_TRY(der::Tlv version, t.read(der::kInteger, "version"));
  (void)version;
  HM_TRY(der::Tlv inner_alg, t.read(der::kSequence, "signature"));
  if (!std::equal(inner_alg.encoded.begin(), inner_alg.encoded.end(), alg_tlv.encoded.begin(), alg_tlv.encoded.end())) {
    return make_error(ErrorCode::Malformed,
                      "CRL signatureAlgorithm differs from TBSCertList.signature (RFC 5280 §5.1.1.2)");
  }
  HM_TRY(der::Tlv name, t.read(der::kSequence, "issuer"));
  const Name subject = issuer.subject();
  if (!std::equal(name.encoded.begin(), name.encoded.end(), subject.der().begin(), subject.der().end())) {
    return make_error(ErrorCode::BadSignature, "the CRL is not issued by " + subject.to_string());
  }
  HM_TRY(der::Tlv this_update, t.read_any());
  HM_TRY(der::Tlv next_update, t.read_any());
  CrlInfo info;
  HM_TRY(info.this_update, der::decode_time(this_update));
  HM_TRY(info.next_update, der::decode_time(next_update));
  HM_TRY(auto parsed, parse_algorithm_identifier(alg_tlv.encoded, "CRL signatureAlgorithm"));
  HM_TRY(auto alg, accepted_signature_algorithm(parsed, "CRL"));
  if (sig.content.size() <= 1 || sig.content[0] != 0) return make_error(ErrorCode::Malformed, "CRL signature is empty");
  HM_TRY(auto key, issuer.public_key());
  auto ok = verify_encoded_signature(key, alg, tbs.encoded, sig.content.subspan(1));
  if (!ok.ok()) return make_error(ErrorCode::BadSignature, "the CRL signature does not verify with the issuer's key");
  return info;
}

}  // namespace hallmark::pkix
