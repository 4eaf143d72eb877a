#include "http/message.h"

#include <strings.h>

namespace hallmark::http {

std::optional<std::string_view> find_header(const Headers& headers, std::string_view name) {
  for (const auto& [key, value] : headers) {
    if (key.size() == name.size() && ::strncasecmp(key.data(), name.data(), name.size()) == 0) {
      return std::string_view(value);
    }
  }
  return std::nullopt;
}

bool media_type_is(std::string_view value, std::string_view type) {
  auto v = value.substr(0, value.find(';'));
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v.size() == type.size() && ::strncasecmp(v.data(), type.data(), type.size()) == 0;
}

Response Response::text(int status, std::string body) {
  return with(status, "text/plain; charset=utf-8", std::move(body));
}

Response Response::with(int status, std::string content_type, std::string body) {
  Response r;
  r.status = status;
  r.headers.emplace_back("Content-Type", std::move(content_type));
  r.body = std::move(body);
  return r;
}

}  // namespace hallmark::http
