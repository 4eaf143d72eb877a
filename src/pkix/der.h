// A small DER (X.690) writer and strict reader for the structures pkix encodes
// itself (TBSCertificate, CertificationRequestInfo, extension values, names).
// Only the single-octet tag form is supported: every tag PKIX uses fits in it.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "base/clock.h"
#include "base/result.h"

namespace hallmark::pkix::der {

// Universal tags (X.680 §8.4) as they appear in the identifier octet.
inline constexpr std::uint8_t kBoolean = 0x01;
inline constexpr std::uint8_t kInteger = 0x02;
inline constexpr std::uint8_t kBitString = 0x03;
inline constexpr std::uint8_t kOctetString = 0x04;
inline constexpr std::uint8_t kNull = 0x05;
inline constexpr std::uint8_t kOid = 0x06;
inline constexpr std::uint8_t kUtf8String = 0x0C;
inline constexpr std::uint8_t kNumericString = 0x12;
inline constexpr std::uint8_t kPrintableString = 0x13;
inline constexpr std::uint8_t kTeletexString = 0x14;
inline constexpr std::uint8_t kIa5String = 0x16;
inline constexpr std::uint8_t kUtcTime = 0x17;
inline constexpr std::uint8_t kGeneralizedTime = 0x18;
inline constexpr std::uint8_t kVisibleString = 0x1A;
inline constexpr std::uint8_t kUniversalString = 0x1C;
inline constexpr std::uint8_t kBmpString = 0x1E;
inline constexpr std::uint8_t kSequence = 0x30;
inline constexpr std::uint8_t kSet = 0x31;

// Context-specific tag [n]; `constructed` for EXPLICIT tags and IMPLICIT
// tagging of constructed types.
constexpr std::uint8_t context_tag(unsigned n, bool constructed) {
  return static_cast<std::uint8_t>(0x80 | (constructed ? 0x20 : 0x00) | (n & 0x1F));
}

// ---------------------------------------------------------------------------
// Writer: each function returns one complete TLV.

base::Bytes tlv(std::uint8_t tag, base::ByteView content);
// The parts concatenated (no header).
base::Bytes concat(std::initializer_list<base::ByteView> parts);
base::Bytes sequence(std::initializer_list<base::ByteView> parts);
// SET OF with its elements sorted by their encodings, as DER requires (X.690 §11.6).
base::Bytes set_of(std::vector<base::Bytes> elements);
// [n] EXPLICIT wrapper around one complete TLV.
base::Bytes explicit_tag(unsigned n, base::ByteView inner);

base::Bytes boolean(bool value);
base::Bytes null();
base::Bytes integer(std::int64_t value);
// A non-negative INTEGER from its big-endian magnitude: leading zero octets are
// dropped and one 0x00 is added when the high bit is set (X.690 §8.3.2).
base::Bytes unsigned_integer(base::ByteView magnitude);
base::Bytes octet_string(base::ByteView value);
// BIT STRING whose first content octet is `unused_bits` (0–7).
base::Bytes bit_string(base::ByteView bits, std::uint8_t unused_bits = 0);
base::Bytes utf8_string(std::string_view value);
base::Bytes printable_string(std::string_view value);
base::Bytes ia5_string(std::string_view value);
// InvalidArgument when `dotted` is not a valid OID ("1.2.840.10045.2.1").
base::Result<base::Bytes> oid(std::string_view dotted);
// RFC 5280 §4.1.2.5: UTCTime for 1950–2049, GeneralizedTime otherwise.
// InvalidArgument for years after 9999 or before 0.
base::Result<base::Bytes> time(base::TimePoint t);
base::Bytes utc_time(base::TimePoint t);          // YYMMDDHHMMSSZ (caller checks the range)
base::Bytes generalized_time(base::TimePoint t);  // YYYYMMDDHHMMSSZ

// Character-set checks used before choosing a string type.
bool is_printable_string(std::string_view value);  // X.680 §41.4 PrintableString repertoire
bool is_ia5_string(std::string_view value);        // 7-bit ASCII
bool is_valid_utf8(std::string_view value);

// ---------------------------------------------------------------------------
// Reader: strict DER — definite, minimal lengths; single-octet tags.

struct Header {
  std::uint8_t tag = 0;
  std::size_t header_size = 0;   // identifier + length octets
  std::size_t content_size = 0;  // as the length octets say (may exceed the data)
};

// Identifier and length octets at the start of `data`. Malformed when they are
// cut short (detail mentions "truncated"), use the high-tag-number form, the
// indefinite form or a non-minimal length.
base::Result<Header> read_header(base::ByteView data);

struct Tlv {
  std::uint8_t tag = 0;
  base::ByteView content;  // value octets
  base::ByteView encoded;  // identifier + length + value octets
  bool constructed() const { return (tag & 0x20) != 0; }
};

class Reader {
 public:
  // `what` names the enclosing structure in error messages.
  explicit Reader(base::ByteView data, std::string_view what = "DER") : m_data(data), m_what(what) {}

  bool at_end() const { return m_pos >= m_data.size(); }
  std::optional<std::uint8_t> peek_tag() const;
  bool next_is(std::uint8_t tag) const { return peek_tag() == tag; }

  base::Result<Tlv> read_any();
  // Malformed "<what>: expected <field> …" when the next element is missing or has another tag.
  base::Result<Tlv> read(std::uint8_t tag, std::string_view field);
  // The next element when it has `tag`, else nullopt (nothing consumed).
  base::Result<std::optional<Tlv>> read_optional(std::uint8_t tag);
  // Malformed when elements remain.
  base::Status expect_end() const;

 private:
  base::ByteView m_data;
  std::string m_what;
  std::size_t m_pos = 0;
};

// `data` as exactly one element with `tag` and nothing after it.
base::Result<Tlv> parse_single(base::ByteView data, std::uint8_t tag, std::string_view what);

// Content decoders (Malformed, naming `what`, when not DER).
base::Result<std::string> decode_oid(base::ByteView content);
base::Result<bool> decode_boolean(base::ByteView content, std::string_view what);
// An INTEGER that must fit in int64 and be minimally encoded.
base::Result<std::int64_t> decode_integer(base::ByteView content, std::string_view what);
// Checks the minimal two's-complement encoding of an INTEGER of any size.
base::Status check_integer(base::ByteView content, std::string_view what);
// UTCTime (YYMMDDHHMMSSZ, RFC 5280 §4.1.2.5.1 pivot: YY < 50 is 20YY) or
// GeneralizedTime (YYYYMMDDHHMMSSZ), the only forms RFC 5280 allows.
base::Result<base::TimePoint> decode_time(const Tlv& tlv);

// The OID TLV for a dotted constant known to be valid (oid.h). A bad constant
// is a programmer error: it asserts in debug builds and yields an empty buffer.
base::Bytes oid_constant(std::string_view dotted);

}  // namespace hallmark::pkix::der
