#include "base/bytes.h"

#include <array>

namespace hallmark::base {
namespace {

constexpr char kHexLower[] = "0123456789abcdef";
constexpr char kHexUpper[] = "0123456789ABCDEF";
constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string hex_with(ByteView data, const char* digits) {
  std::string out;
  out.reserve(data.size() * 2);
  for (auto b : data) {
    out.push_back(digits[b >> 4]);
    out.push_back(digits[b & 0xF]);
  }
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string base64_with(ByteView data, bool url) {
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  std::size_t i = 0;
  auto emit = [&](std::uint32_t v, int chars) {
    for (int k = 0; k < chars; ++k) {
      char c = kB64[(v >> (18 - 6 * k)) & 0x3F];
      if (url && c == '+') c = '-';
      if (url && c == '/') c = '_';
      out.push_back(c);
    }
  };
  for (; i + 3 <= data.size(); i += 3) {
    emit((data[i] << 16) | (data[i + 1] << 8) | data[i + 2], 4);
  }
  const auto rest = data.size() - i;
  if (rest == 1) {
    emit(data[i] << 16, 2);
    if (!url) out += "==";
  } else if (rest == 2) {
    emit((data[i] << 16) | (data[i + 1] << 8), 3);
    if (!url) out += "=";
  }
  return out;
}

}  // namespace

std::string hex_encode(ByteView data) {
  return hex_with(data, kHexLower);
}
std::string hex_encode_upper(ByteView data) {
  return hex_with(data, kHexUpper);
}

Result<Bytes> hex_decode(std::string_view text) {
  Bytes out;
  int high = -1;
  for (char c : text) {
    if (c == ':') continue;
    const int v = hex_value(c);
    if (v < 0) return make_error(ErrorCode::Malformed, "not a hex string: '" + std::string(text) + "'");
    if (high < 0) {
      high = v;
    } else {
      out.push_back(static_cast<std::uint8_t>((high << 4) | v));
      high = -1;
    }
  }
  if (high >= 0) return make_error(ErrorCode::Malformed, "hex string has an odd number of digits");
  return out;
}

std::string base64_encode(ByteView data) {
  return base64_with(data, false);
}
std::string base64url_encode(ByteView data) {
  return base64_with(data, true);
}

Result<Bytes> base64_decode(std::string_view text) {
  static const std::array<int, 256> table = [] {
    std::array<int, 256> t{};
    t.fill(-1);
    for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(kB64[i])] = i;
    return t;
  }();
  Bytes out;
  out.reserve(text.size() * 3 / 4);
  std::uint32_t acc = 0;
  int bits = 0;
  int pad = 0;
  std::size_t symbols = 0;
  for (char c : text) {
    if (c == '\r' || c == '\n' || c == ' ' || c == '\t') continue;
    if (c == '=') {
      ++pad;
      ++symbols;
      continue;
    }
    const int v = table[static_cast<unsigned char>(c)];
    if (v < 0 || pad > 0) {
      return make_error(ErrorCode::Malformed, "invalid base64: unexpected character");
    }
    ++symbols;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<std::uint8_t>((acc >> bits) & 0xFF));
    }
  }
  if (pad > 2 || symbols % 4 != 0) {
    return make_error(ErrorCode::Malformed, "invalid base64: length is not a multiple of 4");
  }
  return out;
}

}  // namespace hallmark::base
