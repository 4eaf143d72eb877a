#include "pkix/der.h"

#include <algorithm>
#include <cassert>
#include <chrono>
#include <cstdio>
#include <limits>

namespace hallmark::pkix::der {

using base::Bytes;
using base::ByteView;
using base::ErrorCode;
using base::make_error;

namespace {

void append_length(Bytes& out, std::size_t n) {
  if (n < 0x80) {
    out.push_back(static_cast<std::uint8_t>(n));
    return;
  }
  std::uint8_t octets[sizeof(std::size_t)];
  int count = 0;
  for (std::size_t v = n; v != 0; v >>= 8) octets[count++] = static_cast<std::uint8_t>(v & 0xFF);
  out.push_back(static_cast<std::uint8_t>(0x80 | count));
  for (int i = count - 1; i >= 0; --i) out.push_back(octets[i]);
}

std::string hex_tag(std::uint8_t tag) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02X", tag);
  return buf;
}

struct CivilTime {
  int year, month, day, hour, minute, second;
};

CivilTime to_civil(base::TimePoint t) {
  using namespace std::chrono;
  const auto day = floor<days>(t);
  const year_month_day ymd(day);
  const hh_mm_ss hms(t - day);
  return {static_cast<int>(ymd.year()),
          static_cast<int>(static_cast<unsigned>(ymd.month())),
          static_cast<int>(static_cast<unsigned>(ymd.day())),
          static_cast<int>(hms.hours().count()),
          static_cast<int>(hms.minutes().count()),
          static_cast<int>(hms.seconds().count())};
}

Bytes format_time(std::uint8_t tag, base::TimePoint t, bool four_digit_year) {
  const CivilTime c = to_civil(t);
  char buf[32];
  if (four_digit_year) {
    std::snprintf(buf, sizeof buf, "%04d%02d%02d%02d%02d%02dZ", c.year, c.month, c.day, c.hour, c.minute, c.second);
  } else {
    std::snprintf(buf, sizeof buf, "%02d%02d%02d%02d%02d%02dZ", c.year % 100, c.month, c.day, c.hour, c.minute,
                  c.second);
  }
  return tlv(tag, base::view(buf));
}

// Decimal digits at [pos, pos+n) of `s`, or -1.
int digits(std::string_view s, std::size_t pos, std::size_t n) {
  int v = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

}  // namespace

// ---------------------------------------------------------------------------
// Writer

Bytes tlv(std::uint8_t tag, ByteView content) {
  Bytes out;
  out.reserve(content.size() + 6);
  out.push_back(tag);
  append_length(out, content.size());
  out.insert(out.end(), content.begin(), content.end());
  return out;
}

Bytes concat(std::initializer_list<ByteView> parts) {
  Bytes out;
  for (auto p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

Bytes sequence(std::initializer_list<ByteView> parts) {
  return tlv(kSequence, concat(parts));
}

Bytes set_of(std::vector<Bytes> elements) {
  // X.690 §11.6: the encodings compare as octet strings, the shorter one padded
  // with trailing zero octets; lexicographic order is the same thing for TLVs.
  std::sort(elements.begin(), elements.end());
  Bytes content;
  for (const auto& e : elements) content.insert(content.end(), e.begin(), e.end());
  return tlv(kSet, content);
}

Bytes explicit_tag(unsigned n, ByteView inner) {
  return tlv(context_tag(n, true), inner);
}

Bytes boolean(bool value) {
  return {kBoolean, 0x01, static_cast<std::uint8_t>(value ? 0xFF : 0x00)};
}

Bytes null() {
  return {kNull, 0x00};
}

Bytes integer(std::int64_t value) {
  Bytes content;
  // Big-endian two's complement, then drop redundant leading 0x00 / 0xFF octets.
  for (int shift = 56; shift >= 0; shift -= 8) {
    content.push_back(static_cast<std::uint8_t>((static_cast<std::uint64_t>(value) >> shift) & 0xFF));
  }
  std::size_t start = 0;
  while (start + 1 < content.size() && ((content[start] == 0x00 && (content[start + 1] & 0x80) == 0) ||
                                        (content[start] == 0xFF && (content[start + 1] & 0x80) != 0))) {
    ++start;
  }
  return tlv(kInteger, ByteView(content).subspan(start));
}

Bytes unsigned_integer(ByteView magnitude) {
  std::size_t start = 0;
  while (start < magnitude.size() && magnitude[start] == 0) ++start;
  Bytes content;
  if (start == magnitude.size() || (magnitude[start] & 0x80) != 0) content.push_back(0x00);
  content.insert(content.end(), magnitude.begin() + static_cast<std::ptrdiff_t>(start), magnitude.end());
  return tlv(kInteger, content);
}

Bytes octet_string(ByteView value) {
  return tlv(kOctetString, value);
}

Bytes bit_string(ByteView bits, std::uint8_t unused_bits) {
  Bytes content;
  content.reserve(bits.size() + 1);
  content.push_back(unused_bits);
  content.insert(content.end(), bits.begin(), bits.end());
  return tlv(kBitString, content);
}

Bytes utf8_string(std::string_view value) {
  return tlv(kUtf8String, base::view(value));
}
Bytes printable_string(std::string_view value) {
  return tlv(kPrintableString, base::view(value));
}
Bytes ia5_string(std::string_view value) {
  return tlv(kIa5String, base::view(value));
}

base::Result<Bytes> oid(std::string_view dotted) {
  auto invalid = [&] {
    return make_error(ErrorCode::InvalidArgument, "'" + std::string(dotted) + "' is not a valid object identifier");
  };
  std::vector<std::uint64_t> arcs;
  std::size_t pos = 0;
  while (pos <= dotted.size()) {
    const std::size_t dot = std::min(dotted.find('.', pos), dotted.size());
    const std::string_view arc = dotted.substr(pos, dot - pos);
    // Each arc is a non-empty decimal number without leading zeros.
    if (arc.empty() || arc.size() > 19 || (arc.size() > 1 && arc[0] == '0')) return invalid();
    std::uint64_t v = 0;
    for (char c : arc) {
      if (c < '0' || c > '9') return invalid();
      v = v * 10 + static_cast<std::uint64_t>(c - '0');
    }
    arcs.push_back(v);
    pos = dot + 1;
  }
  // X.660: the first arc is 0, 1 or 2; under 0 and 1 the second is below 40.
  if (arcs.size() < 2 || arcs[0] > 2 || (arcs[0] < 2 && arcs[1] >= 40)) return invalid();
  if (arcs[1] > std::numeric_limits<std::uint64_t>::max() - 80) return invalid();

  Bytes content;
  auto put = [&content](std::uint64_t v) {
    std::uint8_t groups[10];
    int n = 0;
    do {
      groups[n++] = static_cast<std::uint8_t>(v & 0x7F);
      v >>= 7;
    } while (v != 0);
    for (int i = n - 1; i >= 0; --i) {
      content.push_back(static_cast<std::uint8_t>(groups[i] | (i > 0 ? 0x80 : 0x00)));
    }
  };
  put(arcs[0] * 40 + arcs[1]);
  for (std::size_t i = 2; i < arcs.size(); ++i) put(arcs[i]);
  return tlv(kOid, content);
}

Bytes oid_constant(std::string_view dotted) {
  auto encoded = oid(dotted);
  assert(encoded.ok() && "invalid OID constant");
  return encoded.ok() ? std::move(encoded).value() : Bytes{};
}

base::Result<Bytes> time(base::TimePoint t) {
  const int year = to_civil(t).year;
  if (year < 0 || year > 9999) {
    return make_error(ErrorCode::InvalidArgument, "time is outside the years 0000-9999 that GeneralizedTime can hold");
  }
  if (year >= 1950 && year <= 2049) return utc_time(t);
  return generalized_time(t);
}

Bytes utc_time(base::TimePoint t) {
  return format_time(kUtcTime, t, false);
}
Bytes generalized_time(base::TimePoint t) {
  return format_time(kGeneralizedTime, t, true);
}

bool is_printable_string(std::string_view value) {
  return std::all_of(value.begin(), value.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           std::string_view(" '()+,-./:=?").find(c) != std::string_view::npos;
  });
}

bool is_ia5_string(std::string_view value) {
  return std::all_of(value.begin(), value.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

bool is_valid_utf8(std::string_view value) {
  std::size_t i = 0;
  while (i < value.size()) {
    const auto c = static_cast<unsigned char>(value[i]);
    std::size_t n = 0;
    std::uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    for (std::size_t k = 1; k <= n; ++k) {
      if (i + k >= value.size()) return false;
      const auto cc = static_cast<unsigned char>(value[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Reject overlong forms, surrogates and code points beyond U+10FFFF.
    static constexpr std::uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n + 1;
  }
  return true;
}

// ---------------------------------------------------------------------------
// Reader

base::Result<Header> read_header(ByteView data) {
  if (data.empty()) return make_error(ErrorCode::Malformed, "DER is truncated: no data");
  Header h;
  h.tag = data[0];
  if ((h.tag & 0x1F) == 0x1F) {
    return make_error(ErrorCode::Malformed, "DER uses a multi-octet tag, which PKIX never needs");
  }
  if (data.size() < 2) return make_error(ErrorCode::Malformed, "DER is truncated: no length");
  const std::uint8_t first = data[1];
  if (first < 0x80) {
    h.header_size = 2;
    h.content_size = first;
    return h;
  }
  if (first == 0x80) {
    return make_error(ErrorCode::Malformed, "DER forbids the indefinite length form (X.690 §10.1)");
  }
  const std::size_t count = first & 0x7F;
  if (count > sizeof(std::uint32_t)) {
    return make_error(ErrorCode::Malformed, "DER length is implausibly large");
  }
  if (data.size() < 2 + count) {
    return make_error(ErrorCode::Malformed, "DER is truncated: length octets are cut short");
  }
  std::size_t len = 0;
  for (std::size_t i = 0; i < count; ++i) len = (len << 8) | data[2 + i];
  // X.690 §10.1: the minimum number of length octets.
  if (data[2] == 0 || len < 0x80) {
    return make_error(ErrorCode::Malformed, "DER length is not minimally encoded");
  }
  h.header_size = 2 + count;
  h.content_size = len;
  return h;
}

std::optional<std::uint8_t> Reader::peek_tag() const {
  if (at_end()) return std::nullopt;
  return m_data[m_pos];
}

base::Result<Tlv> Reader::read_any() {
  if (at_end()) return make_error(ErrorCode::Malformed, m_what + ": unexpected end of data");
  const ByteView rest = m_data.subspan(m_pos);
  auto header = read_header(rest);
  if (!header.ok()) {
    return make_error(ErrorCode::Malformed, m_what + ": " + header.error().detail);
  }
  const Header& h = header.value();
  if (h.content_size > rest.size() - h.header_size) {
    return make_error(ErrorCode::Malformed, m_what + ": DER element is truncated");
  }
  Tlv t;
  t.tag = h.tag;
  t.encoded = rest.subspan(0, h.header_size + h.content_size);
  t.content = rest.subspan(h.header_size, h.content_size);
  m_pos += t.encoded.size();
  return t;
}

base::Result<Tlv> Reader::read(std::uint8_t tag, std::string_view field) {
  const auto next = peek_tag();
  if (!next) {
    return make_error(ErrorCode::Malformed, m_what + ": expected " + std::string(field) + " but the data ends");
  }
  if (*next != tag) {
    return make_error(ErrorCode::Malformed, m_what + ": expected " + std::string(field) + " (tag " + hex_tag(tag) +
                                                "), found tag " + hex_tag(*next));
  }
  return read_any();
}

base::Result<std::optional<Tlv>> Reader::read_optional(std::uint8_t tag) {
  if (!next_is(tag)) return std::optional<Tlv>{};
  HM_TRY(Tlv t, read_any());
  return std::optional<Tlv>(t);
}

base::Status Reader::expect_end() const {
  if (!at_end()) {
    return make_error(ErrorCode::Malformed,
                      m_what + ": unexpected data after the last element (tag " + hex_tag(m_data[m_pos]) + ")");
  }
  return {};
}

base::Result<Tlv> parse_single(ByteView data, std::uint8_t tag, std::string_view what) {
  Reader r(data, what);
  HM_TRY(Tlv t, r.read(tag, what));
  HM_CHECK(r.expect_end());
  return t;
}

base::Result<std::string> decode_oid(ByteView content) {
  if (content.empty()) return make_error(ErrorCode::Malformed, "OBJECT IDENTIFIER is empty");
  if ((content.back() & 0x80) != 0) {
    return make_error(ErrorCode::Malformed, "OBJECT IDENTIFIER is truncated");
  }
  std::string out;
  std::uint64_t v = 0;
  bool first = true;
  bool start = true;
  for (auto b : content) {
    // X.690 §8.19.2: no leading 0x80 octet in a subidentifier.
    if (start && b == 0x80) {
      return make_error(ErrorCode::Malformed, "OBJECT IDENTIFIER is not minimally encoded");
    }
    if (v > (std::numeric_limits<std::uint64_t>::max() >> 7)) {
      return make_error(ErrorCode::Malformed, "OBJECT IDENTIFIER arc is too large");
    }
    v = (v << 7) | (b & 0x7F);
    start = (b & 0x80) == 0;
    if (!start) continue;
    if (first) {
      const std::uint64_t top = v < 40 ? 0 : (v < 80 ? 1 : 2);
      out = std::to_string(top) + "." + std::to_string(v - top * 40);
      first = false;
    } else {
      out += "." + std::to_string(v);
    }
    v = 0;
  }
  return out;
}

base::Result<bool> decode_boolean(ByteView content, std::string_view what) {
  // X.690 §11.1: DER TRUE is 0xFF.
  if (content.size() != 1 || (content[0] != 0x00 && content[0] != 0xFF)) {
    return make_error(ErrorCode::Malformed, std::string(what) + ": BOOLEAN is not DER");
  }
  return content[0] == 0xFF;
}

base::Status check_integer(ByteView content, std::string_view what) {
  if (content.empty()) return make_error(ErrorCode::Malformed, std::string(what) + ": INTEGER is empty");
  if (content.size() > 1 &&
      ((content[0] == 0x00 && (content[1] & 0x80) == 0) || (content[0] == 0xFF && (content[1] & 0x80) != 0))) {
    return make_error(ErrorCode::Malformed, std::string(what) + ": INTEGER is not minimally encoded (X.690 §8.3.2)");
  }
  return {};
}

base::Result<std::int64_t> decode_integer(ByteView content, std::string_view what) {
  HM_CHECK(check_integer(content, what));
  if (content.size() > 8) {
    return make_error(ErrorCode::Malformed, std::string(what) + ": INTEGER is too large");
  }
  std::uint64_t v = (content[0] & 0x80) != 0 ? ~std::uint64_t{0} : 0;
  for (auto b : content) v = (v << 8) | b;
  return static_cast<std::int64_t>(v);
}

base::Result<base::TimePoint> decode_time(const Tlv& tlv) {
  const std::string_view s(reinterpret_cast<const char*>(tlv.content.data()), tlv.content.size());
  int year = 0;
  std::size_t pos = 0;
  if (tlv.tag == kUtcTime) {
    if (s.size() != 13) {
      return make_error(ErrorCode::Malformed, "UTCTime is not in the form YYMMDDHHMMSSZ");
    }
    const int yy = digits(s, 0, 2);
    year = yy < 0 ? -1 : (yy < 50 ? 2000 + yy : 1900 + yy);  // RFC 5280 §4.1.2.5.1
    pos = 2;
  } else if (tlv.tag == kGeneralizedTime) {
    if (s.size() != 15) {
      return make_error(ErrorCode::Malformed, "GeneralizedTime is not in the form YYYYMMDDHHMMSSZ");
    }
    year = digits(s, 0, 4);
    pos = 4;
  } else {
    return make_error(ErrorCode::Malformed, "expected UTCTime or GeneralizedTime");
  }
  const int month = digits(s, pos, 2);
  const int day = digits(s, pos + 2, 2);
  const int hour = digits(s, pos + 4, 2);
  const int minute = digits(s, pos + 6, 2);
  const int second = digits(s, pos + 8, 2);
  using namespace std::chrono;
  const year_month_day ymd{std::chrono::year(year), std::chrono::month(static_cast<unsigned>(month)),
                           std::chrono::day(static_cast<unsigned>(day))};
  if (year < 0 || month < 0 || day < 0 || hour < 0 || minute < 0 || second < 0 || s.back() != 'Z' || !ymd.ok() ||
      hour > 23 || minute > 59 || second > 59) {
    return make_error(ErrorCode::Malformed, "time '" + std::string(s) + "' is not a valid date");
  }
  return base::TimePoint(sys_days(ymd)) + hours(hour) + minutes(minute) + seconds(second);
}

}  // namespace hallmark::pkix::der
