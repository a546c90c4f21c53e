// The conduct store and service on both backends (pg.* runs them on PostgreSQL): the scan finds
// what bookings earned from the sessions the terminals sent, records each event once, withdraws a
// no-show a late session contradicts, blocks a user whose score falls below the line (booking then
// refused as "blocked"), tells them and the site admins, lifts the block when an event is waived,
// and tells the user when a block ends.
#include <doctest/doctest.h>

#include "server/conduct/service.hpp"
#include "server/notify/outbox.hpp"
#include "tests/server/test_support.hpp"

using namespace lg;
using namespace lg::server;
using namespace lg::server::test;

namespace {

constexpr int64_t M = 60'000;
constexpr int64_t H = 60 * M;
constexpr int64_t D = 24 * H;

struct Fixture {
  TempDir dir;
  std::unique_ptr<TestStore> store = open_store(dir);
  Stores s = store->stores();
  notify::Outbox outbox{s.uow, s.notify, s.directory, "test"};
  conduct::Policy policy;
  conduct::Service conduct{s.uow, s.conduct, &outbox, policy, "Asia/Shanghai"};
  booking::Service bookings{s.uow, s.booking, s.directory, s.qualification, "Asia/Shanghai"};
  int64_t t0 = ms("2026-03-02T00:00:00Z");

  Fixture() {
    seed(*store);
    REQUIRE(store->put_qualification(Qualification{"alice", "inst-xrd", 0, std::nullopt}, t0));
    bookings.blocked_by([this](const std::string& user, int64_t now) -> Result<std::optional<std::string>> {
      auto b = conduct.block_in_force(user, now);
      if (!b) return b.error();
      if (!*b) return std::optional<std::string>{};
      return std::optional<std::string>{(*b)->reason};
    });
  }
  /// A booking of alice's on the XRD from start for 2 h, made at t0.
  std::string book(int64_t start) {
    auto r = bookings.create(Booking{"", "inst-xrd", "alice", start, start + 2 * H}, t0);
    REQUIRE(r);
    REQUIRE_MESSAGE(!r->id.empty(), r->reason);
    return r->id;
  }
  /// A session of alice's on the XRD, as ingest stores it.
  void session(const std::string& id, int64_t start, std::optional<int64_t> end) {
    UsageEffects e;
    e.now_ms = start;
    SessionRow row;
    row.session.id = id;
    row.session.terminal = "t1";
    row.session.resource = "inst-xrd";
    row.session.user = "alice";
    row.session.start_ms = start;
    row.session.end_ms = end;
    row.session.closed = end.has_value();
    e.new_sessions.push_back(row);
    REQUIRE(s.usage.write(e));
  }
  std::vector<notify::Notice> notices(const std::string& to) {
    auto n = s.notify.list(notify::NoticeFilter{"", to});
    REQUIRE(n);
    return n->rows;
  }
};

}  // namespace

TEST_CASE("scan: a no-show is recorded once, an on-time booking earns nothing, a late session withdraws the no-show") {
  Fixture f;
  const std::string missed = f.book(f.t0 + D);
  const std::string kept = f.book(f.t0 + 2 * D);
  f.session("s-kept", f.t0 + 2 * D + 2 * M, f.t0 + 2 * D + H);

  auto early = f.conduct.scan(f.t0 + D + 14 * M);
  REQUIRE(early);
  CHECK(early->recorded.empty());
  auto r = f.conduct.scan(f.t0 + 3 * D);
  REQUIRE(r);
  REQUIRE(r->recorded.size() == 1);
  CHECK(r->recorded[0].kind == conduct::Kind::no_show);
  CHECK(r->recorded[0].booking == missed);
  auto again = f.conduct.scan(f.t0 + 3 * D + M);
  REQUIRE(again);
  CHECK(again->recorded.empty());  // once per booking and kind

  auto credit = f.conduct.credit("alice", f.t0 + 3 * D);
  REQUIRE(credit);
  CHECK(credit->score == 80);
  REQUIRE(credit->events.size() == 1);
  CHECK_FALSE(credit->block);

  // the terminal was offline: the session of the missed booking arrives now
  f.session("s-late", f.t0 + D + 5 * M, f.t0 + D + H);
  auto w = f.conduct.scan(f.t0 + 3 * D + 2 * M);
  REQUIRE(w);
  REQUIRE(w->withdrawn.size() == 1);
  CHECK(w->withdrawn[0].waived_by == "system");
  CHECK(f.conduct.credit("alice", f.t0 + 3 * D + 2 * M)->score == 100);

  // settled bookings are not looked at again
  auto later = f.conduct.scan(f.t0 + 10 * D);
  REQUIRE(later);
  CHECK(later->settled == 2);
  auto none = f.conduct.scan(f.t0 + 10 * D + M);
  REQUIRE(none);
  CHECK(none->settled == 0);
  (void)kept;
}

TEST_CASE("three no-shows block booking, the user and the site admins are told, a waiver lifts the block") {
  Fixture f;
  std::vector<std::string> missed;
  for (int i = 1; i <= 3; ++i) missed.push_back(f.book(f.t0 + i * D));
  auto r = f.conduct.scan(f.t0 + 4 * D);
  REQUIRE(r);
  CHECK(r->recorded.size() == 3);
  REQUIRE(r->blocks.size() == 1);  // 100 - 3 x 20 (a little recovered) < 60
  const conduct::Block block = r->blocks[0];
  CHECK(block.user == "alice");
  CHECK(block.until_ms == f.t0 + 4 * D + 14 * D);

  // booking is refused while it holds, naming the rule
  auto refused = f.bookings.create(Booking{"", "inst-xrd", "alice", f.t0 + 6 * D, f.t0 + 6 * D + H}, f.t0 + 5 * D);
  REQUIRE(refused);
  CHECK(refused->rule == "blocked");
  CHECK(refused->reason.find("credit score") != std::string::npos);
  // others book as before
  REQUIRE(f.store->put_qualification(Qualification{"carol", "inst-xrd", 0, std::nullopt}, f.t0));
  auto other = f.bookings.create(Booking{"", "inst-xrd", "carol", f.t0 + 6 * D, f.t0 + 6 * D + H}, f.t0 + 5 * D);
  REQUIRE(other);
  CHECK_FALSE(other->id.empty());

  auto told = f.notices("alice");
  REQUIRE(told.size() == 1);
  CHECK(told[0].kind == notify::Kind::blocked);
  auto admins = f.notices("root");  // root is the seed's site admin
  REQUIRE(admins.size() == 1);
  CHECK(admins[0].kind == notify::Kind::user_blocked);
  CHECK(admins[0].body.find("alice") != std::string::npos);

  // waiving one no-show brings the score back to the line: the block is lifted
  auto credit = f.conduct.credit("alice", f.t0 + 5 * D);
  REQUIRE(credit);
  REQUIRE(credit->block);
  const std::string first = credit->events.back().id;
  auto w = f.conduct.waive(first, "root", "the XRD was broken that day", f.t0 + 5 * D);
  REQUIRE(w);
  CHECK(w->after.waive_reason == "the XRD was broken that day");
  CHECK(w->score >= 60);
  CHECK(w->lifted.has_value());
  auto twice = f.conduct.waive(first, "root", "again", f.t0 + 5 * D);
  REQUIRE_FALSE(twice);
  CHECK(is(twice.error(), Errc::conflict));
  CHECK_FALSE(f.conduct.block_in_force("alice", f.t0 + 5 * D)->has_value());
  auto booked = f.bookings.create(Booking{"", "inst-xrd", "alice", f.t0 + 7 * D, f.t0 + 7 * D + H}, f.t0 + 5 * D);
  REQUIRE(booked);
  CHECK_FALSE(booked->id.empty());

  // the end of the block is told once
  auto ended = f.conduct.notify_ended(f.t0 + 5 * D);
  REQUIRE(ended);
  CHECK(ended->size() == 1);
  CHECK(f.conduct.notify_ended(f.t0 + 30 * D)->empty());
  auto after = f.notices("alice");
  CHECK(after.size() == 2);
  CHECK(std::any_of(after.begin(), after.end(), [](const notify::Notice& n) { return n.kind == notify::Kind::block_ended; }));
  auto admin_after = f.notices("root");
  REQUIRE(admin_after.size() == 2);
  CHECK(std::any_of(admin_after.begin(), admin_after.end(),
                    [](const notify::Notice& n) { return n.kind == notify::Kind::user_unblocked; }));
  CHECK_FALSE(f.conduct.waive("no-such-event", "root", "x", f.t0));
}

TEST_CASE("late arrival, overtime and a late cancellation are each recorded with their points") {
  Fixture f;
  const std::string late = f.book(f.t0 + D);
  f.session("s1", f.t0 + D + 10 * M, f.t0 + D + 3 * H);  // 10 min late, 1 h over
  BookingPolicy p = booking::default_policy("inst-xrd");
  p.cancel_free_s = 2 * 86400;
  REQUIRE(f.bookings.put_policy(p, f.t0));
  const std::string cancelled = f.book(f.t0 + 2 * D);
  auto c = f.bookings.cancel(cancelled, "", f.t0 + 2 * D - H);
  REQUIRE(c);
  REQUIRE(c->after.late_cancel);
  auto r = f.conduct.scan(f.t0 + 3 * D);
  REQUIRE(r);
  std::map<conduct::Kind, int32_t> points;
  for (const auto& e : r->recorded) points[e.kind] = e.points;
  CHECK(points.size() == 3);
  CHECK(points[conduct::Kind::late_arrival] == f.policy.late_arrival_points);
  CHECK(points[conduct::Kind::overtime] == f.policy.overtime_points);
  CHECK(points[conduct::Kind::late_cancel] == f.policy.late_cancel_points);
  CHECK(f.conduct.credit("alice", f.t0 + 3 * D)->score == 80);
  (void)late;
}
