// Usage report aggregation: sessions, seconds, hours and money per instrument, user or month,
// and the rules for the period a report (or a charge list) may cover.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "labgate/common/result.hpp"

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

/// The sums of one group as a store computes them (GROUP BY), before the naming rules apply.
struct GroupSum {
  std::string key;   ///< instrument id, user id ("" = unknown user) or "YYYY-MM"
  std::string name;  ///< the directory's name of the instrument or user, "" when unknown
  int64_t sessions = 0;
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

/// Builds the report from per-group sums: groups with the same key are merged, a row's name is
/// the directory name, else the key (an unknown user is "unknown user"; a month is its key),
/// seconds and hours follow from the summed milliseconds, rows are sorted by key and the totals
/// cover every group.
Report from_groups(std::vector<GroupSum> groups, GroupBy by);

/// Groups items in memory (what a store does with GROUP BY), then from_groups. month_of maps a
/// UTC instant to its local "YYYY-MM" (used for by=month).
Report aggregate(const std::vector<UsageItem>& items, GroupBy by,
                 const std::function<std::string(int64_t)>& month_of);

/// The most months one request may cover (a usage report or a list of charges).
inline constexpr int kMaxPeriodMonths = 12;

/// Whole local months, from and to inclusive ("YYYY-MM").
struct Period {
  std::string from;
  std::string to;
  bool operator==(const Period&) const = default;
};

/// The period of a request from its query values ("" = absent): `month` alone, or `from` and
/// `to` together (inclusive, from <= to, at most kMaxPeriodMonths months), or `current` (the
/// site's current month) when none is given. The error's reason says which rule was broken,
/// naming the parameter (e.g. "to: the period covers 13 months, at most 12 ...").
Result<Period> period_from(std::string_view month, std::string_view from, std::string_view to,
                           std::string_view current);

/// The months of a period in order ("2026-11", "2026-12", "2027-01"...).
std::vector<std::string> months_of(const Period& p);

}  // namespace lg::server::report
