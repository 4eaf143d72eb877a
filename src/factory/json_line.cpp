#include "factory/json_line.h"

#include <set>
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

}  // namespace hallmark::factory
