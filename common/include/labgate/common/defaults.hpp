// Facts defined once: the defaults and display rules every part of labgate (server, terminal,
// CLI, tools) shares. Change one here and every user of it follows; a literal copy of any of
// these elsewhere is a bug (docs/CODING.md, "Facts defined once").
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace lg::defaults {

/// The site's time zone when the config names none (IANA name): month boundaries, opening
/// hours and the times people see are in this zone.
inline constexpr std::string_view kTimeZone = "Asia/Shanghai";
/// Currency of money amounts when the config or a fee standard names none (ISO 4217).
inline constexpr std::string_view kCurrency = "CNY";
/// Rows per page of a list when the caller asks for no limit (`?limit=` absent).
inline constexpr int64_t kPageSize = 100;
/// Most rows one page may hold: the server refuses `?limit=` above it; the CLI refuses
/// `--limit` / `--page-size` above it before asking.
inline constexpr int64_t kMaxPageSize = 10'000;

/// Milliseconds in one hour (the unit fee standards are priced in).
inline constexpr int64_t kMsPerHour = 3'600'000;

/// The rule for hours shown to people: a duration in hundredths of an hour, rounded half up
/// (away from zero for negative durations): 5'400'000 ms -> 150, 17'999 ms -> 0, 18'000 ms -> 1.
/// Display only; charges are computed from the exact milliseconds (server/domain/billing).
constexpr int64_t centi_hours(int64_t duration_ms) {
  const uint64_t ms = duration_ms < 0 ? 0 - static_cast<uint64_t>(duration_ms) : static_cast<uint64_t>(duration_ms);
  const auto centi = static_cast<int64_t>((ms + kMsPerHour / 200) / (kMsPerHour / 100));
  return duration_ms < 0 ? -centi : centi;
}

/// Hours of a duration as people see them, two decimals by centi_hours(): "1.50", "-0.25".
inline std::string hours_text(int64_t duration_ms) {
  const int64_t c = centi_hours(duration_ms);
  const uint64_t a = c < 0 ? 0 - static_cast<uint64_t>(c) : static_cast<uint64_t>(c);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%s%llu.%02llu", c < 0 ? "-" : "", static_cast<unsigned long long>(a / 100),
                static_cast<unsigned long long>(a % 100));
  return buf;
}

}  // namespace lg::defaults
