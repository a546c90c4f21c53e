// Plain-text tables for labgatectl, and the views that turn the server's JSON answers into them.
// Pure functions: unit-tested without a server.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace lg::ctl {

enum class Align { left, right };

/// How a command prints what it got (--format): a table for people, the server's JSON, or CSV.
enum class Format { table, json, csv };

/// "table", "json", "csv".
std::string_view to_string(Format f);

/// The Format named by text, or nullopt for an unknown name.
std::optional<Format> format_from_string(std::string_view text);

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

/// Renders a table as CSV (RFC 4180 quoting): the header row, then the rows, each line ending in
/// "\n" (not CRLF); a cell holding a comma, a double quote, CR or LF is quoted with its quotes
/// doubled, other cells (CJK and empty ones included) are written as they are. Short rows are
/// padded with empty cells to the widest row. Footer lines (totals) are left out: a script sums
/// the column itself, and a totals row would be counted as data.
std::string render_csv(const Table& t);

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
/// valid_from, valid_until, since, ended, retired, created, expires, revoked, last_used, granted,
/// applied, decided and every *_ms except duration_ms.
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

/// One role grant of GET /api/me or /api/roles as a line: "unit_admin unit:chem",
/// "system_admin site", "user self:u-alice (implied)"; a revoked grant ends in " (revoked)".
std::string role_text(const nlohmann::json& grant);

/// GET /api/me -> key/value rows: user, name, status, actor, kind, pending, one "role" row per
/// grant (role_text), rights (space-separated; "-" for none).
Table whoami_table(const nlohmann::json& me);

/// GET /api/roles -> id, user, role, scope, scope id, granted by, granted, revoked (times in tz).
Table roles_table(const nlohmann::json& grants, const std::string& tz);

/// GET /api/me/tokens or /api/me/sessions -> current ("*" for the token of this call), id, name,
/// rights (space-separated, "all" when empty: the holder's own), created, expires, last used,
/// revoked, live, source (times in tz).
Table tokens_table(const nlohmann::json& tokens, const std::string& tz);

/// GET /api/registrations -> user, unit, applied, decision, decided by, decided, reason.
Table registrations_table(const nlohmann::json& registrations, const std::string& tz);

/// The answer of POST /api/login as one line: "signed in as u-alice until 2026-03-01 20:00:00
/// +08:00", with " (pending approval: no rights until a unit admin approves)" for a pending user.
std::string signed_in_text(const nlohmann::json& login, const std::string& tz);

/// The line labgatectl prints for a refused request: "labgatectl: <what>: HTTP <status>:
/// <error>" (error escaped); a 429 with Retry-After that does not already say when adds
/// "; try again in N s"; a 401 sent without any token adds the hint to sign in.
std::string failure_line(std::string_view what, int status, std::string_view error,
                         std::optional<int64_t> retry_after_s, bool had_token);

}  // namespace lg::ctl
