#include "labgate/common/ical.hpp"

#include <chrono>
#include <cstdio>

#include "labgate/common/csv.hpp"

namespace lg::ical {

namespace {

struct StatusName {
  EventStatus value;
  const char* name;
};
constexpr StatusName kStatusNames[] = {{EventStatus::confirmed, "CONFIRMED"},
                                       {EventStatus::tentative, "TENTATIVE"},
                                       {EventStatus::cancelled, "CANCELLED"}};

constexpr const char* kReplacement = "\xEF\xBF\xBD";  // U+FFFD in UTF-8

/// The length of the UTF-8 sequence a lead byte starts (1..4), 0 for a byte that starts none.
std::size_t sequence_length(unsigned char c) {
  if (c < 0x80) return 1;
  if ((c >> 5) == 0x6) return 2;
  if ((c >> 4) == 0xE) return 3;
  if ((c >> 3) == 0x1E) return 4;
  return 0;
}

/// Octets from line[i] that a fold must keep together: an escape (a backslash and the ASCII
/// character after it) or one UTF-8 sequence; 1 for a byte that starts no sequence that fits.
std::size_t atom_length(std::string_view line, std::size_t i) {
  const auto c = static_cast<unsigned char>(line[i]);
  if (c == '\\' && i + 1 < line.size() && static_cast<unsigned char>(line[i + 1]) < 0x80) return 2;
  const std::size_t len = sequence_length(c);
  return len == 0 || i + len > line.size() ? 1 : len;
}

using Ms = std::chrono::sys_time<std::chrono::milliseconds>;
// The instants a 4-digit year can name: 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59.999Z.
constexpr int64_t kFirstMs =
    std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::sys_days{std::chrono::year{1} / std::chrono::January / 1}.time_since_epoch())
        .count();
constexpr int64_t kEndMs =
    std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::sys_days{std::chrono::year{10000} / std::chrono::January / 1}.time_since_epoch())
        .count();

/// ms rounded down to whole seconds (no overflow at either end of int64_t).
int64_t whole_seconds(int64_t ms) { return ms >= 0 ? ms / 1000 : -((-(ms + 1)) / 1000) - 1; }

/// "NAME:value" folded, value a cleaned and escaped TEXT.
void text_property(std::string& out, std::string_view name, std::string_view raw) {
  std::string line(name);
  line += ':';
  line += escape_text(clean_text(raw));
  out += fold(line);
}

void plain_property(std::string& out, std::string_view name, std::string_view value) {
  std::string line(name);
  line += ':';
  line += value;
  out += fold(line);
}

}  // namespace

const char* to_string(EventStatus s) {
  for (const auto& n : kStatusNames)
    if (n.value == s) return n.name;
  return "CONFIRMED";
}

std::optional<EventStatus> event_status_from(std::string_view s) {
  for (const auto& n : kStatusNames)
    if (s == n.name) return n.value;
  return std::nullopt;
}

std::string clean_text(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (c == '\r') {
        out += '\n';  // CRLF and a lone CR are one line break
        i += (i + 1 < s.size() && s[i + 1] == '\n') ? 2 : 1;
        continue;
      }
      if (c == '\n' || c == '\t' || (c >= 0x20 && c != 0x7f)) out += static_cast<char>(c);
      ++i;  // any other control character is dropped
      continue;
    }
    const std::size_t len = sequence_length(c);
    if (len != 0 && i + len <= s.size() && csv::valid_utf8(s.substr(i, len))) {
      out.append(s.substr(i, len));
      i += len;
    } else {
      out += kReplacement;
      ++i;
    }
  }
  return out;
}

std::string escape_text(std::string_view cleaned) {
  std::string out;
  out.reserve(cleaned.size() + cleaned.size() / 8);
  for (const char c : cleaned) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case ';': out += "\\;"; break;
      case ',': out += "\\,"; break;
      case '\n': out += "\\n"; break;
      default: out += c;
    }
  }
  return out;
}

std::string fold(std::string_view line) {
  std::string out;
  out.reserve(line.size() + 3 * (line.size() / (kMaxLineOctets - 1) + 1));
  std::size_t used = 0;  // octets on the current physical line
  std::size_t i = 0;
  while (i < line.size()) {
    const std::size_t n = atom_length(line, i);
    if (used + n > kMaxLineOctets) {
      out += "\r\n ";
      used = 1;
    }
    out.append(line.substr(i, n));
    used += n;
    i += n;
  }
  out += "\r\n";
  return out;
}

Result<std::string> utc_time(int64_t utc_ms) {
  if (utc_ms < kFirstMs || utc_ms >= kEndMs) {
    return Error::invalid("time " + std::to_string(utc_ms) + " ms is outside the years 0001..9999");
  }
  using namespace std::chrono;
  const Ms tp{milliseconds{utc_ms}};
  const auto day = floor<days>(tp);
  const year_month_day ymd{day};
  const hh_mm_ss<seconds> hms{floor<seconds>(tp) - day};
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d%02u%02uT%02ld%02ld%02ldZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<long>(hms.hours().count()), static_cast<long>(hms.minutes().count()),
                static_cast<long>(hms.seconds().count()));
  return std::string(buf);
}

bool uri_chars_only(std::string_view s) {
  if (s.empty()) return false;
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    const bool alnum = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (alnum) continue;
    if (std::string_view("-._~:/?#[]@!$&'()*+,;=%").find(static_cast<char>(c)) == std::string_view::npos) return false;
  }
  return true;
}

Result<std::string> write(const Calendar& cal) {
  if (clean_text(cal.prodid).empty()) return Error::invalid("calendar: PRODID is empty");
  std::string out;
  plain_property(out, "BEGIN", "VCALENDAR");
  plain_property(out, "VERSION", "2.0");
  text_property(out, "PRODID", cal.prodid);
  plain_property(out, "CALSCALE", "GREGORIAN");
  plain_property(out, "METHOD", "PUBLISH");
  if (!clean_text(cal.name).empty()) {
    text_property(out, "NAME", cal.name);
    text_property(out, "X-WR-CALNAME", cal.name);
  }
  for (const Event& e : cal.events) {
    const std::string uid = clean_text(e.uid);
    if (uid.empty()) return Error::invalid("event: UID is empty");
    const std::string who = "event '" + uid + "': ";
    auto stamp = utc_time(e.stamp_ms);
    if (!stamp) return Error::invalid(who + "DTSTAMP: " + stamp.error().reason);
    auto start = utc_time(e.start_ms);
    if (!start) return Error::invalid(who + "DTSTART: " + start.error().reason);
    auto end = utc_time(e.end_ms);
    if (!end) return Error::invalid(who + "DTEND: " + end.error().reason);
    if (whole_seconds(e.end_ms) <= whole_seconds(e.start_ms)) {
      return Error::invalid(who + "DTEND " + *end + " is not after DTSTART " + *start);
    }
    if (!e.url.empty() && !uri_chars_only(e.url)) {
      return Error::invalid(who + "URL holds a character a URI may not (RFC 3986)");
    }
    plain_property(out, "BEGIN", "VEVENT");
    text_property(out, "UID", e.uid);
    plain_property(out, "DTSTAMP", *stamp);
    plain_property(out, "DTSTART", *start);
    plain_property(out, "DTEND", *end);
    if (!clean_text(e.summary).empty()) text_property(out, "SUMMARY", e.summary);
    if (!clean_text(e.location).empty()) text_property(out, "LOCATION", e.location);
    if (!clean_text(e.description).empty()) text_property(out, "DESCRIPTION", e.description);
    plain_property(out, "STATUS", to_string(e.status));
    if (!e.url.empty()) plain_property(out, "URL", e.url);
    plain_property(out, "END", "VEVENT");
  }
  plain_property(out, "END", "VCALENDAR");
  return out;
}

}  // namespace lg::ical
