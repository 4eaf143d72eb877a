#include "factory/json_line.h"

#include <set>
#include <string>
#include <vector>

namespace hallmark::factory {

nlohmann::json parse_json_line(const std::string& text, std::string& repeated) {
  using json = nlohmann::json;
  std::vector<std::set<std::string>> open_objects;
  return json::parse(
      text,
      [&](int, json::parse_event_t event, json& parsed) {
        if (event == json::parse_event_t::object_start) {
          open_objects.emplace_back();
        } else if (event == json::parse_event_t::object_end) {
          if (!open_objects.empty()) open_objects.pop_back();
        } else if (event == json::parse_event_t::key && !open_objects.empty() && repeated.empty()) {
          const auto& key = parsed.get_ref<const std::string&>();
          if (!open_objects.back().insert(key).second) repeated = key;
        }
        return true;
      },
      false);
}

std::optional<base::Bytes> csr_field_der(const std::string& text) {
  if (text.find("-----BEGIN") != std::string::npos) return base::to_bytes(text);
  auto decoded = base::base64_decode(text);
  if (!decoded.ok()) return std::nullopt;
  return std::move(decoded).value();
}

}  // namespace hallmark::factory
