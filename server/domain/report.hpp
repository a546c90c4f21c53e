// Usage report aggregation: sessions, seconds, hours and money per instrument, user or month.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lg::server::report {

enum class GroupBy { instrument, user, month };

/// Parses "instrument" | "user" | "month".
std::optional<GroupBy> group_by_from(std::string_view s);
const char* to_string(GroupBy g);

/// One closed usage session with its charge (amount 0 when it has none).
struct UsageItem {
  std::string instrument;
  std::string instrument_name;
  std::string user;  ///< "" = unknown
  std::string user_name;
  int64_t end_ms = 0;
  int64_t duration_ms = 0;
  int64_t amount_fen = 0;
};

struct Row {
  std::string key;
  std::string name;
  int64_t sessions = 0;
  int64_t duration_ms = 0;
  int64_t seconds = 0;    ///< duration_ms / 1000, rounded down
  std::string hours;      ///< duration in hours, 2 decimals, rounded half up ("1.50")
  int64_t amount_fen = 0;
};

struct Report {
  std::vector<Row> rows;  ///< sorted by key
  Row totals;             ///< key "total"
};

/// "H.hh" from milliseconds, rounded half up to hundredths of an hour, integer arithmetic.
std::string hours_string(int64_t duration_ms);

/// Groups items. month_of maps a UTC instant to its local "YYYY-MM" (used for by=month).
Report aggregate(const std::vector<UsageItem>& items, GroupBy by,
                 const std::function<std::string(int64_t)>& month_of);

}  // namespace lg::server::report
