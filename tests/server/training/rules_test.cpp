// The training rules over plain values: course and session validation, prerequisites (passed and
// still valid), enrolment (a seat, the waitlist when full, each refusal by its rule), promotion
// order (first come, first served), the pass mark and the sign-off, the result's refusals, the
// qualifications a pass gives (never a lower level, never shorter) and the end of validity.
#include <doctest/doctest.h>

#include "labgate/common/time.hpp"
#include "server/training/rules.hpp"

using namespace lg;
using namespace lg::server;
using namespace lg::server::training;

namespace {

int64_t at(const char* t) { return *time::parse_utc(t); }

Course safety() {
  Course c;
  c.id = "safety";
  c.title = "Lab safety";
  c.kind = CourseKind::safety;
  c.unit = "chem";
  c.validity_months = 12;
  c.assessment = Assessment::exam;
  c.pass_mark = 80;
  return c;
}

Course xrd() {
  Course c;
  c.id = "xrd-basic";
  c.title = "XRD";
  c.kind = CourseKind::instrument;
  c.instruments = {"inst-xrd"};
  c.prerequisites = {"safety"};
  c.level = QualificationLevel::independent;
  c.validity_months = 24;
  c.assessment = Assessment::exam;
  c.pass_mark = 60;
  return c;
}

Session session(int64_t capacity = 2) {
  Session s;
  s.id = "s1";
  s.course = "xrd-basic";
  s.start_ms = at("2026-03-02T02:00:00Z");
  s.end_ms = at("2026-03-02T04:00:00Z");
  s.capacity = capacity;
  return s;
}

Enrolment enrolment(const std::string& user, EnrolmentState st, int64_t seq) {
  Enrolment e;
  e.session = "s1";
  e.user = user;
  e.state = st;
  e.seq = seq;
  return e;
}

Record passed(const std::string& course, std::optional<int64_t> until) {
  return Record{"alice", course, "s0", at("2025-03-01T00:00:00Z"), until};
}

}  // namespace

TEST_CASE("training rules: a course is valid for its kind, a session ends after it starts and holds someone") {
  CHECK_FALSE(validate(safety()));
  CHECK_FALSE(validate(xrd()));
  Course c = safety();
  c.unit.clear();
  CHECK(validate(c)->rfind("unit:", 0) == 0);
  c = safety();
  c.instruments = {"inst-xrd"};
  CHECK(validate(c)->rfind("instruments:", 0) == 0);
  c = xrd();
  c.instruments.clear();
  CHECK(validate(c)->rfind("instruments:", 0) == 0);
  c = xrd();
  c.instruments = {"a", "b", "a"};
  CHECK(validate(c)->rfind("instruments:", 0) == 0);
  c = xrd();
  c.instruments = {"nmr-400", "nmr-600"};  // a class of instruments
  CHECK_FALSE(validate(c));
  c = xrd();
  c.prerequisites = {"xrd-basic"};
  CHECK(validate(c)->rfind("prerequisites:", 0) == 0);
  c = xrd();
  c.pass_mark = 101;
  CHECK(validate(c)->rfind("pass_mark:", 0) == 0);
  c = xrd();
  c.validity_months = -1;
  CHECK(validate(c)->rfind("validity_months:", 0) == 0);

  Session s = session();
  CHECK_FALSE(validate(s));
  s.end_ms = s.start_ms;
  CHECK(validate(s)->rfind("end:", 0) == 0);
  s = session(0);
  CHECK(validate(s)->rfind("capacity:", 0) == 0);
}

TEST_CASE("training rules: a prerequisite needs a passed record that is still valid") {
  const int64_t now = at("2026-03-01T00:00:00Z");
  const Course c = xrd();
  auto r = prerequisite_refusal(c, {}, now);
  CHECK(r.rule == "enrol.prerequisite");
  CHECK(r.reason.find("safety") != std::string::npos);
  CHECK(prerequisite_refusal(c, {passed("other", std::nullopt)}, now).rule == "enrol.prerequisite");
  CHECK(prerequisite_refusal(c, {passed("safety", std::nullopt)}, now).ok());                // no end
  CHECK(prerequisite_refusal(c, {passed("safety", at("2026-03-02T00:00:00Z"))}, now).ok());  // ends later
  auto expired = prerequisite_refusal(c, {passed("safety", now)}, now);                      // ends now: gone
  CHECK(expired.rule == "enrol.prerequisite");
  CHECK(expired.reason.find("expired") != std::string::npos);
  Course none = xrd();
  none.prerequisites.clear();
  CHECK(prerequisite_refusal(none, {}, now).ok());
}

TEST_CASE("training rules: enrolment takes a seat while there is one, then the waitlist, each refusal names its rule") {
  EnrolFacts f;
  f.course = xrd();
  f.session = session(2);
  f.records = {passed("safety", std::nullopt)};
  f.now_ms = at("2026-03-01T00:00:00Z");
  f.seats_taken = 0;
  auto v = enrol(f);
  CHECK(v.refusal.ok());
  CHECK(v.state == EnrolmentState::enrolled);
  f.seats_taken = 1;
  CHECK(enrol(f).state == EnrolmentState::enrolled);
  f.seats_taken = 2;  // full
  v = enrol(f);
  CHECK(v.refusal.ok());
  CHECK(v.state == EnrolmentState::waitlisted);

  EnrolFacts g = f;
  g.records.clear();
  CHECK(enrol(g).refusal.rule == "enrol.prerequisite");
  g = f;
  g.now_ms = g.session.start_ms;
  CHECK(enrol(g).refusal.rule == "enrol.session_started");
  g = f;
  g.session.cancelled = true;
  CHECK(enrol(g).refusal.rule == "enrol.session_cancelled");
  g = f;
  g.existing = enrolment("alice", EnrolmentState::waitlisted, 3);
  CHECK(enrol(g).refusal.rule == "enrol.already_enrolled");
  g.existing = enrolment("alice", EnrolmentState::enrolled, 1);
  CHECK(enrol(g).refusal.rule == "enrol.already_enrolled");
  g.existing = enrolment("alice", EnrolmentState::cancelled, 1);  // cancelled: may enrol again
  CHECK(enrol(g).refusal.ok());
}

TEST_CASE("training rules: freed seats go to the waitlist in order of arrival, positions count from 1") {
  std::vector<Enrolment> all{enrolment("a", EnrolmentState::cancelled, 1), enrolment("b", EnrolmentState::enrolled, 2),
                             enrolment("d", EnrolmentState::waitlisted, 5),
                             enrolment("c", EnrolmentState::waitlisted, 4),
                             enrolment("e", EnrolmentState::waitlisted, 6)};
  CHECK(waitlist_position(all, "c") == 1);
  CHECK(waitlist_position(all, "d") == 2);
  CHECK(waitlist_position(all, "e") == 3);
  CHECK(waitlist_position(all, "b") == 0);
  CHECK(waitlist_position(all, "a") == 0);
  CHECK(promotions(all, 1).empty());  // b holds the one seat
  CHECK(promotions(all, 2) == std::vector<std::string>{"c"});
  CHECK(promotions(all, 3) == std::vector<std::string>{"c", "d"});
  CHECK(promotions(all, 10) == std::vector<std::string>{"c", "d", "e"});

  const Session s = session();
  CHECK(cancel_refusal(std::nullopt, s, s.start_ms - 1).rule == "cancel.not_enrolled");
  CHECK(cancel_refusal(enrolment("a", EnrolmentState::cancelled, 1), s, s.start_ms - 1).rule == "cancel.not_enrolled");
  CHECK(cancel_refusal(enrolment("b", EnrolmentState::enrolled, 2), s, s.start_ms).rule == "cancel.session_started");
  CHECK(cancel_refusal(enrolment("c", EnrolmentState::waitlisted, 4), s, s.start_ms - 1).ok());
  CHECK(session_cancel_refusal(s, s.start_ms - 1).ok());
  CHECK(session_cancel_refusal(s, s.start_ms).rule == "session.started");
  Session off = s;
  off.cancelled = true;
  CHECK(session_cancel_refusal(off, s.start_ms - 1).rule == "session.cancelled");
}

TEST_CASE("training rules: the pass mark, the sign-off, and what a result needs") {
  Course exam = xrd();
  exam.pass_mark = 60;
  CHECK(passes(exam, {60, false}));
  CHECK_FALSE(passes(exam, {59, false}));
  CHECK_FALSE(passes(exam, {std::nullopt, true}));
  Course sign = safety();
  sign.assessment = Assessment::sign_off;
  CHECK(passes(sign, {std::nullopt, true}));
  CHECK_FALSE(passes(sign, {std::nullopt, false}));

  const Session s = session();
  Enrolment e = enrolment("alice", EnrolmentState::enrolled, 1);
  CHECK(result(exam, s, e, {75, false}).refusal.rule == "result.not_attended");
  e.attendance = Attendance::absent;
  CHECK(result(exam, s, e, {75, false}).refusal.rule == "result.not_attended");
  e.attendance = Attendance::attended;
  auto v = result(exam, s, e, {75, false});
  CHECK(v.refusal.ok());
  CHECK(v.passed);
  v = result(exam, s, e, {40, false});
  CHECK(v.refusal.ok());
  CHECK_FALSE(v.passed);
  CHECK(result(exam, s, e, {std::nullopt, true}).refusal.rule == "result.assessment");
  CHECK(result(sign, s, e, {90, false}).refusal.rule == "result.assessment");
  CHECK(result(sign, s, e, {std::nullopt, true}).passed);
  CHECK(result(exam, s, std::nullopt, {75, false}).refusal.rule == "result.not_enrolled");
  CHECK(result(exam, s, enrolment("w", EnrolmentState::waitlisted, 2), {75, false}).refusal.rule ==
        "result.not_enrolled");
  e.passed = false;
  CHECK(result(exam, s, e, {90, false}).refusal.rule == "result.recorded");
  Session cancelled = s;
  cancelled.cancelled = true;
  e.passed.reset();
  CHECK(result(exam, cancelled, e, {90, false}).refusal.rule == "result.session_cancelled");

  CHECK(attendance_refusal(std::nullopt, s).rule == "attendance.not_enrolled");
  CHECK(attendance_refusal(enrolment("w", EnrolmentState::waitlisted, 2), s).rule == "attendance.not_enrolled");
  CHECK(attendance_refusal(e, s).ok());
  e.passed = true;
  CHECK(attendance_refusal(e, s).rule == "attendance.result_recorded");
}

TEST_CASE("training rules: validity ends after its calendar months, 0 months has no end") {
  CHECK_FALSE(valid_until(at("2026-03-01T08:00:00Z"), 0));
  CHECK(*valid_until(at("2026-03-01T08:00:00Z"), 12) == at("2027-03-01T08:00:00Z"));
  CHECK(*valid_until(at("2026-01-31T10:30:00Z"), 1) == at("2026-02-28T10:30:00Z"));  // clamped to the month's end
  CHECK(*valid_until(at("2028-01-31T00:00:00Z"), 1) == at("2028-02-29T00:00:00Z"));  // leap year
  CHECK(*valid_until(at("2026-11-15T00:00:00Z"), 3) == at("2027-02-15T00:00:00Z"));
  const int64_t now = at("2026-03-01T00:00:00Z");
  CHECK(record_valid(Record{"u", "c", "s", 0, std::nullopt}, now));
  CHECK(record_valid(Record{"u", "c", "s", 0, now + 1}, now));
  CHECK_FALSE(record_valid(Record{"u", "c", "s", 0, now}, now));
  Session s = session();
  CHECK(reminder_due(s, s.start_ms - kReminderAheadMs));
  CHECK(reminder_due(s, s.start_ms - 1));
  CHECK_FALSE(reminder_due(s, s.start_ms - kReminderAheadMs - 1));  // too early
  CHECK_FALSE(reminder_due(s, s.start_ms));                         // started
  s.cancelled = true;
  CHECK_FALSE(reminder_due(s, s.start_ms - 1));
}

TEST_CASE(
    "training rules: a pass qualifies on each instrument at the course's level, never lowering or shortening one") {
  const int64_t now = at("2026-03-01T00:00:00Z");
  Course c = xrd();
  c.instruments = {"nmr-400", "nmr-600", "nmr-800"};
  c.level = QualificationLevel::independent;
  c.validity_months = 12;
  // nmr-400: none; nmr-600: after_hours still valid (higher: kept); nmr-800: supervised (raised).
  Qualification higher{"alice", "nmr-600", now - 1000, now + 1'000'000, QualificationLevel::after_hours, ""};
  Qualification lower{"alice", "nmr-800", now - 1000, std::nullopt, QualificationLevel::supervised, ""};
  auto fx = qualification_effects(c, "alice", {std::nullopt, higher, lower}, now);
  REQUIRE(fx.size() == 3);
  CHECK(fx[0].instrument == "nmr-400");
  CHECK_FALSE(fx[0].kept);
  CHECK(fx[0].after.level == QualificationLevel::independent);
  CHECK(fx[0].after.valid_from_ms == now);
  CHECK(fx[0].after.valid_until_ms == valid_until(now, 12));
  CHECK(fx[0].after.source == "training:xrd-basic");
  CHECK(fx[1].kept);
  CHECK(fx[1].after.level == QualificationLevel::after_hours);
  CHECK(fx[1].why.find("never lowers") != std::string::npos);
  CHECK_FALSE(fx[2].kept);
  CHECK(fx[2].after.level == QualificationLevel::independent);
  CHECK(fx[2].before->level == QualificationLevel::supervised);

  // A higher level that has expired no longer counts: the course's level is given.
  Qualification gone = higher;
  gone.valid_until_ms = now;
  fx = qualification_effects(c, "alice", {gone, std::nullopt, std::nullopt}, now);
  CHECK_FALSE(fx[0].kept);
  CHECK(fx[0].after.level == QualificationLevel::independent);
  // The same level: kept when it lasts at least as long, renewed when it ends sooner.
  Qualification same{"alice", "nmr-400", now - 1000, std::nullopt, QualificationLevel::independent, ""};
  fx = qualification_effects(c, "alice", {same, std::nullopt, std::nullopt}, now);
  CHECK(fx[0].kept);
  same.valid_until_ms = now + 1000;
  fx = qualification_effects(c, "alice", {same, std::nullopt, std::nullopt}, now);
  CHECK_FALSE(fx[0].kept);
  CHECK(fx[0].after.valid_until_ms == valid_until(now, 12));
  // Safety courses qualify for no instrument.
  CHECK(qualification_effects(safety(), "alice", {}, now).empty());
}
