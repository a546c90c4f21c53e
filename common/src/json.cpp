#include "labgate/common/json.hpp"

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace lg::json {

Result<nlohmann::json> parse_strict(std::string_view text, std::size_t max_depth) {
  using nlohmann::json;
  // One key list per open object; objects are small, so a linear search beats a set.
  std::vector<std::vector<std::string>> open;
  std::size_t depth = 0;
  std::string problem;
  auto cb = [&](int /*depth*/, json::parse_event_t ev, json& parsed) -> bool {
    if (!problem.empty()) return true;
    switch (ev) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start:
        if (++depth > max_depth) problem = "nested deeper than " + std::to_string(max_depth) + " levels";
        if (ev == json::parse_event_t::object_start) open.emplace_back();
        break;
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end:
        if (depth > 0) --depth;
        if (ev == json::parse_event_t::object_end && !open.empty()) open.pop_back();
        break;
      case json::parse_event_t::key: {
        if (open.empty() || !parsed.is_string()) break;
        const auto& k = parsed.get_ref<const std::string&>();
        for (const auto& seen : open.back()) {
          if (seen == k) {
            problem = "duplicate key \"" + k.substr(0, 64) + "\"";
            return true;
          }
        }
        open.back().push_back(k);
        break;
      }
      case json::parse_event_t::value:
        break;
    }
    return true;
  };
  json j = json::parse(text.begin(), text.end(), cb, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Error::invalid("not valid JSON");
  if (!problem.empty()) return Error::invalid(problem);
  return j;
}

bool has_control_chars(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return true;
  }
  return false;
}

}  // namespace lg::json
