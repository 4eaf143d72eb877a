// Name: an X.501 distinguished name as an ordered list of attributes, one per RDN.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"

namespace hallmark::pkix {

struct NameAttribute {
  std::string oid;    // dotted, e.g. "2.5.4.5"
  std::string value;  // UTF-8
  bool operator==(const NameAttribute&) const = default;
};

class Name {
 public:
  Name() = default;
  // Decodes DER Name (multi-valued RDNs are flattened in order).
  static base::Result<Name> from_der(base::ByteView der);

  // Appends one RDN holding one attribute. The string type follows X.520:
  // PrintableString for serialNumber and countryName (InvalidArgument when the
  // value has characters PrintableString cannot hold), UTF8String otherwise.
  base::Status add(std::string_view oid, std::string value);

  const std::vector<NameAttribute>& attributes() const { return m_attributes; }
  std::optional<std::string> get(std::string_view oid) const;  // first match
  bool empty() const { return m_attributes.empty(); }
  // DER encoding (for a decoded name: the original octets).
  const base::Bytes& der() const { return m_der; }
  // "O=Acme Devices, serialNumber=SN-00001000" (short names where known, else the OID).
  std::string to_string() const;

  bool operator==(const Name& other) const { return m_der == other.m_der; }

 private:
  std::vector<NameAttribute> m_attributes;
  base::Bytes m_der = {0x30, 0x00};
};

}  // namespace hallmark::pkix
