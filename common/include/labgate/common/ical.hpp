// An RFC 5545 iCalendar writer: a calendar of events as text a calendar app subscribes to (the
// bookings feed, GET /api/bookings.ics). Pure: values in, text out.
//
// What the text holds, whatever the input:
// - every content line ends CRLF and is at most 75 octets before it (RFC 5545 3.1), longer ones
//   folded (CRLF and one space) between whole UTF-8 sequences and never inside a TEXT escape;
// - it is valid UTF-8: input that is not has each byte that starts no valid sequence replaced by
//   U+FFFD (REPLACEMENT CHARACTER), so a feed is never refused for one bad name;
// - TEXT values (3.3.11) are escaped: backslash, semicolon and comma get a backslash, a line
//   break is written as \n; a line break is LF, CRLF or a lone CR; every other control character
//   (U+0000..U+001F but HTAB, and U+007F) is removed, as TEXT may not hold one;
// - times are UTC in the form YYYYMMDDTHHMMSSZ (3.3.5, form #2), milliseconds dropped (rounded
//   down), so a calendar app shows them in its viewer's zone.
// Refused (an lg::Result error naming the event's UID and the property): an empty PRODID or UID
// (after cleaning), a time outside the years 0001..9999, a DTEND not after DTSTART (to the
// second), a URL with a character RFC 3986 does not allow in a URI.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "labgate/common/result.hpp"

namespace lg::ical {

/// Longest content line in octets, its CRLF not counted (RFC 5545 3.1).
inline constexpr std::size_t kMaxLineOctets = 75;

/// An event's STATUS (RFC 5545 3.8.1.11).
enum class EventStatus { confirmed, tentative, cancelled };

/// "CONFIRMED" | "TENTATIVE" | "CANCELLED", as RFC 5545 spells them.
const char* to_string(EventStatus s);
/// Parses the RFC 5545 spelling (upper case); nullopt for anything else.
std::optional<EventStatus> event_status_from(std::string_view s);

/// One VEVENT. Text fields may hold any bytes: they are cleaned and escaped (see above).
struct Event {
  std::string uid;            ///< globally unique ("<id>@<site>"); required
  int64_t stamp_ms = 0;       ///< DTSTAMP, UTC ms
  int64_t start_ms = 0;       ///< DTSTART, UTC ms
  int64_t end_ms = 0;         ///< DTEND, UTC ms; must be after start_ms (to the second)
  std::string summary{};      ///< SUMMARY (left out when empty)
  std::string location{};     ///< LOCATION (left out when empty)
  std::string description{};  ///< DESCRIPTION (left out when empty)
  EventStatus status = EventStatus::confirmed;
  std::string url{};  ///< URL (left out when empty); must be a URI (RFC 3986 characters only)
};

/// One VCALENDAR (METHOD:PUBLISH, CALSCALE:GREGORIAN) with its events in the order given.
struct Calendar {
  std::string prodid;  ///< PRODID, e.g. "-//labgate//labgate 0.1.0//EN"; required
  std::string name{};  ///< NAME (RFC 7986) and X-WR-CALNAME, what apps title the calendar; left out when empty
  std::vector<Event> events{};
};

/// The calendar as iCalendar text (text/calendar; charset=utf-8), or the first refusal (see the
/// file comment) naming the event's UID and the property.
Result<std::string> write(const Calendar& cal);

/// text as a TEXT value holds it before escaping: invalid UTF-8 replaced by U+FFFD, CRLF and a
/// lone CR turned into LF, every control character but HTAB and LF removed. Valid UTF-8 out.
std::string clean_text(std::string_view text);

/// A cleaned TEXT value (clean_text) escaped as RFC 5545 3.3.11 says: \\ \; \, and \n for LF.
std::string escape_text(std::string_view cleaned);

/// One content line ("NAME:value", valid UTF-8, no line break) folded into lines of at most
/// kMaxLineOctets octets, each ended by CRLF; a continuation starts with one space. A fold never
/// splits a UTF-8 sequence nor a backslash from the character it escapes.
std::string fold(std::string_view line);

/// UTC ms as an RFC 5545 UTC DATE-TIME, "20260301T080000Z" (milliseconds rounded down); an error
/// outside the years 0001..9999.
Result<std::string> utc_time(int64_t utc_ms);

/// True when s is non-empty and holds only characters RFC 3986 allows in a URI (unreserved,
/// reserved and '%'), so it goes into a URI value unescaped.
bool uri_chars_only(std::string_view s);

}  // namespace lg::ical
