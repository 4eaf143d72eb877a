#include "pkix/name.h"

#include "pkix/der.h"
#include "pkix/oid.h"

namespace hallmark::pkix {

using base::Bytes;
using base::ByteView;
using base::ErrorCode;
using base::make_error;

namespace {

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// Code units of `width` octets, big-endian, as UTF-8 (BMPString: 2, UniversalString: 4).
base::Result<std::string> wide_to_utf8(ByteView content, std::size_t width) {
  if (content.size() % width != 0) {
    return make_error(ErrorCode::Malformed, "Name attribute: wide string has a partial character");
  }
  std::string out;
  for (std::size_t i = 0; i < content.size(); i += width) {
    std::uint32_t cp = 0;
    for (std::size_t k = 0; k < width; ++k) cp = (cp << 8) | content[i + k];
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return make_error(ErrorCode::Malformed, "Name attribute: invalid character in wide string");
    }
    append_utf8(out, cp);
  }
  return out;
}

// DirectoryString and the other attribute syntaxes as UTF-8. Values that are
// not strings are kept as RFC 4514 §2.4 "#" + hex of their encoding.
base::Result<std::string> attribute_value_to_string(const der::Tlv& value) {
  switch (value.tag) {
    case der::kUtf8String:
    case der::kPrintableString:
    case der::kIa5String:
    case der::kNumericString:
    case der::kVisibleString:
      return base::to_string(value.content);
    case der::kTeletexString: {
      // T.61 in practice carries Latin-1.
      std::string out;
      for (auto b : value.content) append_utf8(out, b);
      return out;
    }
    case der::kBmpString:
      return wide_to_utf8(value.content, 2);
    case der::kUniversalString:
      return wide_to_utf8(value.content, 4);
    default:
      return "#" + base::hex_encode(value.encoded);
  }
}

std::string_view short_name(std::string_view oid) {
  if (oid == oid::kCommonName) return "CN";
  if (oid == oid::kCountry) return "C";
  if (oid == oid::kOrganization) return "O";
  if (oid == oid::kOrganizationalUnit) return "OU";
  if (oid == oid::kSerialNumber) return "serialNumber";
  if (oid == "2.5.4.7") return "L";
  if (oid == "2.5.4.8") return "ST";
  return oid;
}

// RFC 4514 §2.4 escaping, so that "O=IOT-R-US, Inc." stays unambiguous.
std::string escape_value(std::string_view v) {
  std::string out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    const char c = v[i];
    const bool special = std::string_view(",+\"\\<>;").find(c) != std::string_view::npos;
    const bool edge_space = c == ' ' && (i == 0 || i + 1 == v.size());
    if (special || edge_space) out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

}  // namespace

base::Result<Name> Name::from_der(ByteView der) {
  HM_TRY(der::Tlv seq, der::parse_single(der, der::kSequence, "Name"));
  Name name;
  der::Reader rdns(seq.content, "Name");
  while (!rdns.at_end()) {
    HM_TRY(der::Tlv rdn, rdns.read(der::kSet, "RelativeDistinguishedName (SET)"));
    if (rdn.content.empty()) {
      return make_error(ErrorCode::Malformed, "Name: a RelativeDistinguishedName is empty");
    }
    der::Reader atvs(rdn.content, "RelativeDistinguishedName");
    while (!atvs.at_end()) {
      HM_TRY(der::Tlv atv, atvs.read(der::kSequence, "AttributeTypeAndValue"));
      der::Reader fields(atv.content, "AttributeTypeAndValue");
      HM_TRY(der::Tlv type, fields.read(der::kOid, "attribute type"));
      HM_TRY(der::Tlv value, fields.read_any());
      HM_CHECK(fields.expect_end());
      NameAttribute attr;
      HM_TRY(attr.oid, der::decode_oid(type.content));
      HM_TRY(attr.value, attribute_value_to_string(value));
      name.m_attributes.push_back(std::move(attr));
    }
  }
  name.m_der.assign(der.begin(), der.end());
  return name;
}

base::Status Name::add(std::string_view oid, std::string value) {
  auto type = der::oid(oid);
  if (!type.ok()) return type.take_error();
  const std::string label(short_name(oid));
  if (value.empty()) {
    return make_error(ErrorCode::InvalidArgument, "name attribute " + label + " has an empty value");
  }
  Bytes encoded_value;
  // X.520: countryName and serialNumber are PrintableString; RFC 5280 §4.1.2.6
  // asks for UTF8String for the DirectoryString attributes.
  if (oid == oid::kSerialNumber || oid == oid::kCountry) {
    if (!der::is_printable_string(value)) {
      return make_error(ErrorCode::InvalidArgument,
                        label + " '" + value +
                            "' has characters a PrintableString cannot hold (use letters, digits, "
                            "space and '()+,-./:=?)");
    }
    if (oid == oid::kCountry && value.size() != 2) {
      return make_error(ErrorCode::InvalidArgument, "country '" + value + "' must be a two-letter ISO 3166 code");
    }
    encoded_value = der::printable_string(value);
  } else {
    if (!der::is_valid_utf8(value)) {
      return make_error(ErrorCode::InvalidArgument, label + " value is not valid UTF-8");
    }
    encoded_value = der::utf8_string(value);
  }
  const Bytes rdn = der::tlv(der::kSet, der::sequence({type.value(), encoded_value}));

  // Keep the octets of a decoded name and append the new RDN after them.
  auto current = der::parse_single(m_der, der::kSequence, "Name");
  if (!current.ok()) return current.take_error();
  m_der = der::sequence({current->content, rdn});
  m_attributes.push_back({std::string(oid), std::move(value)});
  return {};
}

std::optional<std::string> Name::get(std::string_view oid) const {
  for (const auto& a : m_attributes) {
    if (a.oid == oid) return a.value;
  }
  return std::nullopt;
}

std::string Name::to_string() const {
  std::string out;
  for (const auto& a : m_attributes) {
    if (!out.empty()) out += ", ";
    out += std::string(short_name(a.oid)) + "=" + escape_value(a.value);
  }
  return out;
}

}  // namespace hallmark::pkix
