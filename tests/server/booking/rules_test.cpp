#include <doctest/doctest.h>

#include "labgate/common/time.hpp"
#include "server/booking/rules.hpp"

using namespace lg::server;
using namespace lg::server::booking;

TEST_CASE("overlaps treats bookings as half-open intervals") {
  CHECK(overlaps(0, 10, 5, 15));
  CHECK(overlaps(5, 15, 0, 10));
  CHECK(overlaps(0, 10, 2, 3));   // contained
  CHECK(overlaps(2, 3, 0, 10));   // containing
  CHECK(overlaps(0, 10, 0, 10));  // identical
  CHECK_FALSE(overlaps(0, 10, 10, 20));  // back to back
  CHECK_FALSE(overlaps(10, 20, 0, 10));
  CHECK_FALSE(overlaps(0, 10, 11, 20));
}

TEST_CASE("validate requires end after start and a bounded length") {
  CHECK_FALSE(validate(0, 1).has_value());
  REQUIRE(validate(10, 10).has_value());
  CHECK(validate(10, 10)->find("end") == 0);
  CHECK(validate(10, 5).has_value());
  CHECK(validate(0, kMaxBookingMs + 1).has_value());
  CHECK_FALSE(validate(0, kMaxBookingMs).has_value());
}

TEST_CASE("find_conflict only looks at the same instrument") {
  std::vector<Booking> existing{{"b1", "xrd", "alice", 0, 100}, {"b2", "sem", "bob", 100, 200}};
  Booking c{"", "xrd", "bob", 50, 150};
  const Booking* hit = find_conflict(existing, c);
  REQUIRE(hit != nullptr);
  CHECK(hit->id == "b1");
  CHECK(find_conflict(existing, Booking{"", "xrd", "bob", 100, 200}) == nullptr);
  CHECK(find_conflict(existing, Booking{"", "tem", "bob", 0, 1000}) == nullptr);
}

TEST_CASE("admission: instrument and user known, qualified for the whole booking (or admin), no overlap") {
  using namespace lg::server::booking;
  const int64_t h = 3'600'000;
  const Booking b{"new", "xrd", "alice", 10 * h, 12 * h};
  AdmissionFacts f;
  f.instrument_known = true;
  f.user_known = true;
  CHECK(admit(b, f).verdict == Admit::not_qualified);
  f.qualification = Qualification{"alice", "xrd", 0, std::nullopt};
  CHECK(admit(b, f).verdict == Admit::ok);
  f.qualification = Qualification{"alice", "xrd", 0, 11 * h};  // ends inside the booking
  auto partial = admit(b, f);
  CHECK(partial.verdict == Admit::not_qualified);
  CHECK(partial.reason.find("covering the booking") != std::string::npos);
  f.user_admin = true;  // an admin needs no qualification
  CHECK(admit(b, f).verdict == Admit::ok);
  f.overlapping = {Booking{"b1", "xrd", "bob", 11 * h, 13 * h}};
  auto clash = admit(b, f);
  CHECK(clash.verdict == Admit::overlaps);
  CHECK(clash.conflict == "b1");
  f.overlapping = {Booking{"b2", "xrd", "bob", 12 * h, 13 * h}};  // back to back
  CHECK(admit(b, f).verdict == Admit::ok);
  f.user_known = false;
  CHECK(admit(b, f).verdict == Admit::unknown_user);
  f.instrument_known = false;
  CHECK(admit(b, f).verdict == Admit::unknown_instrument);
}

TEST_CASE("cancel and move rules: a cancelled booking is not cancelled again nor moved, and overlaps nothing") {
  const Booking b{"b1", "xrd", "alice", 100, 200};
  CHECK_FALSE(can_cancel(b).has_value());
  const Booking c = cancelled(b, 50, "sample not ready");
  CHECK(c.status == BookingStatus::cancelled);
  CHECK(c.cancelled_ms == 50);
  CHECK(c.cancel_reason == "sample not ready");
  CHECK(c.start_ms == 100);
  REQUIRE(can_cancel(c).has_value());
  CHECK(can_cancel(c)->find("cancelled already") != std::string::npos);

  CHECK_FALSE(can_move(b, 300, 400).has_value());
  REQUIRE(can_move(b, 400, 300).has_value());  // validate() applies
  CHECK(can_move(b, 400, 300)->find("end") == 0);
  CHECK(can_move(c, 300, 400).has_value());
  const Booking m = moved(b, 300, 400);
  CHECK(m.id == "b1");
  CHECK(m.start_ms == 300);
  CHECK(m.end_ms == 400);

  // a cancelled booking is no conflict; the booking itself (same id) is none either
  CHECK(find_conflict({c}, Booking{"new", "xrd", "bob", 150, 250}) == nullptr);
  CHECK(find_conflict({b}, moved(b, 150, 250)) == nullptr);
  CHECK(find_conflict({b}, Booking{"new", "xrd", "bob", 150, 250}) != nullptr);
  CHECK(to_string(BookingStatus::cancelled) == std::string("cancelled"));
  CHECK(booking_status_from("active") == BookingStatus::active);
  CHECK_FALSE(booking_status_from("deleted").has_value());
}

TEST_CASE("calendar_event: a booking as the feed's event, its status, names and the feed's first start") {
  const Booking b{"b1", "xrd", "alice", 3'600'000, 7'200'000};
  const auto e = calendar_event(b, EventPlace{"Powder XRD", "X-ray lab"}, "demo", 42'000);
  CHECK(e.uid == "b1@demo");
  CHECK(e.stamp_ms == 42'000);
  CHECK(e.start_ms == 3'600'000);
  CHECK(e.end_ms == 7'200'000);
  CHECK(e.summary == "Powder XRD");
  CHECK(e.location == "X-ray lab");
  CHECK(e.description == "Booking b1\nInstrument: xrd\nUser: alice");
  CHECK(e.status == lg::ical::EventStatus::confirmed);

  // Cancelled: CANCELLED, with the reason when one was given.
  const auto c = calendar_event(cancelled(b, 1000, "sample not ready"), EventPlace{"Powder XRD", ""}, "demo", 42'000);
  CHECK(c.status == lg::ical::EventStatus::cancelled);
  CHECK(c.description == "Booking b1\nInstrument: xrd\nUser: alice\nCancelled: sample not ready");
  CHECK(c.location.empty());
  CHECK(calendar_event(cancelled(b, 1000, ""), EventPlace{}, "demo", 0).description ==
        "Booking b1\nInstrument: xrd\nUser: alice\nCancelled");
  // An instrument the directory no longer names: its id.
  CHECK(calendar_event(b, EventPlace{}, "demo", 0).summary == "xrd");

  // The feed starts the longest booking back, so a booking still running at now is in it.
  CHECK(feed_from(kMaxBookingMs + 5) == 5);
}

TEST_CASE("admission by level: below after_hours only within the staffed hours, not on a holiday") {
  auto ms = [](const char* s) { return *lg::time::parse_utc(s); };
  AdmissionFacts f;
  f.instrument_known = true;
  f.user_known = true;
  f.rules.policy = default_policy("nmr");
  f.rules.tz = "Asia/Shanghai";
  f.rules.now_ms = ms("2027-01-10T00:00:00Z");
  f.qualification = Qualification{"alice", "nmr", 0, std::nullopt, QualificationLevel::independent};
  // Monday 2027-01-11, 10:00-12:00 in Shanghai: staffed (the default Monday to Friday 08:00-18:00)
  const Booking day{"b", "nmr", "alice", ms("2027-01-11T02:00:00Z"), ms("2027-01-11T04:00:00Z")};
  CHECK(admit(day, f).verdict == Admit::ok);
  // 20:00-22:00: not staffed
  const Booking night{"b", "nmr", "alice", ms("2027-01-11T12:00:00Z"), ms("2027-01-11T14:00:00Z")};
  auto refused = admit(night, f);
  CHECK(refused.verdict == Admit::outside_rules);
  CHECK(refused.rule == "outside_hours");
  CHECK(refused.reason.find("qualified independent") != std::string::npos);
  CHECK(refused.reason.find("2027-01-11 20:00:00 +08:00") != std::string::npos);
  // 17:00-19:00 runs past the end of the staffed hours: refused as well
  CHECK(admit(Booking{"b", "nmr", "alice", ms("2027-01-11T09:00:00Z"), ms("2027-01-11T11:00:00Z")}, f).rule ==
        "outside_hours");
  // Saturday: not staffed
  CHECK(admit(Booking{"b", "nmr", "alice", ms("2027-01-16T02:00:00Z"), ms("2027-01-16T04:00:00Z")}, f).rule ==
        "outside_hours");
  // the instrument's own staffed hours: Saturday mornings too
  WeekHours staffed = default_staffed_hours();
  staffed.days[5].push_back(DaySpan{9 * 60, 12 * 60});
  f.rules.policy.staffed = staffed;
  CHECK(admit(Booking{"b", "nmr", "alice", ms("2027-01-16T02:00:00Z"), ms("2027-01-16T04:00:00Z")}, f).verdict ==
        Admit::ok);
  // after_hours: the night is fine; supervised: the day only, like independent
  f.qualification->level = QualificationLevel::after_hours;
  CHECK(admit(night, f).verdict == Admit::ok);
  f.qualification->level = QualificationLevel::supervised;
  CHECK(admit(night, f).rule == "outside_hours");
  CHECK(admit(day, f).verdict == Admit::ok);
  // a site holiday over the day: not staffed (the closure rule refuses a booking there anyway,
  // and within_staffed says why the terminal would refuse it)
  const std::vector<Closure> holiday{{"h1", "", ClosureKind::holiday, ms("2027-01-10T16:00:00Z"), ms("2027-01-11T16:00:00Z"), "x"}};
  CHECK_FALSE(within_staffed(default_staffed_hours(), holiday, day.start_ms, day.end_ms, "Asia/Shanghai"));
  CHECK(within_staffed(default_staffed_hours(), {}, day.start_ms, day.end_ms, "Asia/Shanghai"));
  const std::vector<Closure> maintenance{{"m1", "nmr", ClosureKind::maintenance, day.start_ms, day.end_ms, "x"}};
  CHECK(within_staffed(default_staffed_hours(), maintenance, day.start_ms, day.end_ms, "Asia/Shanghai"));
}

TEST_CASE("admission: a qualification unused for the policy's lapse months cannot book past its lapse") {
  auto ms = [](const char* s) { return *lg::time::parse_utc(s); };
  AdmissionFacts f;
  f.instrument_known = true;
  f.user_known = true;
  f.rules.policy = default_policy("nmr");
  f.rules.policy.lapse_months = 3;
  f.rules.tz = "UTC";
  f.rules.now_ms = ms("2026-11-01T00:00:00Z");
  f.qualification = Qualification{"alice", "nmr", ms("2026-09-01T00:00:00Z"), std::nullopt};
  const Booking b{"b", "nmr", "alice", ms("2026-12-02T02:00:00Z"), ms("2026-12-02T04:00:00Z")};
  auto lapsed = admit(b, f);
  CHECK(lapsed.verdict == Admit::not_qualified);
  CHECK(lapsed.reason.find("lapses at 2026-12-01") != std::string::npos);
  CHECK(lapsed.reason.find("unused for 3 months") != std::string::npos);
  // used on 2026-10-15: it holds until 2027-01-15
  f.last_use_ms = ms("2026-10-15T08:00:00Z");
  CHECK(admit(b, f).verdict == Admit::ok);
  // no rule: never lapses
  f.last_use_ms.reset();
  f.rules.policy.lapse_months = 0;
  CHECK(admit(b, f).verdict == Admit::ok);
}

TEST_CASE("rrule subset: parsed with every refusal named") {
  auto r = parse_rrule("FREQ=WEEKLY;COUNT=8;BYDAY=WE,MO;INTERVAL=2");
  REQUIRE(r);
  CHECK(r->freq == Recurrence::Freq::weekly);
  CHECK(r->count == 8);
  CHECK(r->interval == 2);
  CHECK(r->byday == std::vector<int32_t>{1, 3});
  auto until = parse_rrule("FREQ=DAILY;UNTIL=20270131T160000Z");
  REQUIRE(until);
  CHECK(until->until_ms == *lg::time::parse_utc("2027-01-31T16:00:00Z"));
  for (const auto& [text, why] : std::vector<std::pair<const char*, const char*>>{
           {"COUNT=3", "FREQ is required"},
           {"FREQ=MONTHLY;COUNT=3", "not DAILY or WEEKLY"},
           {"FREQ=WEEKLY", "exactly one of COUNT and UNTIL"},
           {"FREQ=WEEKLY;COUNT=3;UNTIL=20270131T160000Z", "exactly one of COUNT and UNTIL"},
           {"FREQ=WEEKLY;COUNT=101", "COUNT must be 1 to 100"},
           {"FREQ=WEEKLY;COUNT=0", "COUNT must be 1 to 100"},
           {"FREQ=WEEKLY;COUNT=3;INTERVAL=0", "INTERVAL must be 1 to 52"},
           {"FREQ=WEEKLY;COUNT=3;BYDAY=1MO", "BYDAY: '1MO'"},
           {"FREQ=DAILY;COUNT=3;BYDAY=MO", "BYDAY only with FREQ=WEEKLY"},
           {"FREQ=WEEKLY;UNTIL=2027-01-31", "UNTIL must be a UTC time"},
           {"FREQ=WEEKLY;COUNT=3;BYMONTH=1", "BYMONTH is not supported"},
           {"FREQ=WEEKLY;COUNT", "is not NAME=VALUE"}}) {
    auto bad = parse_rrule(text);
    INFO(text);
    REQUIRE_FALSE(bad);
    CHECK(bad.error().reason.find(why) != std::string::npos);
  }
}

TEST_CASE("rrule expansion: the same local time each week or day, COUNT and UNTIL, BYDAY from the start on") {
  auto ms = [](const char* s) { return *lg::time::parse_utc(s); };
  const int64_t h = 3'600'000;
  // Wednesday 2027-01-13 10:00-12:00 in Shanghai (02:00Z)
  const int64_t start = ms("2027-01-13T02:00:00Z");
  auto weekly = expand(*parse_rrule("FREQ=WEEKLY;COUNT=3"), start, start + 2 * h, "Asia/Shanghai");
  REQUIRE(weekly);
  REQUIRE(weekly->size() == 3);
  CHECK((*weekly)[0] == std::pair{start, start + 2 * h});
  CHECK((*weekly)[2].first == ms("2027-01-27T02:00:00Z"));
  // Mondays and Wednesdays from a Wednesday: the Monday before it is not in the series
  auto mw = expand(*parse_rrule("FREQ=WEEKLY;COUNT=4;BYDAY=MO,WE"), start, start + h, "Asia/Shanghai");
  REQUIRE(mw);
  REQUIRE(mw->size() == 4);
  CHECK((*mw)[0].first == start);
  CHECK((*mw)[1].first == ms("2027-01-18T02:00:00Z"));
  CHECK((*mw)[3].first == ms("2027-01-25T02:00:00Z"));
  // every other day until (and including) the 19th
  auto daily = expand(*parse_rrule("FREQ=DAILY;INTERVAL=2;UNTIL=20270119T020000Z"), start, start + h, "Asia/Shanghai");
  REQUIRE(daily);
  CHECK(daily->size() == 4);  // 13, 15, 17, 19
  // local time kept across a DST change (Berlin: 10:00 local is 09:00Z in March, 08:00Z in April)
  auto berlin = expand(*parse_rrule("FREQ=WEEKLY;COUNT=3"), ms("2027-03-22T09:00:00Z"), ms("2027-03-22T10:00:00Z"),
                       "Europe/Berlin");
  REQUIRE(berlin);
  CHECK((*berlin)[2].first == ms("2027-04-05T08:00:00Z"));
  // more than 100: refused
  CHECK_FALSE(expand(*parse_rrule("FREQ=DAILY;UNTIL=20300101T000000Z"), start, start + h, "Asia/Shanghai"));
}
