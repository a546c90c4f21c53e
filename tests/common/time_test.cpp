// Time: RFC 3339 round trips and month boundaries in the site's time zone.
#include <doctest/doctest.h>

#include "labgate/common/time.hpp"

using namespace lg::time;

TEST_CASE("RFC 3339 format and parse") {
  CHECK(format_utc(0) == "1970-01-01T00:00:00.000Z");
  const auto t = parse_utc("2026-11-27T08:15:30.250Z");
  REQUIRE(t);
  CHECK(format_utc(*t) == "2026-11-27T08:15:30.250Z");
  CHECK(*parse_utc("2026-11-27T16:15:30.250+08:00") == *t);
  CHECK(*parse_utc("2026-11-27T08:15:30Z") == *t - 250);
  CHECK_FALSE(parse_utc("2026-11-27 08:15:30"));
  CHECK_FALSE(parse_utc("2026-02-30T00:00:00Z"));
  CHECK_FALSE(parse_utc("2026-11-27T08:15:30.Z"));
  CHECK_FALSE(parse_utc("2026-11-27T08:15:30Zjunk"));
}

TEST_CASE("months in Asia/Shanghai start at 16:00 UTC the day before") {
  auto start = local_month_start("2026-12", "Asia/Shanghai");
  REQUIRE(start);
  CHECK(format_utc(*start) == "2026-11-30T16:00:00.000Z");
  CHECK(*local_month(*start, "Asia/Shanghai") == "2026-12");
  CHECK(*local_month(*start - 1, "Asia/Shanghai") == "2026-11");
  CHECK(*next_month("2026-12") == "2027-01");
  CHECK_FALSE(local_month_start("2026-13", "Asia/Shanghai"));
  CHECK_FALSE(local_month_start("2026-12", "Mars/Olympus"));
  CHECK(*format_local(*start, "Asia/Shanghai") == "2026-12-01 00:00:00");
}

TEST_CASE("monotonic clock does not go backwards") {
  const auto a = steady_ms();
  const auto b = steady_ms();
  CHECK(b >= a);
  CHECK_FALSE(boot_id().empty());
}

TEST_CASE("format_site: RFC 3339 in the site zone with its offset, the same instant") {
  const int64_t t = *lg::time::parse_utc("2026-11-27T08:00:00.250Z");
  auto s = lg::time::format_site(t, "Asia/Shanghai");
  REQUIRE(s);
  CHECK(*s == "2026-11-27T16:00:00.250+08:00");
  CHECK(*lg::time::parse_utc(*s) == t);
  auto ny = lg::time::format_site(*lg::time::parse_utc("2026-07-01T12:00:00Z"), "America/New_York");
  REQUIRE(ny);
  CHECK(*ny == "2026-07-01T08:00:00.000-04:00");
  auto utc = lg::time::format_site(0, "UTC");
  REQUIRE(utc);
  CHECK(*utc == "1970-01-01T00:00:00.000+00:00");
  CHECK_FALSE(lg::time::format_site(t, "Mars/Olympus"));
}

TEST_CASE("format_local_offset: the site's wall time to the second, with the offset") {
  const int64_t t = *lg::time::parse_utc("2026-03-01T08:00:00.999Z");
  CHECK(*lg::time::format_local_offset(t, "Asia/Shanghai") == "2026-03-01 16:00:00 +08:00");
  CHECK(*lg::time::format_local_offset(t, "UTC") == "2026-03-01 08:00:00 +00:00");
  // the offset is the one in force at that instant (New York: EST in March 1st, EDT in July)
  CHECK(*lg::time::format_local_offset(t, "America/New_York") == "2026-03-01 03:00:00 -05:00");
  CHECK(*lg::time::format_local_offset(*lg::time::parse_utc("2026-07-01T12:00:00Z"), "America/New_York") ==
        "2026-07-01 08:00:00 -04:00");
  CHECK(*lg::time::format_local_offset(*lg::time::parse_utc("2026-01-01T00:00:00Z"), "Asia/Kolkata") ==
        "2026-01-01 05:30:00 +05:30");
  CHECK(*lg::time::format_local_offset(-1, "UTC") == "1969-12-31 23:59:59 +00:00");  // rounded down
  CHECK_FALSE(lg::time::format_local_offset(t, "Mars/Olympus"));
}

TEST_CASE("local_time, local_day_start and local_week_start read the site's calendar, DST included") {
  // 2026-03-01T20:30Z is Monday 04:30 on 2026-03-02 in Shanghai (UTC+8)
  auto t = lg::time::local_time(*lg::time::parse_utc("2026-03-01T20:30:00Z"), "Asia/Shanghai");
  REQUIRE(t.has_value());
  CHECK(t->year == 2026);
  CHECK(t->month == 3);
  CHECK(t->day == 2);
  CHECK(t->weekday == 1);
  CHECK(t->ms_of_day == (4 * 60 + 30) * 60'000);
  CHECK(t->day_start_ms == *lg::time::parse_utc("2026-03-01T16:00:00Z"));
  auto next = lg::time::local_day_start(*lg::time::parse_utc("2026-03-01T20:30:00Z"), 1, "Asia/Shanghai");
  REQUIRE(next.has_value());
  CHECK(*next == *lg::time::parse_utc("2026-03-02T16:00:00Z"));
  // Sunday 2026-03-08 23:00 local: its week began Monday 2026-03-02 00:00 local
  auto week = lg::time::local_week_start(*lg::time::parse_utc("2026-03-08T15:00:00Z"), "Asia/Shanghai");
  REQUIRE(week.has_value());
  CHECK(*week == *lg::time::parse_utc("2026-03-01T16:00:00Z"));
  // Berlin springs forward on 2026-03-29: that day has 23 hours
  auto d0 = lg::time::local_day_start(*lg::time::parse_utc("2026-03-29T12:00:00Z"), 0, "Europe/Berlin");
  auto d1 = lg::time::local_day_start(*lg::time::parse_utc("2026-03-29T12:00:00Z"), 1, "Europe/Berlin");
  REQUIRE(d0.has_value());
  REQUIRE(d1.has_value());
  CHECK(*d1 - *d0 == 23 * 3600'000LL);
  auto after = lg::time::local_time(*lg::time::parse_utc("2026-03-29T12:00:00Z"), "Europe/Berlin");
  REQUIRE(after.has_value());
  CHECK(after->ms_of_day == 14 * 3600'000LL);  // 14:00 CEST
  CHECK_FALSE(lg::time::local_time(0, "Mars/Olympus").has_value());
}

TEST_CASE("add_months: calendar months in the site zone, the month's last day when it is shorter") {
  auto at = [](const char* s) { return *parse_utc(s); };
  // 2027-01-31 10:00 in Shanghai (02:00Z) + 1 month = 2027-02-28 10:00 there
  CHECK(*add_months(at("2027-01-31T02:00:00Z"), 1, "Asia/Shanghai") == at("2027-02-28T02:00:00Z"));
  CHECK(*add_months(at("2028-01-31T02:00:00Z"), 1, "Asia/Shanghai") == at("2028-02-29T02:00:00Z"));  // leap year
  CHECK(*add_months(at("2027-01-15T02:00:00Z"), 6, "Asia/Shanghai") == at("2027-07-15T02:00:00Z"));
  CHECK(*add_months(at("2027-01-15T02:00:00Z"), 12, "Asia/Shanghai") == at("2028-01-15T02:00:00Z"));
  CHECK(*add_months(at("2027-03-31T02:00:00Z"), -1, "Asia/Shanghai") == at("2027-02-28T02:00:00Z"));
  // The local day counts: 2027-01-31 20:00Z is already 1 February in Shanghai.
  CHECK(*add_months(at("2027-01-31T20:00:00Z"), 1, "Asia/Shanghai") == at("2027-02-28T20:00:00Z"));
  CHECK(*add_months(at("2027-01-31T20:00:00Z"), 1, "UTC") == at("2027-02-28T20:00:00Z"));
  // Across a DST change the local time of day is kept (Berlin: +01:00 in January, +02:00 in May).
  CHECK(*add_months(at("2027-01-10T09:00:00Z"), 4, "Europe/Berlin") == at("2027-05-10T08:00:00Z"));
  CHECK_FALSE(add_months(0, 1, "Nowhere/Atlantis"));
}
