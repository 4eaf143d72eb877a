#include "pkix/ocsp.h"

#include <set>
#include <string>

#include "pkix/algorithms.h"
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

base::Error malformed(const std::string& detail) {
  return make_error(ErrorCode::Malformed, "OCSP request: " + detail);
}

// The value of the subjectPublicKey BIT STRING (without the unused-bits octet),
// which CertID.issuerKeyHash covers (RFC 6960 §4.1.1).
base::Result<ByteView> key_bits(ByteView spki) {
  HM_TRY(der::Tlv outer, der::parse_single(spki, der::kSequence, "SubjectPublicKeyInfo"));
  der::Reader r(outer.content, "SubjectPublicKeyInfo");
  HM_TRY(der::Tlv alg, r.read(der::kSequence, "AlgorithmIdentifier"));
  (void)alg;
  HM_TRY(der::Tlv bits, r.read(der::kBitString, "subjectPublicKey"));
  if (bits.content.empty()) return make_error(ErrorCode::Malformed, "subjectPublicKey is empty");
  return bits.content.subspan(1);
}

std::string serial_hex(ByteView content, bool& negative) {
  negative = !content.empty() && (content[0] & 0x80) != 0;
  std::size_t start = 0;
  while (start + 1 < content.size() && content[start] == 0) ++start;
  return base::hex_encode_upper(content.subspan(start));
}

base::Result<OcspCertId> decode_cert_id(const der::Tlv& tlv) {
  OcspCertId id;
  id.encoded.assign(tlv.encoded.begin(), tlv.encoded.end());
  der::Reader r(tlv.content, "OCSP CertID");
  HM_TRY(der::Tlv alg_tlv, r.read(der::kSequence, "hashAlgorithm"));
  HM_TRY(auto alg, parse_algorithm_identifier(alg_tlv.encoded, "CertID hashAlgorithm"));
  if (!alg.params_absent && !(alg.params.size() == 2 && alg.params[0] == der::kNull)) {
    return malformed("CertID hashAlgorithm parameters must be absent or NULL");
  }
  std::size_t width = 0;
  if (alg.oid == oid::kSha1) {
    id.hash = OcspHash::Sha1;
    width = 20;
  } else if (alg.oid == oid::kSha256) {
    id.hash = OcspHash::Sha256;
    width = 32;
  } else {
    return make_error(ErrorCode::Unsupported, "OCSP request: CertID hash " + alg.oid + " (SHA-1 or SHA-256 only)");
  }
  HM_TRY(der::Tlv name_hash, r.read(der::kOctetString, "issuerNameHash"));
  HM_TRY(der::Tlv key_hash, r.read(der::kOctetString, "issuerKeyHash"));
  HM_TRY(der::Tlv serial, r.read(der::kInteger, "serialNumber"));
  HM_CHECK(r.expect_end());
  if (name_hash.content.size() != width || key_hash.content.size() != width) {
    return malformed("CertID hash lengths do not match the hash algorithm");
  }
  HM_CHECK(der::check_integer(serial.content, "CertID serialNumber"));
  if (serial.content.size() > 21) return malformed("CertID serialNumber is longer than 20 octets");
  id.issuer_name_hash.assign(name_hash.content.begin(), name_hash.content.end());
  id.issuer_key_hash.assign(key_hash.content.begin(), key_hash.content.end());
  id.serial_hex = serial_hex(serial.content, id.serial_negative);
  return id;
}

// The nonce octets from an Extensions list, if it has one (RFC 9654 §2.1:
// extnValue holds an OCTET STRING of 1..128 octets). Each extension appears
// at most once (which of two nonces would be echoed?), and a critical one we
// do not know is not ignored.
base::Result<std::optional<Bytes>> find_nonce(ByteView extensions_der) {
  HM_TRY(auto exts, decode_extensions(extensions_der));
  std::set<std::string> seen;
  for (const auto& e : exts) {
    if (!seen.insert(e.oid).second) return malformed("request extension " + e.oid + " appears more than once");
    if (e.critical && e.oid != oid::kOcspNonce) return malformed("unknown critical request extension " + e.oid);
  }
  for (const auto& e : exts) {
    if (e.oid != oid::kOcspNonce) continue;
    HM_TRY(der::Tlv inner, der::parse_single(e.value, der::kOctetString, "OCSP nonce"));
    if (inner.content.empty() || inner.content.size() > kMaxOcspNonce) {
      return malformed("nonce must be 1 to 128 octets (RFC 9654), got " + std::to_string(inner.content.size()));
    }
    return std::optional<Bytes>(Bytes(inner.content.begin(), inner.content.end()));
  }
  return std::optional<Bytes>{};
}

}  // namespace

base::Result<OcspRequest> decode_ocsp_request(ByteView data) {
  auto outer = der::parse_single(data, der::kSequence, "OCSPRequest");
  if (!outer.ok()) return malformed(outer.error().detail);
  OcspRequest out;
  auto body = [&]() -> base::Status {
    der::Reader r(outer->content, "OCSPRequest");
    HM_TRY(der::Tlv tbs, r.read(der::kSequence, "tbsRequest"));
    HM_TRY(auto sig, r.read_optional(der::context_tag(0, true)));
    out.has_signature = sig.has_value();
    HM_CHECK(r.expect_end());

    der::Reader t(tbs.content, "TBSRequest");
    HM_TRY(auto version, t.read_optional(der::context_tag(0, true)));
    if (version) {
      HM_TRY(der::Tlv v, der::parse_single(version->content, der::kInteger, "version"));
      HM_TRY(auto n, der::decode_integer(v.content, "version"));
      if (n != 0) return malformed("version must be v1 (0)");
    }
    HM_TRY(auto requestor, t.read_optional(der::context_tag(1, true)));
    (void)requestor;
    HM_TRY(der::Tlv list, t.read(der::kSequence, "requestList"));
    HM_TRY(auto exts, t.read_optional(der::context_tag(2, true)));
    HM_CHECK(t.expect_end());
    if (exts) {
      HM_TRY(out.nonce, find_nonce(exts->content));
    }

    der::Reader l(list.content, "requestList");
    while (!l.at_end()) {
      if (out.ids.size() == kMaxOcspRequestIds) {
        return malformed("more than " + std::to_string(kMaxOcspRequestIds) + " certificates in one request");
      }
      HM_TRY(der::Tlv req, l.read(der::kSequence, "Request"));
      der::Reader q(req.content, "Request");
      HM_TRY(der::Tlv cert_id, q.read(der::kSequence, "reqCert"));
      HM_TRY(auto single, q.read_optional(der::context_tag(0, true)));
      (void)single;
      HM_CHECK(q.expect_end());
      HM_TRY(auto id, decode_cert_id(cert_id));
      out.ids.push_back(std::move(id));
    }
    if (out.ids.empty()) return malformed("requestList is empty");
    return {};
  };
  auto status = body();
  if (!status.ok()) {
    if (status.error().code == ErrorCode::Malformed || status.error().code == ErrorCode::Unsupported) {
      return status.take_error();
    }
    return malformed(status.error().detail);
  }
  return out;
}

bool OcspIssuerKey::matches(const OcspCertId& id) const {
  if (id.hash == OcspHash::Sha1) return id.issuer_name_hash == name_sha1 && id.issuer_key_hash == key_sha1;
  return id.issuer_name_hash == name_sha256 && id.issuer_key_hash == key_sha256;
}

base::Result<OcspIssuerKey> ocsp_issuer_key(const Certificate& issuer) {
  HM_TRY(auto bits, key_bits(issuer.subject_public_key_info()));
  const Name subject = issuer.subject();
  const auto& name = subject.der();
  return OcspIssuerKey{base::sha1(name), base::sha1(bits), base::sha256(name), base::sha256(bits)};
}

Bytes ocsp_error_response(OcspStatus status) {
  return der::sequence({der::tlv(kEnumerated, Bytes{static_cast<std::uint8_t>(status)})});
}

base::Result<Bytes> encode_ocsp_response_data(const OcspResponseSpec& spec) {
  HM_TRY(auto bits, key_bits(spec.responder_spki));
  // responderID byKey [2] KeyHash (RFC 6960 §4.2.1; the module is EXPLICIT).
  const Bytes responder_id = der::explicit_tag(2, der::octet_string(base::sha1(bits)));
  Bytes list;
  for (const auto& s : spec.responses) {
    Bytes status;
    switch (s.kind) {
      case OcspSingleResponse::Kind::Good:
        status = der::tlv(der::context_tag(0, false), {});
        break;
      case OcspSingleResponse::Kind::Unknown:
        status = der::tlv(der::context_tag(2, false), {});
        break;
      case OcspSingleResponse::Kind::Revoked: {
        Bytes info = der::generalized_time(s.revocation_time);
        if (s.reason) {
          const Bytes reason = der::explicit_tag(0, der::tlv(kEnumerated, Bytes{static_cast<std::uint8_t>(*s.reason)}));
          info.insert(info.end(), reason.begin(), reason.end());
        }
        status = der::tlv(der::context_tag(1, true), info);  // [1] IMPLICIT RevokedInfo
        break;
      }
    }
    const Bytes single = der::sequence({s.cert_id, status, der::generalized_time(s.this_update),
                                        der::explicit_tag(0, der::generalized_time(s.next_update))});
    list.insert(list.end(), single.begin(), single.end());
  }
  Bytes extensions;
  if (spec.nonce) {
    HM_TRY(Bytes exts, encode_extensions({{oid::kOcspNonce, false, der::octet_string(*spec.nonce)}}));
    extensions = der::explicit_tag(1, exts);
  }
  return der::sequence(
      {responder_id, der::generalized_time(spec.produced_at), der::tlv(der::kSequence, list), extensions});
}

base::Result<Bytes> assemble_ocsp_response(ByteView response_data, base::SignatureAlgorithm alg, ByteView raw_signature,
                                           const std::vector<Bytes>& certs) {
  if (raw_signature.empty()) return make_error(ErrorCode::InvalidArgument, "signature is empty");
  Bytes signature(raw_signature.begin(), raw_signature.end());
  if (is_ecdsa(alg)) {
    HM_TRY(signature, base::ecdsa_raw_to_der(raw_signature));
  }
  Bytes cert_list;
  for (const auto& c : certs) cert_list.insert(cert_list.end(), c.begin(), c.end());
  const Bytes cert_field = certs.empty() ? Bytes{} : der::explicit_tag(0, der::tlv(der::kSequence, cert_list));
  const Bytes basic =
      der::sequence({response_data, algorithm_identifier_der(alg), der::bit_string(signature), cert_field});
  return der::sequence(
      {der::tlv(kEnumerated, Bytes{0}),
       der::explicit_tag(0, der::sequence({der::oid_constant(oid::kOcspBasic), der::octet_string(basic)}))});
}

}  // namespace hallmark::pkix
