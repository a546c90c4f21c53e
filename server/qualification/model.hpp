// Who may use which instrument, and from when until when. Plain data.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lg::server {

struct Qualification {
  std::string user;
  std::string instrument;
  int64_t valid_from_ms = 0;
  std::optional<int64_t> valid_until_ms;
};

}  // namespace lg::server
