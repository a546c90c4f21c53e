// Flag lists as stored by every backend: one text column, "a,b" <-> {"a","b"}.
#pragma once

#include <string>
#include <vector>

namespace lg::server {

/// {"a","b"} -> "a,b".
inline std::string join_flags(const std::vector<std::string>& flags) {
  std::string out;
  for (const auto& f : flags) {
    if (!out.empty()) out += ',';
    out += f;
  }
  return out;
}

/// "a,b" -> {"a","b"} (empty parts dropped).
inline std::vector<std::string> split_flags(const std::string& s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < s.size()) {
    auto comma = s.find(',', start);
    if (comma == std::string::npos) comma = s.size();
    if (comma > start) out.push_back(s.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

}  // namespace lg::server
