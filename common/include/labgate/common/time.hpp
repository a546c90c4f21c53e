// Time: UTC milliseconds on the wire and in storage, the monotonic clock for durations,
// the site's time zone for month boundaries.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "labgate/common/result.hpp"

namespace lg::time {

/// Wall-clock now, milliseconds since the Unix epoch, UTC.
int64_t now_utc_ms();

/// Monotonic clock (CLOCK_MONOTONIC) in milliseconds; comparable only within one boot.
int64_t steady_ms();

/// Formats UTC milliseconds as RFC 3339 with milliseconds and 'Z': 2026-11-27T08:00:00.000Z.
std::string format_utc(int64_t utc_ms);

/// Parses RFC 3339 UTC ("...Z" or "+00:00"; seconds or milliseconds) back to milliseconds.
/// Also accepts an explicit offset like +08:00 and converts to UTC.
std::optional<int64_t> parse_utc(std::string_view text);

/// True when the kernel reports the clock as synchronised (adjtimex, no STA_UNSYNC).
bool clock_synced();

/// The kernel's boot id (/proc/sys/kernel/random/boot_id); monotonic readings are only
/// comparable between two processes when this matches.
std::string boot_id();

/// "YYYY-MM" of the instant in the given IANA time zone (e.g. Asia/Shanghai).
Result<std::string> local_month(int64_t utc_ms, const std::string& tz);

/// UTC milliseconds of local midnight on the first day of "YYYY-MM" in time zone tz.
Result<int64_t> local_month_start(std::string_view year_month, const std::string& tz);

/// "YYYY-MM" following the given "YYYY-MM".
Result<std::string> next_month(std::string_view year_month);

/// Formats UTC milliseconds in the given time zone as "YYYY-MM-DD HH:MM:SS".
Result<std::string> format_local(int64_t utc_ms, const std::string& tz);

/// Formats UTC milliseconds as RFC 3339 in the given time zone, with milliseconds and the
/// zone's offset at that instant: 2026-11-27T16:00:00.000+08:00 (the same instant as
/// 2026-11-27T08:00:00.000Z; parse_utc reads it back). What people see in API listings.
Result<std::string> format_site(int64_t utc_ms, const std::string& tz);

/// Formats UTC milliseconds in the given time zone for people to read, to the second (rounded
/// down) with the zone's offset at that instant: "2026-03-01 16:00:00 +08:00" for
/// 2026-03-01T08:00:00Z in Asia/Shanghai. What labgatectl shows in its tables.
Result<std::string> format_local_offset(int64_t utc_ms, const std::string& tz);

/// A moment as a clock in a time zone shows it (the booking rules' calendar).
struct LocalTime {
  int32_t year = 1970;
  uint32_t month = 1;      ///< 1..12
  uint32_t day = 1;        ///< 1..31
  uint32_t weekday = 4;    ///< ISO 8601: 1 = Monday .. 7 = Sunday
  int64_t ms_of_day = 0;   ///< milliseconds since local midnight
  int64_t day_start_ms = 0;  ///< UTC milliseconds of that local midnight
};

/// The local date, weekday and time of day of utc_ms in time zone tz.
Result<LocalTime> local_time(int64_t utc_ms, const std::string& tz);

/// UTC milliseconds of local midnight `days` days after (or before, when negative) the local
/// day that holds utc_ms, in time zone tz. A midnight that does not exist (a DST gap) is the
/// earliest instant after it.
Result<int64_t> local_day_start(int64_t utc_ms, int32_t days, const std::string& tz);

/// UTC milliseconds of local midnight of Monday of the ISO week that holds utc_ms in tz.
Result<int64_t> local_week_start(int64_t utc_ms, const std::string& tz);

/// The instant `months` calendar months after utc_ms (before, when negative) as a clock in tz
/// shows it: the same local time of day on the same day of the month, or on the month's last
/// day when it is shorter (31 January + 1 month = 28 or 29 February). A local time that does not
/// exist (a DST gap) is the earliest instant after it.
Result<int64_t> add_months(int64_t utc_ms, int32_t months, const std::string& tz);

}  // namespace lg::time
