#include "pkix/crl.h"

#include "pkix/algorithms.h"
#include "pkix/der.h"
#include "pkix/tbs_certificate.h"

namespace hallmark::pkix {

using base::Bytes;
using base::ErrorCode;
using base::make_error;

namespace {
constexpr char kCrlNumber[] = "2.5.29.20";
constexpr char kAuthorityKeyIdentifierOid[] = "2.5.29.35";

Bytes extension(const char* oid, base::ByteView value) {
  return der::sequence({der::oid_constant(oid), der::octet_string(value)});
}
}  // namespace

base::Result<Bytes> encode_tbs_crl(const CrlSpec& spec) {
  if (spec.issuer_name_der.empty()) return make_error(ErrorCode::InvalidArgument, "a CRL needs its issuer's name");
  if (spec.next_update <= spec.this_update) {
    return make_error(ErrorCode::InvalidArgument, "a CRL's nextUpdate must be later than its thisUpdate");
  }
  HM_TRY(auto this_update, der::time(spec.this_update));
  HM_TRY(auto next_update, der::time(spec.next_update));
  std::vector<Bytes> exts;
  // AuthorityKeyIdentifier ::= SEQUENCE { keyIdentifier [0] IMPLICIT OCTET STRING }
  if (spec.authority_key_id) {
    exts.push_back(extension(kAuthorityKeyIdentifierOid,
                             der::sequence({der::tlv(der::context_tag(0, false), *spec.authority_key_id)})));
  }
  exts.push_back(extension(kCrlNumber, der::integer(static_cast<std::int64_t>(spec.crl_number))));
  Bytes ext_list;
  for (const auto& e : exts) ext_list.insert(ext_list.end(), e.begin(), e.end());
  // revokedCertificates is absent when empty (RFC 5280 §5.1.2.6).
  return der::sequence({der::integer(1), algorithm_identifier_der(spec.signature_algorithm), spec.issuer_name_der,
                        this_update, next_update, der::explicit_tag(0, der::tlv(0x30, ext_list))});
}

base::Result<Bytes> assemble_crl(base::ByteView tbs_der, base::SignatureAlgorithm alg, base::ByteView raw_signature) {
  if (raw_signature.empty()) return make_error(ErrorCode::InvalidArgument, "CRL signature is empty");
  Bytes signature(raw_signature.begin(), raw_signature.end());
  if (is_ecdsa(alg)) {
    HM_TRY(signature, base::ecdsa_raw_to_der(raw_signature));
  }
  // RFC 5280 §5.1.1.2: signatureAlgorithm is the same as TBSCertList.signature.
  return der::sequence({tbs_der, algorithm_identifier_der(alg), der::bit_string(signature)});
}

}  // namespace hallmark::pkix
