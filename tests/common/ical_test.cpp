// The RFC 5545 writer (common/include/labgate/common/ical.hpp): TEXT escaping, folding at 75
// octets around multibyte characters and escapes, CRLF, UTC times, invalid UTF-8 and control
// characters, and what it refuses. tests/common/ical_reader.hpp reads the output back strictly.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <map>

#include "ical_reader.hpp"
#include "labgate/common/ical.hpp"
#include "labgate/common/time.hpp"

using namespace lg;

namespace {

int64_t ms(const char* rfc3339) { return *time::parse_utc(rfc3339); }

ical::Event event(std::string uid = "b1@demo") {
  ical::Event e;
  e.uid = std::move(uid);
  e.stamp_ms = ms("2026-01-15T00:00:00Z");
  e.start_ms = ms("2026-03-01T08:00:00Z");
  e.end_ms = ms("2026-03-01T10:30:00Z");
  e.summary = "XRD";
  return e;
}

ical::Calendar calendar(std::vector<ical::Event> events) {
  return ical::Calendar{"-//labgate//labgate test//EN", "labgate demo bookings", std::move(events)};
}

/// The physical lines of text without their CRLF (text must end CRLF).
std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::size_t at = 0;
  while (at < text.size()) {
    const auto end = text.find("\r\n", at);
    REQUIRE(end != std::string::npos);
    out.push_back(text.substr(at, end - at));
    at = end + 2;
  }
  return out;
}

/// The value of the first property called name, read back from the whole calendar.
std::string value_of(const std::string& text, const std::string& name) {
  std::string why;
  auto props = ical::test::read(text, why);
  REQUIRE_MESSAGE(props, why);
  for (const auto& p : *props)
    if (p.name == name) return p.value;
  FAIL("no property " << name);
  return "";
}

std::string folded_summary(const std::string& summary) {
  auto e = event();
  e.summary = summary;
  auto text = ical::write(calendar({e}));
  REQUIRE_MESSAGE(text, text.error().reason);
  return *text;
}

/// The physical lines of the SUMMARY property (its first line and its continuations).
std::vector<std::string> summary_lines(const std::string& text) {
  const auto all = lines(text);
  std::vector<std::string> out;
  for (std::size_t i = 0; i < all.size(); ++i) {
    if (all[i].rfind("SUMMARY:", 0) != 0) continue;
    out.push_back(all[i]);
    while (++i < all.size() && !all[i].empty() && all[i][0] == ' ') out.push_back(all[i]);
    break;
  }
  return out;
}

}  // namespace

TEST_CASE("ical: a calendar is CRLF lines in the RFC 5545 order, the event's properties as given") {
  auto e = event();
  e.location = "X-ray lab";
  e.description = "Booking b1";
  e.url = "https://labgate.example/bookings/b1";
  auto text = ical::write(calendar({e}));
  REQUIRE_MESSAGE(text, text.error().reason);
  CHECK(*text ==
        "BEGIN:VCALENDAR\r\n"
        "VERSION:2.0\r\n"
        "PRODID:-//labgate//labgate test//EN\r\n"
        "CALSCALE:GREGORIAN\r\n"
        "METHOD:PUBLISH\r\n"
        "NAME:labgate demo bookings\r\n"
        "X-WR-CALNAME:labgate demo bookings\r\n"
        "BEGIN:VEVENT\r\n"
        "UID:b1@demo\r\n"
        "DTSTAMP:20260115T000000Z\r\n"
        "DTSTART:20260301T080000Z\r\n"
        "DTEND:20260301T103000Z\r\n"
        "SUMMARY:XRD\r\n"
        "LOCATION:X-ray lab\r\n"
        "DESCRIPTION:Booking b1\r\n"
        "STATUS:CONFIRMED\r\n"
        "URL:https://labgate.example/bookings/b1\r\n"
        "END:VEVENT\r\n"
        "END:VCALENDAR\r\n");
  // No LF without its CR, no CR without its LF.
  CHECK(std::count(text->begin(), text->end(), '\n') == std::count(text->begin(), text->end(), '\r'));
  for (std::size_t i = 0; i < text->size(); ++i)
    if ((*text)[i] == '\n') CHECK((i > 0 && (*text)[i - 1] == '\r'));

  // Empty optional properties are left out; statuses as RFC 5545 spells them.
  auto bare = event();
  bare.summary.clear();
  bare.status = ical::EventStatus::cancelled;
  auto t2 = ical::write(calendar({bare, event("b2@demo")}));
  REQUIRE(t2);
  CHECK(t2->find("SUMMARY:XRD") != std::string::npos);
  CHECK(t2->find("LOCATION") == std::string::npos);
  CHECK(t2->find("STATUS:CANCELLED\r\n") != std::string::npos);
  CHECK(t2->find("STATUS:CONFIRMED\r\n") != std::string::npos);
  CHECK(ical::event_status_from("TENTATIVE") == ical::EventStatus::tentative);
  CHECK(std::string(ical::to_string(ical::EventStatus::tentative)) == "TENTATIVE");
  CHECK_FALSE(ical::event_status_from("confirmed"));
  // A calendar without a name has neither NAME nor X-WR-CALNAME.
  auto t3 = ical::write(ical::Calendar{"-//x//y//EN", "", {}});
  REQUIRE(t3);
  CHECK(*t3 ==
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//y//"
        "EN\r\nCALSCALE:GREGORIAN\r\nMETHOD:PUBLISH\r\nEND:VCALENDAR\r\n");
}

TEST_CASE("ical: TEXT escapes backslash, semicolon, comma and line breaks, and keeps colon and quote") {
  CHECK(ical::escape_text("a\\b;c,d\ne:f\"g\th") == "a\\\\b\\;c\\,d\\ne:f\"g\th");
  const std::string text = folded_summary("Raman; room 3, \"left\"\\bench\nask Li: 张伟");
  CHECK(value_of(text, "SUMMARY") == "Raman\\; room 3\\, \"left\"\\\\bench\\nask Li: 张伟");
  CHECK(ical::test::unescape_text(value_of(text, "SUMMARY")) == "Raman; room 3, \"left\"\\bench\nask Li: 张伟");
  // Every TEXT property is escaped, PRODID and the calendar's name too.
  auto t = ical::write(ical::Calendar{"-//a,b//c;d//EN", "x,y", {}});
  REQUIRE(t);
  CHECK(t->find("PRODID:-//a\\,b//c\\;d//EN\r\n") != std::string::npos);
  CHECK(t->find("NAME:x\\,y\r\n") != std::string::npos);
}

TEST_CASE("ical: line breaks are LF, CRLF or a lone CR, other control characters are removed, HTAB kept") {
  CHECK(ical::clean_text("a\r\nb\rc\nd") == "a\nb\nc\nd");
  CHECK(ical::clean_text("a\r\r\nb") == "a\n\nb");
  const char raw[] = "a\0b\x01\x1b[31mc\x7f\td\x1f";
  CHECK(ical::clean_text(std::string(raw, sizeof raw - 1)) == "ab[31mc\td");
  CHECK(ical::clean_text("\x01\x02") == "");
  // C1 controls are characters of UTF-8 text that TEXT allows (NON-US-ASCII): kept.
  CHECK(ical::clean_text("a\xC2\x85z") == "a\xC2\x85z");
  const char bell[] = "two\r\nlines\x07 and\ra bell\0";
  const std::string text = folded_summary(std::string(bell, sizeof bell - 1));
  CHECK(value_of(text, "SUMMARY") == "two\\nlines and\\na bell");
  // A value that is all control characters is empty: the property is left out.
  CHECK(folded_summary("\x01\x02\x03").find("SUMMARY") == std::string::npos);
}

TEST_CASE("ical: invalid UTF-8 is replaced byte by byte with U+FFFD, valid text passes unchanged") {
  const std::string fffd = "\xEF\xBF\xBD";
  CHECK(ical::clean_text("张伟 Müller 😀") == "张伟 Müller 😀");
  CHECK(ical::clean_text(std::string("a\xFF") + "b") == "a" + fffd + "b");
  // 张伟 in GBK: D5 and C5 start no sequence that holds; CE B0 happens to be U+03B0.
  CHECK(ical::clean_text("\xD5\xC5\xCE\xB0") == fffd + fffd + "\xCE\xB0");
  CHECK(ical::clean_text("x\xE5\xBC") == "x" + fffd + fffd);                 // truncated 张
  CHECK(ical::clean_text("\xC0\xAF") == fffd + fffd);                        // overlong '/'
  CHECK(ical::clean_text("\xED\xA0\x80") == fffd + fffd + fffd);             // U+D800, a surrogate
  CHECK(ical::clean_text("\xF4\x90\x80\x80") == fffd + fffd + fffd + fffd);  // above U+10FFFF
  CHECK(ical::clean_text("\x80z") == fffd + "z");                            // a lone continuation
  const std::string text = folded_summary("bad \xFF name");
  CHECK(csv::valid_utf8(text));
  CHECK(value_of(text, "SUMMARY") == "bad " + fffd + " name");
}

TEST_CASE("ical: content lines fold at exactly 75 octets, never inside a UTF-8 sequence or an escape") {
  // "SUMMARY:" is 8 octets.
  SUBCASE("75 octets stay one line, 76 fold after 75") {
    auto l75 = summary_lines(folded_summary(std::string(67, 'a')));
    REQUIRE(l75.size() == 1);
    CHECK(l75[0].size() == 75);
    auto l76 = summary_lines(folded_summary(std::string(68, 'a')));
    REQUIRE(l76.size() == 2);
    CHECK(l76[0].size() == 75);
    CHECK(l76[1] == " a");
  }
  SUBCASE("a 3-octet character that would end at octet 77 moves whole to the next line") {
    auto l = summary_lines(folded_summary(std::string(66, 'a') + "张x"));
    REQUIRE(l.size() == 2);
    CHECK(l[0].size() == 74);
    CHECK(l[1] == " 张x");
  }
  SUBCASE("a 3-octet character ending at octet 75 stays") {
    auto l = summary_lines(folded_summary(std::string(64, 'a') + "张x"));
    REQUIRE(l.size() == 2);
    CHECK(l[0].size() == 75);
    CHECK(l[0].substr(72) == "张");
    CHECK(l[1] == " x");
  }
  SUBCASE("2- and 4-octet characters across the boundary") {
    auto l2 = summary_lines(folded_summary(std::string(66, 'a') + "éé"));  // é ends at 76: moves
    REQUIRE(l2.size() == 2);
    CHECK(l2[0].size() == 74);
    CHECK(l2[1] == " éé");
    auto l4 = summary_lines(folded_summary(std::string(65, 'a') + "😀"));  // ends at 77: moves
    REQUIRE(l4.size() == 2);
    CHECK(l4[0].size() == 73);
    CHECK(l4[1] == " 😀");
  }
  SUBCASE("an escape is not split from its backslash") {
    auto l = summary_lines(folded_summary(std::string(66, 'a') + ",b"));
    REQUIRE(l.size() == 2);
    CHECK(l[0].size() == 74);
    CHECK(l[1] == " \\,b");
  }
  SUBCASE("a long all-multibyte value: every line at most 75 octets and valid UTF-8, unfolds back") {
    std::string name;
    for (int i = 0; i < 100; ++i) name += "张伟";
    const std::string text = folded_summary(name);
    for (const auto& l : lines(text)) {
      CHECK(l.size() <= ical::kMaxLineOctets);
      CHECK(csv::valid_utf8(l));
    }
    auto l = summary_lines(text);
    CHECK(l.size() == 9);  // 8 + 600 octets: 74 (SUMMARY: + 22 chars), then 24 chars (73 octets) a line
    CHECK(value_of(text, "SUMMARY") == name);
  }
  // fold() itself: the line is never split when it fits, a continuation starts with one space.
  CHECK(ical::fold("A:b") == "A:b\r\n");
  CHECK(ical::fold(std::string(150, 'x')) == std::string(75, 'x') + "\r\n " + std::string(74, 'x') + "\r\n " + "x\r\n");
}

TEST_CASE("ical: times are UTC YYYYMMDDTHHMMSSZ, milliseconds rounded down, years 0001..9999 only") {
  CHECK(*ical::utc_time(0) == "19700101T000000Z");
  CHECK(*ical::utc_time(ms("2026-03-01T08:00:00.999Z")) == "20260301T080000Z");
  CHECK(*ical::utc_time(ms("2024-02-29T23:59:59Z")) == "20240229T235959Z");
  CHECK(*ical::utc_time(ms("2026-03-01T16:00:00+08:00")) == "20260301T080000Z");  // one instant, one text
  CHECK(*ical::utc_time(-1) == "19691231T235959Z");
  CHECK(*ical::utc_time(ms("0001-01-01T00:00:00Z")) == "00010101T000000Z");
  CHECK(*ical::utc_time(ms("9999-12-31T23:59:59.999Z")) == "99991231T235959Z");
  CHECK_FALSE(ical::utc_time(ms("0001-01-01T00:00:00Z") - 1));
  CHECK_FALSE(ical::utc_time(ms("9999-12-31T23:59:59.999Z") + 1));
  CHECK_FALSE(ical::utc_time(INT64_MIN));
  CHECK(ical::utc_time(INT64_MAX).error().reason.find("outside the years 0001..9999") != std::string::npos);
}

TEST_CASE("ical: refused: an end not after the start, an empty UID or PRODID, a bad URL, a time out of range") {
  auto refused = [](const ical::Event& e) {
    auto t = ical::write(calendar({event("ok@demo"), e}));
    REQUIRE_FALSE(t);
    return t.error().reason;
  };
  auto e = event();
  e.end_ms = e.start_ms - 60'000;
  CHECK(refused(e) == "event 'b1@demo': DTEND 20260301T075900Z is not after DTSTART 20260301T080000Z");
  e.end_ms = e.start_ms;
  CHECK(refused(e).find("is not after DTSTART") != std::string::npos);
  e.end_ms = e.start_ms + 999;  // the same second once written
  CHECK(refused(e).find("is not after DTSTART") != std::string::npos);
  e.end_ms = e.start_ms + 1000;
  CHECK(ical::write(calendar({e})));

  auto no_uid = event("\x01\x02");
  CHECK(refused(no_uid) == "event: UID is empty");
  CHECK(ical::write(ical::Calendar{"\x01\x7f", "x", {}}).error().reason == "calendar: PRODID is empty");

  auto url = event();
  url.url = "https://x.example/a b";
  CHECK(refused(url) == "event 'b1@demo': URL holds a character a URI may not (RFC 3986)");
  url.url = "https://x.example/\r\nX-EVIL:1";
  CHECK(refused(url).find("URL") != std::string::npos);
  CHECK(ical::uri_chars_only("https://x.example/a?b=c&d=%20#f"));
  CHECK_FALSE(ical::uri_chars_only("https://x.example/\"<>"));
  CHECK_FALSE(ical::uri_chars_only(""));

  auto far = event();
  far.start_ms = ms("9999-12-31T23:00:00Z");
  far.end_ms = far.start_ms + 3'600'000;  // 10000-01-01
  CHECK(refused(far).find("event 'b1@demo': DTEND: time ") == 0);
  auto stamp = event();
  stamp.stamp_ms = INT64_MIN;
  CHECK(refused(stamp).find("DTSTAMP: ") != std::string::npos);
}

TEST_CASE("ical: whatever the fields hold, the output reads back to the cleaned fields") {
  auto e = event(std::string("id;1,\\x\n\xFF@demo"));
  e.summary = std::string(70, 'a') + "张;,\\\r\n\t\x01" + std::string(80, 'b');
  e.location = "😀😀😀" + std::string(73, ',');
  e.description = "Booking b1\nInstrument: inst-c\nUser: stu-c";
  auto text = ical::write(calendar({e}));
  REQUIRE_MESSAGE(text, text.error().reason);
  std::string why;
  auto props = ical::test::read(*text, why);
  REQUIRE_MESSAGE(props, why);
  std::map<std::string, std::string> got;
  for (const auto& p : *props)
    if (p.name != "BEGIN" && p.name != "END") got[p.name] = p.value;
  CHECK(ical::test::unescape_text(got["UID"]) == ical::clean_text(e.uid));
  CHECK(ical::test::unescape_text(got["SUMMARY"]) == ical::clean_text(e.summary));
  CHECK(ical::test::unescape_text(got["LOCATION"]) == e.location);
  CHECK(ical::test::unescape_text(got["DESCRIPTION"]) == e.description);
  CHECK(got["DTSTART"] == "20260301T080000Z");
  CHECK(got["DTEND"] == "20260301T103000Z");
}
