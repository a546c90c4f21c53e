// The training store's contract on both backends (pg.* runs it on PostgreSQL): a course reads
// back with its instruments and prerequisites, unknown references are refused by field, sessions
// by course and by start, enrolments upserted per (session, user) with one seq each, records per
// (user, course); and through training::Service on the store: a full session's capacity holds
// when many enrol at once, and a cancellation promotes the first waitlisted in its unit of work.
#include <doctest/doctest.h>

#include <atomic>
#include <thread>

#include "server/core/errors.hpp"
#include "server/training/service.hpp"
#include "tests/server/test_support.hpp"

using namespace lg;
using namespace lg::server;
using namespace lg::server::test;
using namespace lg::server::training;

namespace {

constexpr int64_t kNow = 1'700'000'000'000;

struct Fixture {
  TempDir dir;
  std::unique_ptr<TestStore> store;
  Store& training;
  explicit Fixture(std::size_t connections = 1)
      : store(open_store(dir, connections)), training(store->stores().training) {
    seed(*store);
  }
};

Course safety_course() {
  Course c;
  c.id = "safety";
  c.title = "实验室安全 Lab safety";
  c.kind = CourseKind::safety;
  c.unit = "u";
  c.validity_months = 12;
  c.assessment = Assessment::sign_off;
  c.pass_mark = 0;
  c.created_ms = kNow;
  return c;
}

Course xrd_course() {
  Course c;
  c.id = "xrd-basic";
  c.title = "XRD basics";
  c.kind = CourseKind::instrument;
  c.instruments = {"inst-xrd", "door-1"};
  c.prerequisites = {"safety"};
  c.level = QualificationLevel::supervised;
  c.validity_months = 24;
  c.assessment = Assessment::exam;
  c.pass_mark = 70;
  c.created_ms = kNow;
  return c;
}

Session a_session(const std::string& id, int64_t start, int64_t capacity) {
  return Session{id, "xrd-basic", start, start + 7'200'000, "Room 101", "Dr. Wang", capacity, false, kNow};
}

Enrolment enrolment(const std::string& session, const std::string& user, EnrolmentState st, int64_t seq) {
  Enrolment e;
  e.session = session;
  e.user = user;
  e.state = st;
  e.seq = seq;
  e.by = "user:" + user;
  e.enrolled_ms = kNow + seq;
  e.updated_ms = kNow + seq;
  return e;
}

}  // namespace

TEST_CASE("training store: a course reads back with its lists, unknown references are refused by field") {
  Fixture f;
  REQUIRE(f.training.insert_course(safety_course()));
  REQUIRE(f.training.insert_course(xrd_course()));
  auto got = f.training.course("xrd-basic");
  REQUIRE(got);
  REQUIRE(*got);
  const Course& c = **got;
  CHECK(c.title == "XRD basics");
  CHECK(c.kind == CourseKind::instrument);
  CHECK(c.instruments == std::vector<std::string>{"inst-xrd", "door-1"});
  CHECK(c.prerequisites == std::vector<std::string>{"safety"});
  CHECK(c.level == QualificationLevel::supervised);
  CHECK(c.validity_months == 24);
  CHECK(c.assessment == Assessment::exam);
  CHECK(c.pass_mark == 70);
  auto s = f.training.course("safety");
  REQUIRE(s);
  CHECK((*s)->unit == "u");
  CHECK((*s)->assessment == Assessment::sign_off);
  CHECK((*s)->instruments.empty());
  auto none = f.training.course("nope");
  REQUIRE(none);
  CHECK_FALSE(*none);

  auto dup = f.training.insert_course(safety_course());
  REQUIRE_FALSE(dup);
  CHECK(is(dup.error(), Errc::conflict));
  Course bad = xrd_course();
  bad.id = "bad1";
  bad.instruments = {"no-such-instrument"};
  auto r = f.training.insert_course(bad);
  REQUIRE_FALSE(r);
  CHECK(is(r.error(), Errc::unknown_reference));
  CHECK(r.error().reason.rfind("instruments:", 0) == 0);
  bad.instruments = {"inst-xrd"};
  bad.prerequisites = {"no-such-course"};
  r = f.training.insert_course(bad);
  REQUIRE_FALSE(r);
  CHECK(r.error().reason.rfind("prerequisites:", 0) == 0);
  Course unit = safety_course();
  unit.id = "bad2";
  unit.unit = "no-such-unit";
  r = f.training.insert_course(unit);
  REQUIRE_FALSE(r);
  CHECK(r.error().reason.rfind("unit:", 0) == 0);

  auto page = f.training.courses(Page{{}, 1});
  REQUIRE(page);
  REQUIRE(page->size() == 1);
  CHECK(page->front().id == "safety");
  REQUIRE(page->more());
  auto next = f.training.courses(Page{page->next, 10});
  REQUIRE(next);
  REQUIRE(next->size() == 1);
  CHECK(next->front().id == "xrd-basic");
  CHECK(next->front().instruments.size() == 2);
}

TEST_CASE(
    "training store: sessions by course and by start, enrolments per (session, user), records per (user, course)") {
  Fixture f;
  REQUIRE(f.training.insert_course(safety_course()));
  REQUIRE(f.training.insert_course(xrd_course()));
  REQUIRE(f.training.insert_session(a_session("s2", kNow + 200'000'000, 2)));
  REQUIRE(f.training.insert_session(a_session("s1", kNow + 100'000'000, 1)));
  Session orphan = a_session("s3", kNow, 1);
  orphan.course = "nope";
  auto r = f.training.insert_session(orphan);
  REQUIRE_FALSE(r);
  CHECK(is(r.error(), Errc::unknown_reference));
  auto dup = f.training.insert_session(a_session("s1", kNow, 1));
  REQUIRE_FALSE(dup);
  CHECK(is(dup.error(), Errc::conflict));

  auto list = f.training.sessions_of("xrd-basic");
  REQUIRE(list);
  REQUIRE(list->size() == 2);
  CHECK((*list)[0].id == "s1");
  CHECK((*list)[0].location == "Room 101");
  CHECK((*list)[0].trainer == "Dr. Wang");
  CHECK((*list)[0].capacity == 1);
  CHECK_FALSE((*list)[0].cancelled);
  auto soon = f.training.sessions_starting(kNow, kNow + 150'000'000);
  REQUIRE(soon);
  REQUIRE(soon->size() == 1);
  CHECK(soon->front().id == "s1");
  REQUIRE(f.training.set_cancelled("s2", true));
  CHECK((*f.training.session("s2"))->cancelled);
  REQUIRE(f.training.set_cancelled("s2", false));
  auto missing = f.training.set_cancelled("nope", true);
  REQUIRE_FALSE(missing);
  CHECK(is(missing.error(), Errc::not_found));
  auto locked = f.training.lock_session("s2");  // a unit of work of its own here
  REQUIRE(locked);
  REQUIRE(*locked);
  CHECK((*locked)->capacity == 2);

  auto seq = f.training.next_seq("s1");
  REQUIRE(seq);
  CHECK(*seq == 1);
  REQUIRE(f.training.put_enrolment(enrolment("s1", "alice", EnrolmentState::enrolled, 1)));
  REQUIRE(f.training.put_enrolment(enrolment("s1", "bob", EnrolmentState::waitlisted, 2)));
  CHECK(*f.training.next_seq("s1") == 3);
  // One seq per session.
  auto clash = f.training.put_enrolment(enrolment("s1", "carol", EnrolmentState::waitlisted, 2));
  REQUIRE_FALSE(clash);
  CHECK(is(clash.error(), Errc::conflict));
  auto unknown = f.training.put_enrolment(enrolment("s1", "nobody", EnrolmentState::enrolled, 9));
  REQUIRE_FALSE(unknown);
  CHECK(is(unknown.error(), Errc::unknown_reference));
  // An update of the same (session, user).
  Enrolment a = enrolment("s1", "alice", EnrolmentState::enrolled, 1);
  a.attendance = Attendance::attended;
  a.score = 85;
  a.passed = true;
  a.updated_ms = kNow + 50;
  REQUIRE(f.training.put_enrolment(a));
  auto got = f.training.enrolment("s1", "alice");
  REQUIRE(got);
  REQUIRE(*got);
  CHECK((*got)->attendance == Attendance::attended);
  CHECK((*got)->score == 85);
  CHECK((*got)->passed == std::optional<bool>(true));
  CHECK((*got)->by == "user:alice");
  auto bob = f.training.enrolment("s1", "bob");
  REQUIRE(bob);
  CHECK((*bob)->state == EnrolmentState::waitlisted);
  CHECK_FALSE((*bob)->passed);
  CHECK_FALSE((*bob)->score);
  auto all = f.training.enrolments("s1");
  REQUIRE(all);
  REQUIRE(all->size() == 2);
  CHECK((*all)[0].user == "alice");
  CHECK((*all)[1].user == "bob");
  REQUIRE(f.training.put_enrolment(enrolment("s2", "alice", EnrolmentState::enrolled, 1)));
  auto mine = f.training.enrolments_of("alice");
  REQUIRE(mine);
  REQUIRE(mine->size() == 2);

  REQUIRE(f.training.put_record(Record{"alice", "safety", "s0", kNow, kNow + 1000}));
  REQUIRE(f.training.put_record(Record{"alice", "safety", "s9", kNow + 10, std::nullopt}));  // replaced
  REQUIRE(f.training.put_record(Record{"alice", "xrd-basic", "s1", kNow, kNow + 5}));
  auto recs = f.training.records_of("alice");
  REQUIRE(recs);
  REQUIRE(recs->size() == 2);
  CHECK((*recs)[0].course == "safety");
  CHECK((*recs)[0].session == "s9");
  CHECK_FALSE((*recs)[0].valid_until_ms);
  CHECK((*recs)[1].valid_until_ms == kNow + 5);
  CHECK(f.training.records_of("bob")->empty());
}

TEST_CASE("training store: a cancellation promotes the first waitlisted, a pass leaves a record and qualifications") {
  Fixture f;
  Stores st = f.store->stores();
  Service svc(st.uow, st.training, st.qualification, nullptr, "Asia/Shanghai");
  REQUIRE(svc.create_course(safety_course(), kNow));
  REQUIRE(svc.create_course(xrd_course(), kNow));
  REQUIRE(svc.create_session(a_session("s1", kNow + 100'000'000, 1), kNow));
  for (const char* u : {"alice", "bob", "carol"})
    REQUIRE(st.training.put_record(Record{u, "safety", "s0", kNow, std::nullopt}));
  auto a = svc.enrol("s1", "alice", "user:alice", kNow);
  REQUIRE(a);
  CHECK(a->enrolment->state == EnrolmentState::enrolled);
  auto b = svc.enrol("s1", "bob", "user:bob", kNow + 1);
  REQUIRE(b);
  CHECK(b->enrolment->state == EnrolmentState::waitlisted);
  CHECK(b->position == 1);
  auto c = svc.enrol("s1", "carol", "user:root", kNow + 2);
  REQUIRE(c);
  CHECK(c->position == 2);
  auto again = svc.enrol("s1", "bob", "user:bob", kNow + 3);
  REQUIRE(again);
  CHECK(again->refusal.rule == "enrol.already_enrolled");

  auto gone = svc.cancel("s1", "alice", "user:alice", kNow + 4);
  REQUIRE(gone);
  REQUIRE(gone->promoted.size() == 1);
  CHECK(gone->promoted[0].user == "bob");
  auto roster = svc.roster("s1");
  REQUIRE(roster);
  for (const auto& l : *roster) {
    if (l.enrolment.user == "alice") CHECK(l.enrolment.state == EnrolmentState::cancelled);
    if (l.enrolment.user == "bob") CHECK(l.enrolment.state == EnrolmentState::enrolled);
    if (l.enrolment.user == "carol") CHECK(l.position == 1);
  }

  auto early = svc.record_result("s1", "bob", ResultInput{90, false}, kNow + 5);
  REQUIRE(early);
  CHECK(early->refusal.rule == "result.not_attended");
  REQUIRE(svc.attend("s1", "bob", Attendance::attended, kNow + 5));
  // bob already holds after_hours on inst-xrd: kept; door-1 gets the course's level.
  REQUIRE(st.qualification.put(Qualification{"bob", "inst-xrd", 0, std::nullopt, QualificationLevel::after_hours, ""},
                               kNow));
  auto res = svc.record_result("s1", "bob", ResultInput{70, false}, kNow + 6);
  REQUIRE(res);
  REQUIRE(res->refusal.ok());
  CHECK(res->after->passed == std::optional<bool>(true));
  REQUIRE(res->record);
  REQUIRE(res->qualifications.size() == 2);
  CHECK(res->qualifications[0].kept);
  CHECK_FALSE(res->qualifications[1].kept);
  auto xrd = st.qualification.get("bob", "inst-xrd");
  REQUIRE(xrd);
  CHECK((*xrd)->level == QualificationLevel::after_hours);
  CHECK((*xrd)->source.empty());
  auto door = st.qualification.get("bob", "door-1");
  REQUIRE(door);
  REQUIRE(*door);
  CHECK((*door)->level == QualificationLevel::supervised);
  CHECK((*door)->source == "training:xrd-basic");
  CHECK((*door)->valid_from_ms == kNow + 6);
  CHECK((*door)->valid_until_ms == valid_until(kNow + 6, 24));
  auto recs = svc.records_of("bob");
  REQUIRE(recs);
  CHECK(recs->size() == 2);
}

TEST_CASE("training store: a session's capacity holds when many enrol at once") {
  constexpr int kUsers = 8;
  constexpr int64_t kSeats = 3;
  Fixture f(kUsers + 1);
  Stores st = f.store->stores();
  Service svc(st.uow, st.training, st.qualification, nullptr, "Asia/Shanghai");
  Course free = xrd_course();
  free.prerequisites.clear();
  REQUIRE(svc.create_course(free, kNow));
  REQUIRE(svc.create_session(a_session("s1", kNow + 100'000'000, kSeats), kNow));
  for (int i = 0; i < kUsers; ++i)
    REQUIRE(f.store->add_user(User{"t" + std::to_string(i), "T", UserCategory::internal_student, "u", false}, kNow));
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kUsers; ++i) {
    threads.emplace_back([&, i] {
      auto r = svc.enrol("s1", "t" + std::to_string(i), "test", kNow + i);
      if (!r || !r->enrolment) ++failures;
    });
  }
  for (auto& t : threads) t.join();
  CHECK(failures == 0);
  auto all = svc.roster("s1");
  REQUIRE(all);
  REQUIRE(all->size() == kUsers);
  int64_t seated = 0;
  std::vector<int64_t> positions;
  for (const auto& l : *all) {
    seated += l.enrolment.state == EnrolmentState::enrolled ? 1 : 0;
    if (l.position) positions.push_back(l.position);
  }
  CHECK(seated == kSeats);
  std::sort(positions.begin(), positions.end());
  for (std::size_t i = 0; i < positions.size(); ++i) CHECK(positions[i] == static_cast<int64_t>(i + 1));
}
