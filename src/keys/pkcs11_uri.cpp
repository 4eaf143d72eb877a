#include "keys/pkcs11_uri.h"

#include <cstdlib>

#include "base/files.h"

namespace hallmark::keys {
namespace {

using base::ErrorCode;
using base::make_error;
using base::Result;

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Result<std::string> percent_decode(std::string_view in) {
  std::string out;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out += in[i];
      continue;
    }
    if (i + 2 >= in.size()) {
      return make_error(ErrorCode::InvalidArgument, "PKCS#11 URI has a truncated %-escape");
    }
    const int hi = hex_value(in[i + 1]);
    const int lo = hex_value(in[i + 2]);
    if (hi < 0 || lo < 0) return make_error(ErrorCode::InvalidArgument, "PKCS#11 URI has a bad %-escape");
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

// RFC 7512 §2.3: unreserved characters and a few sub-delimiters stay literal.
std::string percent_encode(std::string_view in, bool query) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const unsigned char c : in) {
    const bool literal = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                         c == '.' || c == '_' || c == '~' || c == ':' || c == '[' || c == ']' || c == '@' || c == '!' ||
                         c == '$' || c == '\'' || c == '(' || c == ')' || c == '*' || c == '+' || c == ',' ||
                         (query && (c == '/' || c == '?' || c == '|')) || (!query && c == '&');
    if (literal) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace

bool is_pkcs11_uri(std::string_view reference) {
  return reference.starts_with("pkcs11:");
}

Result<Pkcs11Uri> Pkcs11Uri::parse(std::string_view text) {
  if (text.size() > 4096) return make_error(ErrorCode::TooLarge, "PKCS#11 URI is longer than 4096 characters");
  if (!is_pkcs11_uri(text)) return make_error(ErrorCode::InvalidArgument, "a PKCS#11 URI starts with 'pkcs11:'");
  text.remove_prefix(7);
  std::string_view path = text;
  std::string_view query;
  if (const auto q = text.find('?'); q != std::string_view::npos) {
    path = text.substr(0, q);
    query = text.substr(q + 1);
  }
  Pkcs11Uri uri;
  auto each = [](std::string_view list, char sep, auto&& fn) -> base::Status {
    while (!list.empty()) {
      const auto end = list.find(sep);
      const auto item = list.substr(0, end);
      list = end == std::string_view::npos ? std::string_view{} : list.substr(end + 1);
      if (item.empty()) continue;
      const auto eq = item.find('=');
      if (eq == std::string_view::npos) {
        return make_error(ErrorCode::InvalidArgument, "PKCS#11 URI attribute '" + std::string(item) + "' has no value");
      }
      HM_TRY(auto value, percent_decode(item.substr(eq + 1)));
      HM_CHECK(fn(std::string(item.substr(0, eq)), std::move(value)));
    }
    return {};
  };
  HM_CHECK(each(path, ';', [&](const std::string& name, std::string value) -> base::Status {
    if (name == "token") {
      uri.token = std::move(value);
    } else if (name == "object") {
      uri.object = std::move(value);
    } else if (name == "pin-value") {
      return make_error(ErrorCode::InvalidArgument,
                        "a PIN inside the URI is refused: use pin-source or HALLMARK_PKCS11_PIN");
    } else if (name != "type" && name != "manufacturer" && name != "model" && name != "serial" && name != "id" &&
               name != "library-manufacturer" && name != "library-description" && name != "library-version" &&
               name != "slot-description" && name != "slot-manufacturer" && name != "slot-id") {
      return make_error(ErrorCode::InvalidArgument, "unknown PKCS#11 URI attribute '" + name + "'");
    }
    return {};
  }));
  HM_CHECK(each(query, '&', [&](const std::string& name, std::string value) -> base::Status {
    if (name == "module-path") {
      uri.module_path = std::move(value);
    } else if (name == "pin-source") {
      uri.pin_source = std::move(value);
    } else if (name == "pin-value") {
      return make_error(ErrorCode::InvalidArgument,
                        "a PIN inside the URI is refused: use pin-source or HALLMARK_PKCS11_PIN");
    } else if (name != "module-name") {
      return make_error(ErrorCode::InvalidArgument, "unknown PKCS#11 URI query attribute '" + name + "'");
    }
    return {};
  }));
  if (uri.token.empty()) return make_error(ErrorCode::InvalidArgument, "PKCS#11 URI names no token (token=<label>)");
  if (uri.module_path.empty()) {
    return make_error(ErrorCode::InvalidArgument, "PKCS#11 URI names no module (?module-path=<library .so>)");
  }
  return uri;
}

std::string Pkcs11Uri::text() const {
  std::string out = "pkcs11:token=" + percent_encode(token, false);
  if (!object.empty()) out += ";object=" + percent_encode(object, false);
  out += "?module-path=" + percent_encode(module_path, true);
  if (!pin_source.empty()) out += "&pin-source=" + percent_encode(pin_source, true);
  return out;
}

Pkcs11Uri Pkcs11Uri::with_object(std::string label) const {
  Pkcs11Uri copy = *this;
  copy.object = std::move(label);
  return copy;
}

Result<std::string> resolve_pin(const Pkcs11Uri& uri) {
  if (!uri.pin_source.empty()) {
    std::string path = uri.pin_source;
    if (path.starts_with("file:")) path = path.substr(5);
    auto data = base::read_file(path, 256);
    if (!data) {
      return make_error(ErrorCode::NotFound, "cannot read the PIN file '" + path + "' named by pin-source",
                        data.error().describe());
    }
    std::string pin = base::to_string(data.value());
    if (const auto nl = pin.find_first_of("\r\n"); nl != std::string::npos) pin.resize(nl);
    if (pin.empty()) return make_error(ErrorCode::InvalidArgument, "the PIN file '" + path + "' is empty");
    return pin;
  }
  if (const char* env = std::getenv("HALLMARK_PKCS11_PIN"); env != nullptr && *env != '\0') return std::string(env);
  return make_error(
      ErrorCode::InvalidArgument,
      "no PIN for token '" + uri.token + "': add pin-source=file:<path> to the URI or set HALLMARK_PKCS11_PIN");
}

}  // namespace hallmark::keys
