// Strict JSON parsing shared by the protocol and the HTTP API: one parser, one set of rules.
// nlohmann/json is the parser; this header names it only through its forward declarations.
#pragma once

#include <cstddef>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "labgate/common/result.hpp"

namespace lg::json {

/// Deepest nesting parse_strict accepts by default (our messages nest at most 4 deep).
inline constexpr std::size_t kMaxDepth = 32;

/// Parses text as JSON and refuses what a lenient parser would quietly accept: invalid JSON,
/// a key that appears twice in one object ("duplicate key \"seq\"": last-wins would let two
/// readers see different values), and nesting deeper than max_depth.
Result<nlohmann::json> parse_strict(std::string_view text, std::size_t max_depth = kMaxDepth);

/// True if s holds a control character (U+0000..U+001F or U+007F): names, ids and free text
/// that people read must not carry them.
bool has_control_chars(std::string_view s);

}  // namespace lg::json
