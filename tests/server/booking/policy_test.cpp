// The booking policy's rules over plain values (server/booking/rules.hpp): opening hours, lead
// time, length, slot grid, closures, priority windows, weekly quotas, the external share, approval
// holds and late cancellation, in the site zone (Asia/Shanghai, UTC+8).
#include <doctest/doctest.h>

#include "labgate/common/time.hpp"
#include "server/booking/rules.hpp"

using namespace lg::server;
using namespace lg::server::booking;

namespace {
const std::string kTz = "Asia/Shanghai";
constexpr int64_t kMin = 60'000;
constexpr int64_t kHour = 60 * kMin;
constexpr int64_t kDay = 24 * kHour;

/// UTC ms of an RFC 3339 time (with its offset).
int64_t at(const char* t) {
  auto ms = lg::time::parse_utc(t);
  REQUIRE(ms.has_value());
  return *ms;
}

/// Facts for a booking made on Monday 2026-03-02 07:00 local, under policy p.
PolicyFacts facts(BookingPolicy p) {
  PolicyFacts f;
  f.policy = std::move(p);
  f.tz = kTz;
  f.now_ms = at("2026-03-02T07:00:00+08:00");
  return f;
}

Booking bk(const char* from, const char* to, const std::string& user = "alice", const std::string& id = "new") {
  return Booking{id, "xrd", user, at(from), at(to)};
}

WeekHours weekdays(int32_t from_min, int32_t to_min) {
  WeekHours w;
  for (int d = 0; d < 5; ++d) w.days[d] = {DaySpan{from_min, to_min}};
  return w;
}

std::string refused_by(const Booking& b, const PolicyFacts& f) {
  auto r = check_policy(b, f);
  return r ? r->rule : std::string();
}
}  // namespace

TEST_CASE("week hours: spans and whole weeks read back as written, bad ones named") {
  CHECK(span_text(DaySpan{480, 1080}) == "08:00-18:00");
  CHECK(span_text(DaySpan{0, 1440}) == "00:00-24:00");
  CHECK(parse_span("08:30-12:00") == DaySpan{510, 720});
  CHECK(parse_span("18:00-24:00") == DaySpan{1080, 1440});
  for (const char* bad : {"8:00-12:00", "12:00-08:00", "12:00-12:00", "24:00-24:00", "08:60-09:00", "25:00-26:00",
                          "08:00", "08:00-24:30", "ab:cd-ef:gh"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_span(bad).has_value());
  }
  WeekHours w;
  w.days[0] = {DaySpan{480, 720}, DaySpan{780, 1080}};
  w.days[5] = {DaySpan{540, 720}};
  const std::string text = week_hours_text(w);
  CHECK(text == "mon 08:00-12:00 13:00-18:00; sat 09:00-12:00");
  WeekHours back;
  CHECK_FALSE(parse_week_hours(text, back).has_value());
  CHECK(back == w);
  CHECK_FALSE(parse_week_hours("", back).has_value());
  CHECK(back == WeekHours{});
  REQUIRE(parse_week_hours("mon 08:00-12:00; xyz 08:00-09:00", back).has_value());
  CHECK(parse_week_hours("mon 08:00-12:00; xyz 08:00-09:00", back)->find("unknown day 'xyz'") != std::string::npos);
  CHECK(parse_week_hours("mon 08:00-12:00 11:00-13:00", back)->find("overlap") != std::string::npos);
  CHECK(parse_week_hours("mon 08:00-12:00; mon 13:00-14:00", back)->find("twice") != std::string::npos);
}

TEST_CASE("validate_policy: each field's bounds, named") {
  BookingPolicy ok = default_policy("xrd");
  CHECK_FALSE(validate_policy(ok).has_value());
  auto field_of = [](BookingPolicy p) {
    auto why = validate_policy(p);
    REQUIRE(why.has_value());
    return why->substr(0, why->find(':'));
  };
  BookingPolicy p = ok;
  p.slot_s = 7 * 60;  // does not divide a day
  CHECK(field_of(p) == "slot_s");
  p = ok;
  p.slot_s = 1800;
  p.min_length_s = 45 * 60;  // not a whole number of slots
  CHECK(field_of(p) == "min_length_s");
  p = ok;
  p.min_length_s = 0;
  CHECK(field_of(p) == "min_length_s");
  p = ok;
  p.max_length_s = 32LL * 86400;
  CHECK(field_of(p) == "max_length_s");
  p = ok;
  p.lead_max_s = p.lead_min_s;
  CHECK(field_of(p) == "lead_max_s");
  p = ok;
  p.external_share_pct = 101;
  CHECK(field_of(p) == "external_share_pct");
  p = ok;
  p.approval_hold_s = 60;
  CHECK(field_of(p) == "approval_hold_s");
  p = ok;
  p.opening = WeekHours{};
  p.opening->days[2] = {DaySpan{600, 700}, DaySpan{650, 800}};
  CHECK(field_of(p) == "opening.wed");
}

TEST_CASE("lead time: not in the past beyond the walk-up allowance, not before lead_min, not after lead_max") {
  BookingPolicy p = default_policy("xrd");
  auto f = facts(p);
  // made at 07:00: a start at 06:50 is a walk-up (10 min back), 06:40 is in the past
  CHECK(refused_by(bk("2026-03-02T06:50:00+08:00", "2026-03-02T08:00:00+08:00"), f).empty());
  CHECK(refused_by(bk("2026-03-02T06:40:00+08:00", "2026-03-02T08:00:00+08:00"), f) == "lead_time");
  // a one-second booking in 2020: refused (the past), and (were it in time) too short
  auto old = check_policy(Booking{"new", "xrd", "alice", at("2020-01-01T00:00:00Z"), at("2020-01-01T00:00:01Z")}, f);
  REQUIRE(old.has_value());
  CHECK(old->rule == "lead_time");
  CHECK(old->reason.find("in the past") != std::string::npos);
  f.policy.lead_min_s = 24 * 3600;
  auto early = check_policy(bk("2026-03-02T10:00:00+08:00", "2026-03-02T11:00:00+08:00"), f);
  REQUIRE(early.has_value());
  CHECK(early->rule == "lead_time");
  CHECK(early->reason.find("at least 24 h") != std::string::npos);
  CHECK(early->reason.find("2026-03-03 07:00:00 +08:00") != std::string::npos);  // the earliest start, site time
  CHECK(refused_by(bk("2026-03-03T07:00:00+08:00", "2026-03-03T08:00:00+08:00"), f).empty());
  f.policy.lead_max_s = 7 * 86400;
  CHECK(refused_by(bk("2026-03-09T07:00:00+08:00", "2026-03-09T08:00:00+08:00"), f).empty());
  CHECK(refused_by(bk("2026-03-09T07:15:00+08:00", "2026-03-09T08:00:00+08:00"), f) == "lead_time");
}

TEST_CASE("length and slot grid: min and max length, start and end on the grid from local midnight") {
  BookingPolicy p = default_policy("xrd");
  p.slot_s = 1800;
  p.min_length_s = 1800;
  p.max_length_s = 4 * 3600;
  auto f = facts(p);
  CHECK(refused_by(bk("2026-03-02T09:00:00+08:00", "2026-03-02T09:30:00+08:00"), f).empty());
  CHECK(refused_by(bk("2026-03-02T09:00:00+08:00", "2026-03-02T09:15:00+08:00"), f) == "length");
  CHECK(refused_by(bk("2026-03-02T09:00:00+08:00", "2026-03-02T13:30:00+08:00"), f) == "length");
  auto off = check_policy(bk("2026-03-02T09:10:00+08:00", "2026-03-02T10:10:00+08:00"), f);
  REQUIRE(off.has_value());
  CHECK(off->rule == "slot_grid");
  CHECK(off->reason.find("30 min grid") != std::string::npos);
  CHECK(off->reason.find("2026-03-02 09:10:00 +08:00") != std::string::npos);
  // the grid is local: 09:00 in Shanghai is 01:00 UTC, on a 30-minute grid either way; an hour
  // grid from local midnight accepts 09:00 local
  f.policy.slot_s = 3600;
  f.policy.min_length_s = 3600;
  CHECK(refused_by(bk("2026-03-02T09:00:00+08:00", "2026-03-02T10:00:00+08:00"), f).empty());
  CHECK(refused_by(bk("2026-03-02T09:30:00+08:00", "2026-03-02T10:30:00+08:00"), f) == "slot_grid");
}

TEST_CASE("opening hours: inside the spans of each local day, across midnight only where both days are open") {
  BookingPolicy p = default_policy("xrd");
  p.opening = weekdays(8 * 60, 18 * 60);  // Mon-Fri 08:00-18:00
  auto f = facts(p);
  CHECK(refused_by(bk("2026-03-02T08:00:00+08:00", "2026-03-02T18:00:00+08:00"), f).empty());
  auto late = check_policy(bk("2026-03-02T17:00:00+08:00", "2026-03-02T19:00:00+08:00"), f);
  REQUIRE(late.has_value());
  CHECK(late->rule == "opening_hours");
  CHECK(late->reason.find("mon 08:00-18:00") != std::string::npos);
  // Saturday is closed
  CHECK(refused_by(bk("2026-03-07T09:00:00+08:00", "2026-03-07T10:00:00+08:00"), f) == "opening_hours");
  // a booking over a lunch break that is closed
  f.policy.opening->days[1] = {DaySpan{480, 720}, DaySpan{780, 1080}};
  CHECK(refused_by(bk("2026-03-03T11:00:00+08:00", "2026-03-03T14:00:00+08:00"), f) == "opening_hours");
  CHECK(refused_by(bk("2026-03-03T13:00:00+08:00", "2026-03-03T14:00:00+08:00"), f).empty());
  // open around the clock Mon and Tue: an overnight booking Mon 22:00 to Tue 06:00 fits
  f.policy.opening->days[0] = {DaySpan{0, 1440}};
  f.policy.opening->days[1] = {DaySpan{0, 1440}};
  CHECK(refused_by(bk("2026-03-02T22:00:00+08:00", "2026-03-03T06:00:00+08:00"), f).empty());
  // ... but not into Wednesday night when Wednesday opens at 08:00
  CHECK(refused_by(bk("2026-03-03T22:00:00+08:00", "2026-03-04T06:00:00+08:00"), f) == "opening_hours");
}

TEST_CASE("closures: a site holiday, the instrument's blackout or maintenance refuse what they overlap") {
  auto f = facts(default_policy("xrd"));
  f.closures = {Closure{"c1", "", ClosureKind::holiday, at("2026-03-04T00:00:00+08:00"), at("2026-03-05T00:00:00+08:00"),
                        "spring holiday"},
                Closure{"c2", "sem", ClosureKind::maintenance, at("2026-03-06T00:00:00+08:00"),
                        at("2026-03-07T00:00:00+08:00"), "another instrument"}};
  auto hol = check_policy(bk("2026-03-03T23:00:00+08:00", "2026-03-04T01:00:00+08:00"), f);
  REQUIRE(hol.has_value());
  CHECK(hol->rule == "closed");
  CHECK(hol->reason.find("holiday") != std::string::npos);
  CHECK(hol->reason.find("spring holiday") != std::string::npos);
  CHECK(refused_by(bk("2026-03-03T22:00:00+08:00", "2026-03-04T00:00:00+08:00"), f).empty());  // back to back
  CHECK(refused_by(bk("2026-03-06T10:00:00+08:00", "2026-03-06T11:00:00+08:00"), f).empty());  // not this instrument
}

TEST_CASE("internal priority windows: external users are kept out of them, campus users are not") {
  BookingPolicy p = default_policy("xrd");
  p.internal_priority = weekdays(9 * 60, 12 * 60);
  auto f = facts(p);
  const Booking b = bk("2026-03-02T11:00:00+08:00", "2026-03-02T13:00:00+08:00");
  CHECK(refused_by(b, f).empty());
  f.external = true;
  auto r = check_policy(b, f);
  REQUIRE(r.has_value());
  CHECK(r->rule == "priority_window");
  CHECK(refused_by(bk("2026-03-02T12:00:00+08:00", "2026-03-02T13:00:00+08:00"), f).empty());
}

TEST_CASE("weekly quotas: the user's and the groups' bookings and hours in the ISO week, the candidate once") {
  BookingPolicy p = default_policy("xrd");
  p.user_week_bookings = 2;
  auto f = facts(p);
  auto wb = [](Booking b, bool shares, UserCategory c = UserCategory::internal_student) {
    return WeekBooking{std::move(b), c, shares};
  };
  f.week = {wb(bk("2026-03-03T09:00:00+08:00", "2026-03-03T11:00:00+08:00", "alice", "a1"), true),
            wb(bk("2026-03-03T12:00:00+08:00", "2026-03-03T13:00:00+08:00", "bob", "b1"), true),
            wb(bk("2026-03-03T14:00:00+08:00", "2026-03-03T15:00:00+08:00", "carol", "c1"), false)};
  const Booking mine = bk("2026-03-04T09:00:00+08:00", "2026-03-04T11:00:00+08:00");
  CHECK(refused_by(mine, f).empty());  // alice: a1 + this = 2
  f.week.push_back(wb(bk("2026-03-05T09:00:00+08:00", "2026-03-05T10:00:00+08:00", "alice", "a2"), true));
  auto r = check_policy(mine, f);
  REQUIRE(r.has_value());
  CHECK(r->rule == "user_quota");
  CHECK(r->reason.find("this would be 3") != std::string::npos);
  // moving a2 itself is not counted twice
  CHECK(refused_by(bk("2026-03-05T10:00:00+08:00", "2026-03-05T11:00:00+08:00", "alice", "a2"), f).empty());
  // hours: alice holds 3 h (a1 2 h, a2 1 h); 5 h a week allows a 2-hour booking, not 3 hours
  f.policy.user_week_bookings = 0;
  f.policy.user_week_s = 5 * 3600;
  CHECK(refused_by(mine, f).empty());
  CHECK(refused_by(bk("2026-03-04T09:00:00+08:00", "2026-03-04T12:00:00+08:00"), f) == "user_quota");
  // the group: alice and bob share a group (a1 2 h, b1 1 h, a2 1 h), carol does not
  f.policy.user_week_s = 0;
  f.policy.group_week_s = 6 * 3600;
  CHECK(refused_by(mine, f).empty());  // 4 h + 2 h
  CHECK(refused_by(bk("2026-03-04T09:00:00+08:00", "2026-03-04T11:30:00+08:00"), f) == "group_quota");
  f.policy.group_week_s = 0;
  f.policy.group_week_bookings = 3;
  CHECK(refused_by(mine, f) == "group_quota");  // a1, b1, a2 and this
  // cancelled bookings count for nothing
  f.week[1].booking.status = BookingStatus::cancelled;
  CHECK(refused_by(mine, f).empty());
}

TEST_CASE("external share: campus bookings leave the reserved share of the week's open time free") {
  BookingPolicy p = default_policy("xrd");
  p.opening = weekdays(8 * 60, 18 * 60);  // 50 h a week
  p.external_share_pct = 20;              // 10 h kept for external users: 40 h for campus bookings
  auto f = facts(p);
  auto wb = [](const char* from, const char* to, UserCategory c, const char* id) {
    return WeekBooking{bk(from, to, "someone", id), c, false};
  };
  f.week = {wb("2026-03-02T08:00:00+08:00", "2026-03-02T18:00:00+08:00", UserCategory::internal_staff, "m"),
            wb("2026-03-03T08:00:00+08:00", "2026-03-03T18:00:00+08:00", UserCategory::internal_student, "t"),
            wb("2026-03-04T08:00:00+08:00", "2026-03-04T18:00:00+08:00", UserCategory::internal_staff, "w"),
            wb("2026-03-05T08:00:00+08:00", "2026-03-05T16:00:00+08:00", UserCategory::enterprise, "x")};
  // campus: 30 h held; 10 h more is the limit
  CHECK(refused_by(bk("2026-03-06T08:00:00+08:00", "2026-03-06T18:00:00+08:00"), f).empty());
  f.week[3].category = UserCategory::internal_staff;  // now 38 h campus
  auto r = check_policy(bk("2026-03-06T08:00:00+08:00", "2026-03-06T11:00:00+08:00"), f);
  REQUIRE(r.has_value());
  CHECK(r->rule == "external_share");
  CHECK(r->reason.find("20%") != std::string::npos);
  // external users are not held back by it
  f.external = true;
  CHECK(refused_by(bk("2026-03-06T08:00:00+08:00", "2026-03-06T11:00:00+08:00"), f).empty());
}

TEST_CASE("the quotas' week is the ISO week in the site zone") {
  // Sunday 23:30 local is still the week that began on Monday 2026-03-02 00:00 local (Sunday 16:00 UTC)
  auto w = week_of(at("2026-03-08T23:30:00+08:00"), kTz);
  REQUIRE(w.has_value());
  CHECK(w->from_ms == at("2026-03-02T00:00:00+08:00"));
  CHECK(w->to_ms == at("2026-03-09T00:00:00+08:00"));
  auto next = week_of(at("2026-03-09T00:00:00+08:00"), kTz);
  REQUIRE(next.has_value());
  CHECK(next->from_ms == at("2026-03-09T00:00:00+08:00"));
}

TEST_CASE("approval: who waits, how long a pending booking holds its slot, deciding only a pending one") {
  BookingPolicy p = default_policy("xrd");
  CHECK_FALSE(needs_approval(p, false));
  CHECK_FALSE(needs_approval(p, true));
  p.approval = Approval::external;
  CHECK_FALSE(needs_approval(p, false));
  CHECK(needs_approval(p, true));
  p.approval = Approval::all;
  CHECK(needs_approval(p, false));
  const int64_t now = at("2026-03-02T07:00:00+08:00");
  const Booking far = bk("2026-03-10T09:00:00+08:00", "2026-03-10T10:00:00+08:00");
  CHECK(hold_until(p, far, now) == now + 48 * kHour);
  const Booking soon = bk("2026-03-02T09:00:00+08:00", "2026-03-02T10:00:00+08:00");
  CHECK(hold_until(p, soon, now) == soon.start_ms);  // never past its start

  Booking pending = far;
  pending.status = BookingStatus::pending;
  pending.hold_until_ms = now + 48 * kHour;
  CHECK(holds_slot(pending.status));
  CHECK_FALSE(can_decide(pending).has_value());
  const Booking ok = approved(pending);
  CHECK(ok.status == BookingStatus::active);
  CHECK_FALSE(ok.hold_until_ms.has_value());
  REQUIRE(can_decide(ok).has_value());
  CHECK(can_decide(ok)->find("only a pending booking") != std::string::npos);
  const Booking no = refused(pending, now + kHour, "no operator that week");
  CHECK(no.status == BookingStatus::refused);
  CHECK(no.cancel_reason == "no operator that week");
  CHECK_FALSE(holds_slot(no.status));
  const Booking gone = expired(pending, now + 49 * kHour);
  CHECK(gone.status == BookingStatus::expired);
  CHECK_FALSE(holds_slot(gone.status));
  // neither a refused nor an expired booking is cancelled or moved
  CHECK(can_cancel(no).has_value());
  CHECK(can_move(gone, far.start_ms, far.end_ms).has_value());
  // a pending booking holds its slot: a candidate overlapping it conflicts
  const Booking other = bk("2026-03-10T09:30:00+08:00", "2026-03-10T10:30:00+08:00", "bob", "other");
  CHECK(find_conflict({pending}, other) != nullptr);
  CHECK(find_conflict({no}, other) == nullptr);
}

TEST_CASE("late cancellation: after start minus cancel_free_s, and a pending booking never cancels late") {
  BookingPolicy p = default_policy("xrd");
  p.cancel_free_s = 24 * 3600;
  const Booking b = bk("2026-03-03T09:00:00+08:00", "2026-03-03T10:00:00+08:00");
  CHECK_FALSE(late_cancel(p, b, at("2026-03-02T09:00:00+08:00")));  // exactly 24 h before: free
  CHECK(late_cancel(p, b, at("2026-03-02T09:00:01+08:00")));
  p.cancel_free_s = 0;
  CHECK_FALSE(late_cancel(p, b, b.start_ms));
  CHECK(late_cancel(p, b, b.start_ms + 1));  // after the start
  Booking pending = b;
  pending.status = BookingStatus::pending;
  pending.hold_until_ms = b.start_ms;
  CHECK_FALSE(late_cancel(p, pending, b.end_ms));
  CHECK(cancelled(b, b.start_ms + 1, "ill", true).late_cancel);
}

TEST_CASE("validate_closure: interval, a holiday is site-wide, a blackout or maintenance names its instrument") {
  CHECK_FALSE(validate_closure(Closure{"", "", ClosureKind::holiday, 0, kDay, "new year"}).has_value());
  CHECK_FALSE(validate_closure(Closure{"", "xrd", ClosureKind::maintenance, 0, kHour, ""}).has_value());
  CHECK(validate_closure(Closure{"", "", ClosureKind::holiday, kDay, 0, ""})->find("end") == 0);
  CHECK(validate_closure(Closure{"", "xrd", ClosureKind::holiday, 0, kDay, ""})->find("instrument") == 0);
  CHECK(validate_closure(Closure{"", "", ClosureKind::blackout, 0, kDay, ""})->find("instrument") == 0);
  CHECK(to_string(ClosureKind::maintenance) == std::string("maintenance"));
  CHECK(closure_kind_from("holiday") == ClosureKind::holiday);
  CHECK_FALSE(closure_kind_from("party").has_value());
  CHECK(approval_from("external") == Approval::external);
  CHECK_FALSE(approval_from("some").has_value());
}

TEST_CASE("admission applies the policy after qualification and before overlap") {
  const Booking b = bk("2026-03-02T09:00:00+08:00", "2026-03-02T09:05:00+08:00");  // 5 min: too short
  AdmissionFacts f;
  f.instrument_known = f.user_known = true;
  f.qualification = Qualification{"alice", "xrd", 0, std::nullopt};
  f.rules = facts(default_policy("xrd"));
  f.overlapping = {bk("2026-03-02T09:00:00+08:00", "2026-03-02T10:00:00+08:00", "bob", "b1")};
  auto a = admit(b, f);
  CHECK(a.verdict == Admit::outside_rules);
  CHECK(a.rule == "length");
  f.qualification.reset();
  CHECK(admit(b, f).verdict == Admit::not_qualified);
}
