// Fuzz target "ical": the RFC 5545 writer of the bookings feed (common/include/labgate/common/ical.hpp)
// over any field values. The input is a 25-byte header (flags: status and whether the times are
// raw 64-bit values or seconds near 1970 with milliseconds; then DTSTART, DTEND or the length,
// DTSTAMP), zero-padded when short, and the rest split at 0x1E into UID, SUMMARY, LOCATION,
// DESCRIPTION, URL, PRODID and the calendar's name. What must hold:
// - write refuses exactly when a field says so (empty PRODID or UID once cleaned, a time outside
//   0001..9999, DTEND not after DTSTART to the second, a URL of non-URI characters), with the
//   reason naming the first such field;
// - otherwise the text is valid UTF-8, every line ends CRLF, holds no bare CR or LF and is at
//   most 75 octets (tests/common/ical_reader.hpp reads it strictly), and the properties come in
//   the writer's order;
// - unfolding and unescaping each TEXT property gives back clean_text(field) exactly, and each
//   time read back as a date gives the input's whole second (an independent path: civil date to
//   days, where the writer goes days to civil date);
// - clean_text gives valid UTF-8 without control characters but HTAB and LF, is idempotent, and
//   leaves text that is already clean as it is.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "labgate/common/csv.hpp"
#include "labgate/common/ical.hpp"
#include "tests/common/ical_reader.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace ical = lg::ical;

namespace {

constexpr std::size_t kHeader = 25;

int64_t read_i64(const uint8_t* p) {
  uint64_t u = 0;
  std::memcpy(&u, p, sizeof u);
  return static_cast<int64_t>(u);
}

int64_t floor_seconds(int64_t ms) { return ms >= 0 ? ms / 1000 : -((-(ms + 1)) / 1000) - 1; }

/// True when s holds nothing clean_text would change: valid UTF-8, no control but HTAB and LF.
bool already_clean(std::string_view s) {
  if (!lg::csv::valid_utf8(s)) return false;
  for (unsigned char c : s)
    if ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7f) return false;
  return true;
}

/// Seconds since the epoch of "YYYYMMDDTHHMMSSZ", nullopt when it is not one.
std::optional<int64_t> seconds_of(std::string_view t) {
  if (t.size() != 16 || t[8] != 'T' || t[15] != 'Z') return std::nullopt;
  auto num = [&](std::size_t at, std::size_t n) -> std::optional<int> {
    int v = 0;
    for (std::size_t i = at; i < at + n; ++i) {
      if (t[i] < '0' || t[i] > '9') return std::nullopt;
      v = v * 10 + (t[i] - '0');
    }
    return v;
  };
  auto y = num(0, 4), mo = num(4, 2), d = num(6, 2), h = num(9, 2), mi = num(11, 2), s = num(13, 2);
  if (!y || !mo || !d || !h || !mi || !s || *h > 23 || *mi > 59 || *s > 59) return std::nullopt;
  using namespace std::chrono;
  const year_month_day ymd{year{*y}, month{static_cast<unsigned>(*mo)}, day{static_cast<unsigned>(*d)}};
  if (!ymd.ok() || *y < 1) return std::nullopt;
  return static_cast<int64_t>(sys_days{ymd}.time_since_epoch().count()) * 86400 + *h * 3600 + *mi * 60 + *s;
}

bool time_ok(int64_t ms) { return ical::utc_time(ms).has_value(); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  uint8_t head[kHeader] = {};
  std::memcpy(head, data, size < kHeader ? size : kHeader);
  const std::string_view rest = size > kHeader ? lg::fuzz::text(data + kHeader, size - kHeader) : std::string_view{};

  std::vector<std::string> f;
  for (std::size_t at = 0;;) {
    const std::size_t sep = rest.find('\x1e', at);
    f.emplace_back(rest.substr(at, sep == std::string_view::npos ? std::string_view::npos : sep - at));
    if (sep == std::string_view::npos) break;
    at = sep + 1;
  }
  f.resize(std::max<std::size_t>(f.size(), 7));

  ical::Event e;
  e.status = head[0] % 3 == 0 ? ical::EventStatus::confirmed
                              : (head[0] % 3 == 1 ? ical::EventStatus::tentative : ical::EventStatus::cancelled);
  const int64_t a = read_i64(head + 1), b = read_i64(head + 9), c = read_i64(head + 17);
  if (head[0] & 0x80) {  // raw 64-bit instants: the edges of the range
    e.start_ms = a;
    e.end_ms = b;
    e.stamp_ms = c;
  } else {  // seconds near 1970 (int32) with milliseconds; the length in ms (int32, may be <= 0)
    e.start_ms = static_cast<int64_t>(static_cast<int32_t>(a)) * 1000 + static_cast<int64_t>((a >> 32) & 0x3ff) % 1000;
    e.end_ms = e.start_ms + static_cast<int32_t>(b);
    e.stamp_ms = static_cast<int64_t>(static_cast<int32_t>(c)) * 1000;
  }
  e.uid = f[0];
  e.summary = f[1];
  e.location = f[2];
  e.description = f[3];
  e.url = f[4];
  ical::Calendar cal{f[5], f[6], {e}};

  // clean_text on every field: valid UTF-8, only HTAB and LF as controls, idempotent, and the
  // identity on text that is already clean.
  for (const auto& s : f) {
    const std::string cleaned = ical::clean_text(s);
    FUZZ_CHECK(already_clean(cleaned));
    FUZZ_CHECK(ical::clean_text(cleaned) == cleaned);
    if (already_clean(s)) FUZZ_CHECK(cleaned == s);
  }

  // Which refusal the fields call for, the first in the writer's order ("" for none).
  const std::string uid = ical::clean_text(e.uid);
  const std::string who = "event '" + uid + "': ";
  std::string expect;
  if (ical::clean_text(cal.prodid).empty())
    expect = "calendar: PRODID is empty";
  else if (uid.empty())
    expect = "event: UID is empty";
  else if (!time_ok(e.stamp_ms))
    expect = who + "DTSTAMP: ";
  else if (!time_ok(e.start_ms))
    expect = who + "DTSTART: ";
  else if (!time_ok(e.end_ms))
    expect = who + "DTEND: ";
  else if (floor_seconds(e.end_ms) <= floor_seconds(e.start_ms))
    expect = who + "DTEND ";
  else if (!e.url.empty() && !ical::uri_chars_only(e.url))
    expect = who + "URL holds";

  auto text = ical::write(cal);
  if (!text) {
    FUZZ_CHECK(!expect.empty());
    FUZZ_CHECK(text.error().reason.rfind(expect, 0) == 0);
    return 0;
  }
  FUZZ_CHECK(expect.empty());

  std::string why;
  auto props = ical::test::read(*text, why);
  if (!props) std::fprintf(stderr, "ical: %s\n", why.c_str());
  FUZZ_CHECK(props.has_value());

  // The properties in the writer's order, optional ones only when their field is not empty.
  std::size_t i = 0;
  auto next = [&](std::string_view name) -> const std::string& {
    FUZZ_CHECK(i < props->size());
    FUZZ_CHECK((*props)[i].name == name);
    return (*props)[i++].value;
  };
  auto text_back = [&](std::string_view name, const std::string& field) {
    auto back = ical::test::unescape_text(next(name));
    FUZZ_CHECK(back.has_value());
    FUZZ_CHECK(*back == ical::clean_text(field));
  };
  auto time_back = [&](std::string_view name, int64_t ms) {
    auto s = seconds_of(next(name));
    FUZZ_CHECK(s.has_value());
    FUZZ_CHECK(*s == floor_seconds(ms));
  };
  FUZZ_CHECK(next("BEGIN") == "VCALENDAR");
  FUZZ_CHECK(next("VERSION") == "2.0");
  text_back("PRODID", cal.prodid);
  FUZZ_CHECK(next("CALSCALE") == "GREGORIAN");
  FUZZ_CHECK(next("METHOD") == "PUBLISH");
  if (!ical::clean_text(cal.name).empty()) {
    text_back("NAME", cal.name);
    text_back("X-WR-CALNAME", cal.name);
  }
  FUZZ_CHECK(next("BEGIN") == "VEVENT");
  text_back("UID", e.uid);
  time_back("DTSTAMP", e.stamp_ms);
  time_back("DTSTART", e.start_ms);
  time_back("DTEND", e.end_ms);
  if (!ical::clean_text(e.summary).empty()) text_back("SUMMARY", e.summary);
  if (!ical::clean_text(e.location).empty()) text_back("LOCATION", e.location);
  if (!ical::clean_text(e.description).empty()) text_back("DESCRIPTION", e.description);
  FUZZ_CHECK(ical::event_status_from(next("STATUS")) == e.status);
  if (!e.url.empty()) FUZZ_CHECK(next("URL") == e.url);
  FUZZ_CHECK(next("END") == "VEVENT");
  FUZZ_CHECK(next("END") == "VCALENDAR");
  FUZZ_CHECK(i == props->size());
  return 0;
}
