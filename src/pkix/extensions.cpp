#include "pkix/extensions.h"

#include <arpa/inet.h>

#include <algorithm>

#include "pkix/der.h"
#include "pkix/oid.h"

namespace hallmark::pkix {

using base::Bytes;
using base::ByteView;
using base::ErrorCode;
using base::make_error;

namespace {

// GeneralName tags (RFC 5280 §4.2.1.6), IMPLICIT unless noted.
constexpr std::uint8_t kOtherName = der::context_tag(0, true);
constexpr std::uint8_t kRfc822Name = der::context_tag(1, false);
constexpr std::uint8_t kDnsName = der::context_tag(2, false);
constexpr std::uint8_t kX400Address = der::context_tag(3, true);
constexpr std::uint8_t kDirectoryName = der::context_tag(4, true);  // EXPLICIT (CHOICE)
constexpr std::uint8_t kEdiPartyName = der::context_tag(5, true);
constexpr std::uint8_t kUri = der::context_tag(6, false);
constexpr std::uint8_t kIpAddress = der::context_tag(7, false);
constexpr std::uint8_t kRegisteredId = der::context_tag(8, false);

constexpr std::uint8_t kKeyIdentifier = der::context_tag(0, false);  // AKI [0] IMPLICIT

base::Error malformed(std::string detail) {
  return make_error(ErrorCode::Malformed, std::move(detail));
}

// An encoder that hits an invalid OID yields an extension with an empty value:
// encode_tbs_certificate refuses it with a message naming the extension.
Extension make(const char* oid, bool critical, Bytes value) {
  return Extension{oid, critical, std::move(value)};
}

base::Result<std::string> ip_to_text(ByteView octets) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (octets.size() == 4) {
    if (inet_ntop(AF_INET, octets.data(), buf, sizeof buf) == nullptr) return malformed("bad IPv4");
  } else if (octets.size() == 16) {
    if (inet_ntop(AF_INET6, octets.data(), buf, sizeof buf) == nullptr) return malformed("bad IPv6");
  } else {
    return malformed("subjectAltName: iPAddress must be 4 or 16 octets, found " + std::to_string(octets.size()));
  }
  return std::string(buf);
}

base::Result<Bytes> ip_from_text(const std::string& text) {
  Bytes out(16);
  if (inet_pton(AF_INET, text.c_str(), out.data()) == 1) {
    out.resize(4);
    return out;
  }
  if (inet_pton(AF_INET6, text.c_str(), out.data()) == 1) return out;
  return make_error(ErrorCode::InvalidArgument, "subjectAltName: '" + text + "' is not an IPv4 or IPv6 address");
}

// RFC 4108 §5: HardwareModuleName ::= SEQUENCE { hwType OID, hwSerialNum OCTET STRING },
// and RFC 5280 §4.2.1.6 otherName ::= SEQUENCE { type-id OID, value [0] EXPLICIT ANY }.
base::Result<HardwareModuleName> decode_hardware_module_name(const der::Tlv& value_field) {
  if (value_field.tag != der::context_tag(0, true)) {
    return malformed(
        "HardwareModuleName otherName value lacks the [0] EXPLICIT wrapper (RFC 5280 §4.2.1.6, "
        "RFC 4108 §5)");
  }
  der::Reader wrapper(value_field.content, "HardwareModuleName [0]");
  if (!wrapper.next_is(der::kSequence)) {
    return malformed(
        "HardwareModuleName otherName value lacks the [0] EXPLICIT wrapper around its SEQUENCE "
        "(RFC 4108 §5)");
  }
  HM_TRY(der::Tlv seq, wrapper.read(der::kSequence, "HardwareModuleName"));
  HM_CHECK(wrapper.expect_end());
  der::Reader fields(seq.content, "HardwareModuleName");
  HM_TRY(der::Tlv hw_type, fields.read(der::kOid, "hwType OBJECT IDENTIFIER"));
  if (!fields.next_is(der::kOctetString)) {
    return malformed("HardwareModuleName hwSerialNum is not an OCTET STRING (RFC 4108 §5)");
  }
  HM_TRY(der::Tlv serial, fields.read(der::kOctetString, "hwSerialNum"));
  HM_CHECK(fields.expect_end());
  HardwareModuleName out;
  HM_TRY(out.hw_type, der::decode_oid(hw_type.content));
  out.hw_serial.assign(serial.content.begin(), serial.content.end());
  return out;
}

base::Result<std::string> ia5_text(const der::Tlv& t, std::string_view what) {
  const std::string s = base::to_string(t.content);
  if (!der::is_ia5_string(s)) {
    return malformed("subjectAltName: " + std::string(what) + " is not an IA5String");
  }
  return s;
}

}  // namespace

namespace ext {

Extension basic_constraints(bool ca, std::optional<int> path_len, bool critical) {
  // RFC 5280 §4.2.1.9; cA is DEFAULT FALSE, so DER omits it when false.
  Bytes content;
  if (ca) content = der::boolean(true);
  if (path_len) content = der::concat({content, der::integer(*path_len)});
  return make(oid::kBasicConstraints, critical, der::tlv(der::kSequence, content));
}

Extension key_usage(std::uint16_t bits, bool critical) {
  // RFC 5280 §4.2.1.3 numbers bits from the most significant bit of the first
  // octet. DER (X.690 §11.2.2) drops trailing zero bits from a named bit list.
  int highest = -1;
  for (int i = 0; i < 9; ++i) {
    if ((bits & (1u << i)) != 0) highest = i;
  }
  Bytes octets(static_cast<std::size_t>(highest / 8 + 1), 0);
  if (highest < 0) octets.clear();
  for (int i = 0; i <= highest; ++i) {
    if ((bits & (1u << i)) != 0) octets[static_cast<std::size_t>(i / 8)] |= 0x80 >> (i % 8);
  }
  const auto unused = static_cast<std::uint8_t>(highest < 0 ? 0 : 7 - highest % 8);
  return make(oid::kKeyUsage, critical, der::bit_string(octets, unused));
}

Extension ext_key_usage(const std::vector<std::string>& oids, bool critical) {
  Bytes content;
  for (const auto& o : oids) {
    auto encoded = der::oid(o);
    if (!encoded.ok()) return make(oid::kExtKeyUsage, critical, {});
    content.insert(content.end(), encoded->begin(), encoded->end());
  }
  return make(oid::kExtKeyUsage, critical, der::tlv(der::kSequence, content));
}

Extension subject_key_identifier(ByteView key_id) {
  return make(oid::kSubjectKeyIdentifier, false, der::octet_string(key_id));
}

Extension authority_key_identifier(ByteView key_id) {
  // RFC 5280 §4.2.1.1: AuthorityKeyIdentifier ::= SEQUENCE { keyIdentifier [0] IMPLICIT ... }
  return make(oid::kAuthorityKeyIdentifier, false, der::sequence({der::tlv(kKeyIdentifier, key_id)}));
}

base::Result<Extension> subject_alt_name(const SubjectAltNames& names, bool critical) {
  // GeneralNames in tag order: otherName [0], dNSName [2], URI [6], iPAddress [7].
  Bytes content;
  auto append = [&content](const Bytes& b) { content.insert(content.end(), b.begin(), b.end()); };
  for (const auto& hw : names.hardware_modules) {
    auto hw_type = der::oid(hw.hw_type);
    if (!hw_type.ok()) return hw_type.take_error();
    const Bytes module = der::sequence({hw_type.value(), der::octet_string(hw.hw_serial)});
    append(
        der::tlv(kOtherName, der::concat({der::oid_constant(oid::kHardwareModuleName), der::explicit_tag(0, module)})));
  }
  for (const auto& dns : names.dns) {
    if (dns.empty() || !der::is_ia5_string(dns)) {
      return make_error(ErrorCode::InvalidArgument, "subjectAltName: DNS name '" + dns + "' must be non-empty ASCII");
    }
    append(der::tlv(kDnsName, base::view(dns)));
  }
  for (const auto& uri : names.uri) {
    if (uri.empty() || !der::is_ia5_string(uri)) {
      return make_error(ErrorCode::InvalidArgument, "subjectAltName: URI '" + uri + "' must be non-empty ASCII");
    }
    append(der::tlv(kUri, base::view(uri)));
  }
  for (const auto& ip : names.ip) {
    HM_TRY(Bytes octets, ip_from_text(ip));
    append(der::tlv(kIpAddress, octets));
  }
  if (content.empty()) {
    return make_error(ErrorCode::InvalidArgument, "subjectAltName needs at least one name (RFC 5280 §4.2.1.6)");
  }
  return make(oid::kSubjectAltName, critical, der::tlv(der::kSequence, content));
}

}  // namespace ext

// Extension ::= SEQUENCE { extnID OID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }
// (RFC 5280 §4.1); DER omits a FALSE critical flag (X.690 §11.5).
base::Result<Bytes> encode_extensions(const std::vector<Extension>& extensions) {
  if (extensions.empty()) {
    return make_error(ErrorCode::InvalidArgument, "Extensions must hold at least one extension");
  }
  std::vector<std::string_view> seen;
  Bytes list;
  for (const auto& e : extensions) {
    auto id = der::oid(e.oid);
    if (!id.ok()) return make_error(ErrorCode::InvalidArgument, "extension OID: " + id.error().detail);
    if (std::find(seen.begin(), seen.end(), e.oid) != seen.end()) {
      return make_error(ErrorCode::InvalidArgument, "extension " + e.oid + " appears twice (RFC 5280 §4.2)");
    }
    seen.push_back(e.oid);
    // An encoder that met an invalid input leaves the value empty (see make()).
    der::Reader value(e.value, "extension value");
    if (e.value.empty() || !value.read_any().ok() || !value.expect_end().ok()) {
      return make_error(ErrorCode::InvalidArgument, "extension " + e.oid + " value is not one DER element");
    }
    const Bytes critical = e.critical ? der::boolean(true) : Bytes{};
    const Bytes ext = der::sequence({id.value(), critical, der::octet_string(e.value)});
    list.insert(list.end(), ext.begin(), ext.end());
  }
  return der::tlv(der::kSequence, list);
}

base::Result<std::vector<Extension>> decode_extensions(ByteView der) {
  HM_TRY(der::Tlv seq, der::parse_single(der, der::kSequence, "Extensions"));
  der::Reader r(seq.content, "Extensions");
  std::vector<Extension> out;
  while (!r.at_end()) {
    HM_TRY(der::Tlv ext, r.read(der::kSequence, "Extension"));
    der::Reader f(ext.content, "Extension");
    HM_TRY(der::Tlv id, f.read(der::kOid, "extnID"));
    HM_TRY(auto critical, f.read_optional(der::kBoolean));
    HM_TRY(der::Tlv value, f.read(der::kOctetString, "extnValue"));
    HM_CHECK(f.expect_end());
    Extension e;
    HM_TRY(e.oid, der::decode_oid(id.content));
    if (critical) {
      HM_TRY(e.critical, der::decode_boolean(critical->content, "Extension critical"));
    }
    e.value.assign(value.content.begin(), value.content.end());
    out.push_back(std::move(e));
  }
  return out;
}

base::Result<BasicConstraints> decode_basic_constraints(ByteView value) {
  HM_TRY(der::Tlv seq, der::parse_single(value, der::kSequence, "basicConstraints"));
  der::Reader r(seq.content, "basicConstraints");
  BasicConstraints out;
  HM_TRY(auto ca, r.read_optional(der::kBoolean));
  if (ca) {
    HM_TRY(out.ca, der::decode_boolean(ca->content, "basicConstraints cA"));
    if (!out.ca) {
      return malformed("basicConstraints: cA FALSE must be omitted in DER (DEFAULT FALSE)");
    }
  }
  HM_TRY(auto path_len, r.read_optional(der::kInteger));
  if (path_len) {
    HM_TRY(std::int64_t n, der::decode_integer(path_len->content, "basicConstraints pathLen"));
    if (n < 0 || n > 0x7FFFFFFF) return malformed("basicConstraints: pathLenConstraint is out of range");
    out.path_len = static_cast<int>(n);
  }
  HM_CHECK(r.expect_end());
  return out;
}

base::Result<std::uint16_t> decode_key_usage(ByteView value) {
  HM_TRY(der::Tlv bits, der::parse_single(value, der::kBitString, "keyUsage"));
  if (bits.content.empty()) return malformed("keyUsage: BIT STRING has no unused-bits octet");
  const std::uint8_t unused = bits.content[0];
  const ByteView octets = bits.content.subspan(1);
  if (unused > 7 || (octets.empty() && unused != 0)) {
    return malformed("keyUsage: invalid unused-bits count");
  }
  if (octets.size() > 2) return malformed("keyUsage: more bits than RFC 5280 §4.2.1.3 defines");
  if (!octets.empty()) {
    const std::uint8_t last = octets.back();
    if ((last & ((1u << unused) - 1)) != 0) return malformed("keyUsage: unused bits are not zero");
    // X.690 §11.2.2: no trailing zero bits in a named bit list.
    if ((last & (1u << unused)) == 0) {
      return malformed("keyUsage: BIT STRING is not minimally encoded (X.690 §11.2.2)");
    }
  }
  std::uint32_t out = 0;
  for (std::size_t i = 0; i < octets.size() * 8; ++i) {
    if ((octets[i / 8] & (0x80 >> (i % 8))) != 0) {
      if (i > 8) return malformed("keyUsage: bit " + std::to_string(i) + " is not defined");
      out |= 1u << i;
    }
  }
  return static_cast<std::uint16_t>(out);
}

base::Result<std::vector<std::string>> decode_ext_key_usage(ByteView value) {
  HM_TRY(der::Tlv seq, der::parse_single(value, der::kSequence, "extKeyUsage"));
  der::Reader r(seq.content, "extKeyUsage");
  std::vector<std::string> out;
  while (!r.at_end()) {
    HM_TRY(der::Tlv o, r.read(der::kOid, "KeyPurposeId"));
    HM_TRY(std::string dotted, der::decode_oid(o.content));
    out.push_back(std::move(dotted));
  }
  if (out.empty()) return malformed("extKeyUsage is empty (RFC 5280 §4.2.1.12: SIZE (1..MAX))");
  return out;
}

base::Result<Bytes> decode_subject_key_identifier(ByteView value) {
  HM_TRY(der::Tlv o, der::parse_single(value, der::kOctetString, "subjectKeyIdentifier"));
  if (o.content.empty()) return malformed("subjectKeyIdentifier is empty");
  return Bytes(o.content.begin(), o.content.end());
}

base::Result<Bytes> decode_authority_key_identifier(ByteView value) {
  HM_TRY(der::Tlv seq, der::parse_single(value, der::kSequence, "authorityKeyIdentifier"));
  der::Reader r(seq.content, "authorityKeyIdentifier");
  HM_TRY(auto key_id, r.read_optional(kKeyIdentifier));
  // authorityCertIssuer [1] and authorityCertSerialNumber [2] go together.
  HM_TRY(auto issuer, r.read_optional(der::context_tag(1, true)));
  HM_TRY(auto serial, r.read_optional(der::context_tag(2, false)));
  HM_CHECK(r.expect_end());
  if (issuer.has_value() != serial.has_value()) {
    return malformed(
        "authorityKeyIdentifier: authorityCertIssuer and authorityCertSerialNumber must both be "
        "present or both absent (RFC 5280 §4.2.1.1)");
  }
  if (!key_id) {
    return make_error(ErrorCode::NotFound, "authorityKeyIdentifier has no keyIdentifier");
  }
  if (key_id->content.empty()) return malformed("authorityKeyIdentifier: keyIdentifier is empty");
  return Bytes(key_id->content.begin(), key_id->content.end());
}

base::Result<SubjectAltNames> decode_subject_alt_name(ByteView value) {
  HM_TRY(der::Tlv seq, der::parse_single(value, der::kSequence, "subjectAltName"));
  der::Reader r(seq.content, "subjectAltName");
  SubjectAltNames out;
  if (r.at_end()) return malformed("subjectAltName is empty (RFC 5280 §4.2.1.6: SIZE (1..MAX))");
  while (!r.at_end()) {
    HM_TRY(der::Tlv name, r.read_any());
    switch (name.tag) {
      case kOtherName: {
        der::Reader fields(name.content, "otherName");
        HM_TRY(der::Tlv type, fields.read(der::kOid, "type-id"));
        HM_TRY(der::Tlv value_field, fields.read_any());
        HM_CHECK(fields.expect_end());
        HM_TRY(std::string type_id, der::decode_oid(type.content));
        if (type_id == oid::kHardwareModuleName) {
          HM_TRY(HardwareModuleName hw, decode_hardware_module_name(value_field));
          out.hardware_modules.push_back(std::move(hw));
        } else if (value_field.tag != der::context_tag(0, true)) {
          return malformed("otherName " + type_id + " value lacks the [0] EXPLICIT wrapper (RFC 5280 §4.2.1.6)");
        }
        out.other_name_types.push_back(std::move(type_id));
        break;
      }
      case kDnsName: {
        HM_TRY(std::string dns, ia5_text(name, "dNSName"));
        out.dns.push_back(std::move(dns));
        break;
      }
      case kUri: {
        HM_TRY(std::string uri, ia5_text(name, "uniformResourceIdentifier"));
        out.uri.push_back(std::move(uri));
        break;
      }
      case kIpAddress: {
        HM_TRY(std::string ip, ip_to_text(name.content));
        out.ip.push_back(std::move(ip));
        break;
      }
      case kRfc822Name:
      case kX400Address:
      case kDirectoryName:
      case kEdiPartyName:
      case kRegisteredId:
        break;  // valid GeneralNames that SubjectAltNames does not carry
      default:
        return malformed("subjectAltName: unknown GeneralName tag " + std::to_string(name.tag));
    }
  }
  return out;
}

}  // namespace hallmark::pkix
