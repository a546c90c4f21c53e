// Facts defined once: the defaults every part of labgate (server, terminal, CLI) shares.
// Change one here and every user of it follows.
#pragma once

#include <cstdint>
#include <string_view>

namespace lg::defaults {

/// The site's time zone when the config names none: what people see times in.
inline constexpr std::string_view kTimeZone = "Asia/Shanghai";
/// Currency of money amounts when the config names none (ISO 4217).
inline constexpr std::string_view kCurrency = "CNY";
/// Rows per page of a list when the caller asks for no limit.
inline constexpr int64_t kPageSize = 100;
/// Most rows one page may hold (the server refuses more; the CLI checks before asking).
inline constexpr int64_t kMaxPageSize = 10'000;

}  // namespace lg::defaults
