// X.509 v3 extension values: encoders the CA uses and decoders the linter and
// verifiers use. Values are the DER inside extnValue.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"

namespace hallmark::pkix {

struct Extension {
  std::string oid;
  bool critical = false;
  base::Bytes value;  // DER of the extension's own type (the content of extnValue)
  bool operator==(const Extension&) const = default;
};

// keyUsage bits, numbered as in RFC 5280 §4.2.1.3.
enum KeyUsage : std::uint16_t {
  kDigitalSignature = 1u << 0,
  kNonRepudiation = 1u << 1,
  kKeyEncipherment = 1u << 2,
  kDataEncipherment = 1u << 3,
  kKeyAgreement = 1u << 4,
  kKeyCertSign = 1u << 5,
  kCrlSign = 1u << 6,
  kEncipherOnly = 1u << 7,
  kDecipherOnly = 1u << 8,
};

struct BasicConstraints {
  bool ca = false;
  std::optional<int> path_len;
};

// RFC 4108 HardwareModuleName ::= SEQUENCE { hwType OID, hwSerialNum OCTET STRING },
// carried as otherName 1.3.6.1.5.5.7.8.4 with the value [0] EXPLICIT.
struct HardwareModuleName {
  std::string hw_type;    // dotted OID
  base::Bytes hw_serial;  // octets
  bool operator==(const HardwareModuleName&) const = default;
};

struct SubjectAltNames {
  std::vector<std::string> dns;
  std::vector<std::string> ip;  // textual IPv4 / IPv6
  std::vector<std::string> uri;
  std::vector<HardwareModuleName> hardware_modules;
  std::vector<std::string> other_name_types;  // decoded only: every otherName type-id seen
  bool empty() const { return dns.empty() && ip.empty() && uri.empty() && hardware_modules.empty(); }
};

namespace ext {
Extension basic_constraints(bool ca, std::optional<int> path_len, bool critical = true);
Extension key_usage(std::uint16_t bits, bool critical = true);
Extension ext_key_usage(const std::vector<std::string>& oids, bool critical = false);
Extension subject_key_identifier(base::ByteView key_id);
Extension authority_key_identifier(base::ByteView key_id);
// InvalidArgument for an IP that does not parse.
base::Result<Extension> subject_alt_name(const SubjectAltNames& names, bool critical = false);
}  // namespace ext

// Extensions ::= SEQUENCE SIZE (1..MAX) OF Extension (RFC 5280 §4.1), the list
// carried by certificates, CSR extensionRequest attributes, CRLs and OCSP.
// Encoding: InvalidArgument for an empty list, an invalid OID, a value that is
// not one DER element, or an OID that appears twice (RFC 5280 §4.2); the
// critical flag is written only when true (DER omits DEFAULT FALSE).
base::Result<base::Bytes> encode_extensions(const std::vector<Extension>& extensions);
// Decoding is lenient only where encoders in the field commonly deviate: an
// empty list and an explicit critical FALSE are accepted.
base::Result<std::vector<Extension>> decode_extensions(base::ByteView der);

// Decoders: Malformed with a precise message when the DER is not what the
// standard says (e.g. a HardwareModuleName without the [0] EXPLICIT wrapper, or
// hwSerialNum that is not an OCTET STRING).
base::Result<BasicConstraints> decode_basic_constraints(base::ByteView value);
base::Result<std::uint16_t> decode_key_usage(base::ByteView value);
base::Result<std::vector<std::string>> decode_ext_key_usage(base::ByteView value);
base::Result<base::Bytes> decode_subject_key_identifier(base::ByteView value);
base::Result<base::Bytes> decode_authority_key_identifier(base::ByteView value);  // keyIdentifier
base::Result<SubjectAltNames> decode_subject_alt_name(base::ByteView value);

}  // namespace hallmark::pkix
