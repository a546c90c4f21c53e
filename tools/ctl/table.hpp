// Plain-text tables for labgatectl, and the views that turn the server's JSON answers into them.
// Pure functions: unit-tested without a server.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace lg::ctl {

enum class Align { left, right };

/// A table: header, rows of cells, per-column alignment (missing = left), optional footer rows
/// (totals) printed after a rule.
struct Table {
  std::vector<std::string> headers;
  std::vector<Align> align;
  std::vector<std::vector<std::string>> rows;
  std::vector<std::vector<std::string>> footer;
};

/// Terminal columns a UTF-8 string takes (CJK and full-width characters count 2).
std::size_t display_width(std::string_view utf8);

/// Renders a table: columns separated by two spaces, a dashed rule under the header (and above
/// the footer), no trailing spaces, each line ending in '\n'. Short rows are padded with "".
std::string render(const Table& t);

/// "1.50" from 5400 seconds (hours, two decimals, rounded half up: lg::defaults::hours_text).
std::string format_hours(int64_t seconds);

/// An instant as people read it, in the site's time zone with its offset:
/// "2026-03-01 16:00:00 +08:00" from 2026-03-01T08:00:00Z in Asia/Shanghai. If tz is not a
/// known zone, the instant in UTC ("2026-03-01 08:00:00 +00:00").
std::string format_time_ms(int64_t utc_ms, const std::string& tz);

/// A JSON value that holds an instant (RFC 3339 string as the API sends, or UTC milliseconds)
/// shown by format_time_ms; any other value as cell() shows it.
std::string time_cell(const nlohmann::json& v, const std::string& tz);

/// True for the keys whose values the API sends as instants: time, ts, start, end, last_seen,
/// valid_from, valid_until and every *_ms except duration_ms.
bool time_key(std::string_view key);

/// A JSON scalar as a cell: strings as is, numbers, true/false as yes/no, null or absent as "-".
std::string cell(const nlohmann::json& v);

/// GET /api/terminals -> id, resource, online, boot, acl ver, outbox, acked seq, last seen
/// (in time zone tz).
Table terminals_table(const nlohmann::json& terminals, const std::string& tz);

/// GET /api/reports/usage -> key, name, sessions, hours, amount (yuan), with a totals footer.
Table report_table(const nlohmann::json& report);

/// An array of flat objects (sessions, access events): the `preferred` keys that occur in any
/// element, in that order (all keys in first-seen order if none does). *_fen as yuan,
/// instants (time_key) in time zone tz with the offset, duration_ms as hours.
Table objects_table(const nlohmann::json& array, const std::vector<std::string>& preferred, const std::string& tz);

/// Any JSON object as a two-column key/value table with dotted keys (GET /api/stats).
Table key_value_table(const nlohmann::json& object);

}  // namespace lg::ctl
