// The billing store contract, on both backends (open_store): a fee standard is retired with its
// history and charges nothing afterwards, until a new one is set; fee standard versions with their
// lines and steps, moved only from the state they are in; a session charged by the version in
// force at its start (through usage::Service, with its booking).
#include <doctest/doctest.h>

#include <atomic>
#include <map>
#include <thread>
#include <vector>

#include "server/billing/rules.hpp"
#include "tests/server/test_support.hpp"

using namespace lg;
using namespace lg::server;
using namespace lg::server::test;
using namespace lg::server::billing;

TEST_CASE("a retired fee standard stays listed, prices nothing, and a new one replaces it") {
  TempDir dir;
  auto store = open_store(dir);
  const int64_t now = ms("2026-03-02T01:00:00Z");
  seed(*store, now);
  auto& b = store->stores().billing;
  const std::string asked[] = {"inst-xrd"};
  auto fees = b.fees(asked);
  REQUIRE(fees);
  REQUIRE(fees->at("inst-xrd"));
  auto before = b.retire_fee_standard("inst-xrd", now + 1000);
  REQUIRE(before);
  CHECK(before->internal_fen_per_hour == 12000);
  CHECK_FALSE(before->retired_ms);
  fees = b.fees(asked);
  REQUIRE(fees);
  CHECK_FALSE(fees->at("inst-xrd"));  // a session ending now is charged nothing (no_fee_standard)
  auto listed = b.fee_standards({});
  REQUIRE(listed);
  REQUIRE(listed->size() == 1);
  CHECK(listed->front().retired_ms == now + 1000);
  auto again = b.retire_fee_standard("inst-xrd", now + 2000);
  REQUIRE_FALSE(again);
  CHECK(is(again.error(), Errc::conflict));
  auto none = b.retire_fee_standard("door-1", now);
  REQUIRE_FALSE(none);
  CHECK(is(none.error(), Errc::not_found));
  REQUIRE(b.put_fee_standard(FeeStandard{"inst-xrd", 15000, 30000, "CNY"}, now + 3000));
  fees = b.fees(asked);
  REQUIRE((fees && fees->at("inst-xrd")));
  CHECK(fees->at("inst-xrd")->internal_fen_per_hour == 15000);
  CHECK_FALSE(b.fee_standards({})->front().retired_ms);
}

namespace {

FeeLine quarter_hours(int64_t internal) {
  FeeLine l;
  l.code = "h";
  l.name = "Machine time";
  l.kind = LineKind::hour;
  l.unit = "hour";
  l.prices = Prices{internal, internal * 2, internal * 2, internal * 3};
  l.unit_minutes = 15;
  l.rounding = Rounding::up;
  l.booked = BookedRule::larger;
  l.overtime_bp = 5000;
  l.night = NightWindow{20 * 60, 6 * 60};
  l.night_factor_bp = 15000;
  return l;
}

FeeVersion draft_of(const std::string& id, int64_t now) {
  FeeVersion v;
  v.id = id;
  v.instrument = "inst-xrd";
  v.state = FeeState::draft;
  v.cost = CostBasis{1, 2, 3, 4, 5, 1800};
  v.note = "a new detector";
  v.weekend_days = 0x40;  // Sunday only
  v.created_by = "user:ia";
  v.created_ms = now;
  v.updated_ms = now;
  v.lines.push_back(quarter_hours(15000));
  FeeLine s;
  s.code = "sample";
  s.name = "Sample";
  s.kind = LineKind::sample;
  s.unit = "sample";
  s.prices = Prices{100, 200, 300, 400};
  s.min_fee_fen = 1000;
  v.lines.push_back(s);
  return v;
}

FeeStep step(FeeAction a, FeeState from, FeeState to, int64_t at, std::string who = "user:ia") {
  return FeeStep{"", 0, std::move(who), at, a, from, to, ""};
}

}  // namespace

TEST_CASE("fee standard versions: stored with lines and steps, moved only from the state they are in") {
  TempDir dir;
  auto store = open_store(dir);
  const int64_t now = ms("2026-03-02T01:00:00Z");
  seed(*store, now);
  auto& b = store->stores().billing;
  // The seeded hourly standard is version 1, published, imported, effective from the beginning.
  auto all = b.versions("inst-xrd");
  REQUIRE(all);
  REQUIRE(all->size() == 1);
  const FeeVersion imported = all->front();
  CHECK(imported.number == 1);
  CHECK(imported.state == FeeState::published);
  CHECK(imported.effective_from_ms == 0);
  REQUIRE(imported.lines.size() == 1);
  CHECK(imported.lines[0].rounding == Rounding::exact);
  CHECK(imported.lines[0].prices.internal == 12000);
  CHECK(imported.lines[0].prices.other_campus == 30000);
  auto imported_steps = b.steps(imported.id);
  REQUIRE(imported_steps);
  REQUIRE(imported_steps->size() == 1);
  CHECK(imported_steps->front().action == FeeAction::imported);

  auto made = b.create_version(draft_of("fv-2", now), step(FeeAction::create, FeeState::draft, FeeState::draft, now));
  REQUIRE(made);
  CHECK(made->number == 2);
  auto again = b.create_version(draft_of("fv-2", now), step(FeeAction::create, FeeState::draft, FeeState::draft, now));
  REQUIRE_FALSE(again);
  CHECK(is(again.error(), Errc::conflict));
  FeeVersion nowhere = draft_of("fv-x", now);
  nowhere.instrument = "no-such";
  auto unknown = b.create_version(nowhere, step(FeeAction::create, FeeState::draft, FeeState::draft, now));
  REQUIRE_FALSE(unknown);
  CHECK(is(unknown.error(), Errc::unknown_reference));

  // Read back as written: every field of the version and its lines.
  auto got = b.version("fv-2");
  REQUIRE(got);
  REQUIRE(*got);
  const FeeVersion& v = **got;
  CHECK(v.cost.depreciation_fen == 4);
  CHECK(v.cost.hours_per_year == 1800);
  CHECK(v.weekend_days == 0x40u);
  CHECK(v.note == "a new detector");
  CHECK_FALSE(v.effective_from_ms);
  REQUIRE(v.lines.size() == 2);
  CHECK(v.lines[0].code == "h");
  CHECK(v.lines[0].unit_minutes == 15);
  CHECK(v.lines[0].booked == BookedRule::larger);
  CHECK(v.lines[0].overtime_bp == 5000);
  CHECK(v.lines[0].night_factor_bp == 15000);
  REQUIRE(v.lines[0].night);
  CHECK(v.lines[0].night->from_min == 1200);
  CHECK(v.lines[1].kind == LineKind::sample);
  CHECK(v.lines[1].min_fee_fen == 1000);
  CHECK_FALSE(v.lines[1].night);
  CHECK_FALSE(*b.version("nope"));

  // A draft's content is replaced whole; not once it is submitted.
  FeeVersion edited = v;
  edited.lines.pop_back();
  edited.lines[0].prices.internal = 14000;
  REQUIRE(b.update_draft(edited, step(FeeAction::edit, FeeState::draft, FeeState::draft, now + 1)));
  CHECK((*b.version("fv-2"))->lines.size() == 1);
  CHECK((*b.version("fv-2"))->lines[0].prices.internal == 14000);
  REQUIRE(b.move("fv-2", FeeState::draft, FeeState::unit_review, std::nullopt,
                 step(FeeAction::submit, FeeState::draft, FeeState::unit_review, now + 2)));
  auto late = b.update_draft(edited, step(FeeAction::edit, FeeState::draft, FeeState::draft, now + 3));
  REQUIRE_FALSE(late);
  CHECK(is(late.error(), Errc::conflict));
  // A move from a state it is no longer in is refused (two reviewers at once: one wins).
  auto twice = b.move("fv-2", FeeState::draft, FeeState::unit_review, std::nullopt,
                      step(FeeAction::submit, FeeState::draft, FeeState::unit_review, now + 3));
  REQUIRE_FALSE(twice);
  CHECK(is(twice.error(), Errc::conflict));
  auto missing = b.move("nope", FeeState::draft, FeeState::unit_review, std::nullopt,
                        step(FeeAction::submit, FeeState::draft, FeeState::unit_review, now + 3));
  REQUIRE_FALSE(missing);
  CHECK(is(missing.error(), Errc::not_found));
  REQUIRE(b.move("fv-2", FeeState::unit_review, FeeState::finance_review, std::nullopt,
                 step(FeeAction::approve, FeeState::unit_review, FeeState::finance_review, now + 4, "user:ua")));
  REQUIRE(b.move("fv-2", FeeState::finance_review, FeeState::committee, std::nullopt,
                 step(FeeAction::approve, FeeState::finance_review, FeeState::committee, now + 5, "user:fin")));
  const int64_t from = ms("2026-04-01T00:00:00+08:00");
  REQUIRE(b.move("fv-2", FeeState::committee, FeeState::published, from,
                 step(FeeAction::approve, FeeState::committee, FeeState::published, now + 6, "user:com")));
  auto steps = b.steps("fv-2");
  REQUIRE(steps);
  std::string seen;
  for (const auto& s : *steps) seen += std::to_string(s.seq) + ":" + to_string(s.action) + ":" + s.who + " ";
  CHECK(seen ==
        "1:create:user:ia 2:edit:user:ia 3:submit:user:ia 4:approve:user:ua 5:approve:user:fin 6:approve:user:com ");

  // Charging reads the published versions of many instruments in one call.
  const std::string asked[] = {"inst-xrd", "door-1", "inst-xrd"};
  auto pub = b.published(asked);
  REQUIRE(pub);
  CHECK(pub->size() == 2);
  CHECK(pub->at("door-1").empty());
  REQUIRE(pub->at("inst-xrd").size() == 2);
  CHECK(billing::in_force(pub->at("inst-xrd"), from - 1)->id == imported.id);
  CHECK(billing::in_force(pub->at("inst-xrd"), from)->id == "fv-2");

  // Retiring the hourly standard retires every published version: nothing in force after it.
  REQUIRE(b.retire_fee_standard("inst-xrd", from + 1000));
  pub = b.published(asked);
  REQUIRE(pub);
  CHECK(billing::in_force(pub->at("inst-xrd"), from + 999)->id == "fv-2");
  CHECK(billing::in_force(pub->at("inst-xrd"), from + 1000) == nullptr);
  // A new import is effective from now (not the beginning: the instrument has versions).
  REQUIRE(b.put_fee_standard(FeeStandard{"inst-xrd", 20000, 40000, "CNY"}, from + 2000, "admin-token"));
  pub = b.published(asked);
  REQUIRE(pub);
  REQUIRE(pub->at("inst-xrd").size() == 3);
  CHECK(pub->at("inst-xrd").back().effective_from_ms == from + 2000);
  CHECK(billing::in_force(pub->at("inst-xrd"), from + 2000)->lines[0].prices.internal == 20000);
}

TEST_CASE("a session is charged by the version in force at its start, with its booking, naming the version") {
  TempDir dir;
  auto store = open_store(dir);
  const int64_t now = ms("2026-03-02T00:00:00Z");
  seed(*store, now);
  auto key = new_key();
  REQUIRE(store->add_terminal(terminal("t1", "inst-xrd", key.public_pem()), now));
  Stores s = store->stores();
  // Version 2 in force from 2026-03-03 (Asia/Shanghai midnight): 15-minute units, larger of
  // booked and used, +50 % overtime, x1.5 from 20:00 to 06:00.
  const int64_t from = ms("2026-03-03T00:00:00+08:00");
  FeeVersion v2 = draft_of("fv-2", now);
  v2.state = FeeState::published;
  v2.effective_from_ms = from;
  REQUIRE(s.billing.create_version(v2, step(FeeAction::create, FeeState::published, FeeState::published, now)));
  Booking booking;
  booking.id = "b-1";
  booking.instrument = "inst-xrd";
  booking.user = "alice";
  booking.start_ms = ms("2026-03-03T02:00:00Z");  // 10:00-11:00 local
  booking.end_ms = ms("2026-03-03T03:00:00Z");
  REQUIRE(s.booking.insert(booking, now));
  usage::Service svc(
      usage::BatchStores{s.uow, s.usage, s.terminals, s.directory, s.billing, &s.booking, "Asia/Shanghai"}, "CNY");
  auto with_booking = [](proto::Record r, const std::string& b) {
    if (auto* st = std::get_if<proto::SessionStart>(&r.body)) st->booking = b;
    if (auto* e = std::get_if<proto::SessionEnd>(&r.body)) e->booking = b;
    return r;
  };
  // s1 starts before version 2 (one minute before local midnight): the imported hourly standard
  // prices its 30 min exactly (12000/h -> 6000), though it ends after version 2 took effect.
  const int64_t s1 = from - 60'000;
  // s2: the booking 10:00-11:00, used 10:05-11:25 (80 min): 90 min billed at 15000/h = 22500,
  // 25 min past the booking's end at +50 % = 3125.
  const int64_t s2 = ms("2026-03-03T02:05:00Z");
  auto out =
      svc.commit_batch(batch("t1", {session_start(1, "r1", "s1", "04AA", "alice", s1),
                                    session_end(2, "r2", "s1", "04AA", "alice", s1, 30 * 60'000),
                                    with_booking(session_start(3, "r3", "s2", "04AA", "alice", s2), "b-1"),
                                    with_booking(session_end(4, "r4", "s2", "04AA", "alice", s2, 80 * 60'000), "b-1")}),
                       now);
  REQUIRE(out);
  CHECK(out->charges.size() == 2);
  auto charges = store->charges(ms("2026-03-01T00:00:00Z"), ms("2026-04-01T00:00:00Z"));
  REQUIRE(charges);
  REQUIRE(charges->size() == 2);
  std::map<std::string, Charge> by;
  for (const auto& c : charges->rows) by[c.session] = c;
  const Charge& c1 = by.at("s1");
  CHECK(c1.amount_fen == 6000);
  CHECK(c1.fee_version == (*s.billing.versions("inst-xrd"))[0].id);  // the seeded import
  const Charge& c2 = by.at("s2");
  CHECK(c2.fee_version == "fv-2");
  CHECK(c2.rate_fen_per_hour == 15000);
  CHECK(c2.amount_fen == 22500 + 3125);
  CHECK(c2.lines.find("\"h:overtime\"") != std::string::npos);
  CHECK(c2.flags.empty());
}

TEST_CASE("fee standard versions: of reviewers approving one version at once, exactly one moves it") {
  constexpr int kReviewers = 8;
  TempDir dir;
  auto store = open_store(dir, kReviewers + 1);
  const int64_t now = ms("2026-03-02T01:00:00Z");
  seed(*store, now);
  auto& b = store->stores().billing;
  REQUIRE(b.create_version(draft_of("fv-2", now), step(FeeAction::create, FeeState::draft, FeeState::draft, now)));
  REQUIRE(b.move("fv-2", FeeState::draft, FeeState::unit_review, std::nullopt,
                 step(FeeAction::submit, FeeState::draft, FeeState::unit_review, now + 1)));
  std::atomic<int> moved{0}, conflicts{0}, other{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kReviewers; ++i) {
    threads.emplace_back([&, i] {
      auto s = b.move("fv-2", FeeState::unit_review, FeeState::finance_review, std::nullopt,
                      step(FeeAction::approve, FeeState::unit_review, FeeState::finance_review, now + 2 + i,
                           "user:r" + std::to_string(i)));
      if (s) {
        ++moved;
      } else if (is(s.error(), Errc::conflict)) {
        ++conflicts;
      } else {
        ++other;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(moved == 1);
  CHECK(conflicts == kReviewers - 1);
  CHECK(other == 0);
  auto steps = b.steps("fv-2");
  REQUIRE(steps);
  CHECK(steps->size() == 3);  // create, submit, one approval
  CHECK((*b.version("fv-2"))->state == FeeState::finance_review);
}
