// Byte buffers and their text encodings (hex, base64).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace hallmark::base {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;

inline ByteView view(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}
inline std::string to_string(ByteView b) {
  return {b.begin(), b.end()};
}
inline Bytes to_bytes(std::string_view s) {
  return {s.begin(), s.end()};
}

// Lower-case hex, no separators.
std::string hex_encode(ByteView data);
// Upper-case hex as `openssl x509 -serial` prints it.
std::string hex_encode_upper(ByteView data);
// Accepts upper or lower case and optional ':' separators.
Result<Bytes> hex_decode(std::string_view text);

// Standard base64 with padding, no line breaks.
std::string base64_encode(ByteView data);
// Standard base64; ignores CR, LF, space and tab anywhere (RFC 8951 §3.2).
Result<Bytes> base64_decode(std::string_view text);
// base64url without padding (RFC 4648 §5).
std::string base64url_encode(ByteView data);

}  // namespace hallmark::base
