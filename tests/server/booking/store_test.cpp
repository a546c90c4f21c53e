#include <doctest/doctest.h>

#include <latch>
#include <mutex>
#include <thread>

#include "tests/server/test_support.hpp"

using namespace lg;
using namespace lg::server;
using namespace lg::server::test;

namespace {
/// alice and bob may use inst-xrd, bob also door-1 (bookings need a qualification).
void qualify(TestStore& s) {
  for (const auto& [user, inst] : {std::pair{"alice", "inst-xrd"}, {"bob", "inst-xrd"}, {"bob", "door-1"}}) {
    if (!s.put_qualification(Qualification{user, inst, 0, std::nullopt}, 0)) throw std::runtime_error("qualify");
  }
}
}  // namespace

TEST_CASE("create_booking refuses overlaps on the same instrument and names the conflict") {
  TempDir dir;
  auto store = open_store(dir);
  seed(*store);
  qualify(*store);
  const int64_t t0 = ms("2026-03-02T01:00:00Z");
  const int64_t h = 3'600'000;

  auto first = store->create_booking(Booking{"", "inst-xrd", "alice", t0, t0 + 2 * h}, t0);
  REQUIRE(first);
  REQUIRE_FALSE(first->id.empty());
  CHECK(first->conflict.empty());

  auto clash = store->create_booking(Booking{"", "inst-xrd", "bob", t0 + h, t0 + 3 * h}, t0);
  REQUIRE(clash);
  CHECK(clash->id.empty());
  CHECK(clash->conflict == first->id);

  // back to back is fine, another instrument is fine
  auto next = store->create_booking(Booking{"", "inst-xrd", "bob", t0 + 2 * h, t0 + 3 * h}, t0);
  REQUIRE(next);
  CHECK_FALSE(next->id.empty());
  auto door = store->create_booking(Booking{"", "door-1", "bob", t0, t0 + h}, t0);
  REQUIRE(door);
  CHECK_FALSE(door->id.empty());

  auto all = store->bookings({});
  REQUIRE(all);
  CHECK(all->size() == 3);
}

TEST_CASE("create_booking with an unknown instrument or user changes nothing") {
  TempDir dir;
  auto store = open_store(dir);
  seed(*store);
  auto bad = store->create_booking(Booking{"", "nope", "alice", 0, 10}, 0);
  REQUIRE_FALSE(bad);
  CHECK(is(bad.error(), Errc::unknown_reference));
  CHECK(bad.error().reason.find("instrument") == 0);
  auto bad_user = store->create_booking(Booking{"", "inst-xrd", "nobody", 0, 10}, 0);
  REQUIRE_FALSE(bad_user);
  CHECK(bad_user.error().reason.find("user") == 0);
  CHECK(store->bookings({})->empty());
}

TEST_CASE("two connections racing for one slot from two threads: exactly one booking wins") {
  TempDir dir;
  {
    auto store = open_store(dir);
    seed(*store);
    qualify(*store);
  }
  constexpr int kSlots = 25;
  const int64_t base = ms("2026-04-01T00:00:00Z");
  const int64_t h = 3'600'000;
  std::vector<BookingOutcome> a(kSlots), b(kSlots);
  std::vector<std::string> errors;
  std::mutex mu;
  std::latch ready(2);

  auto worker = [&](std::vector<BookingOutcome>& out, const std::string& user, int64_t shift) {
    // its own connection to the same data (the same file or schema)
    std::optional<std::unique_ptr<TestStore>> s;
    try {
      s = open_store(dir);
    } catch (const std::exception& e) {
      std::lock_guard lock(mu);
      errors.push_back(e.what());
      ready.count_down();
      return;
    }
    ready.arrive_and_wait();
    for (int i = 0; i < kSlots; ++i) {
      // overlapping but not identical intervals within slot i
      const int64_t start = base + i * 10 * h + shift;
      auto r = (*s)->create_booking(Booking{"", "inst-xrd", user, start, start + 2 * h}, base);
      if (!r) {
        std::lock_guard lock(mu);
        errors.push_back(r.error().message());
        continue;
      }
      out[i] = *r;
    }
  };
  std::thread t1(worker, std::ref(a), "alice", 0);
  std::thread t2(worker, std::ref(b), "bob", h);
  t1.join();
  t2.join();
  REQUIRE(errors.empty());

  for (int i = 0; i < kSlots; ++i) {
    const bool a_won = !a[i].id.empty();
    const bool b_won = !b[i].id.empty();
    CHECK(a_won != b_won);  // exactly one
    if (a_won) CHECK(b[i].conflict == a[i].id);
    if (b_won) CHECK(a[i].conflict == b[i].id);
  }
  auto store = open_store(dir);
  auto all = store->bookings({});
  REQUIRE(all);
  CHECK(all->size() == kSlots);
  // and no two stored bookings overlap
  for (std::size_t i = 0; i + 1 < all->size(); ++i) CHECK((*all)[i].end_ms <= (*all)[i + 1].start_ms);
}

TEST_CASE("a booking needs a qualification on the instrument valid for the whole booking") {
  TempDir dir;
  auto store = open_store(dir);
  seed(*store);
  const int64_t t0 = ms("2026-03-02T01:00:00Z");
  const int64_t h = 3'600'000;

  // carol holds no qualification at all
  auto none = store->create_booking(Booking{"", "inst-xrd", "carol", t0, t0 + h}, t0);
  REQUIRE_FALSE(none);
  CHECK(is(none.error(), Errc::not_allowed));
  CHECK(none.error().reason.find("carol") != std::string::npos);
  CHECK(none.error().reason.find("inst-xrd") != std::string::npos);

  // a qualification on another instrument does not count
  REQUIRE(store->put_qualification(Qualification{"carol", "door-1", 0, std::nullopt}, t0));
  CHECK_FALSE(store->create_booking(Booking{"", "inst-xrd", "carol", t0, t0 + h}, t0));

  // valid only from the middle of the booking, or lapsing before its end: refused
  REQUIRE(store->put_qualification(Qualification{"carol", "inst-xrd", t0 + h / 2, std::nullopt}, t0));
  auto early = store->create_booking(Booking{"", "inst-xrd", "carol", t0, t0 + h}, t0);
  REQUIRE_FALSE(early);
  CHECK(is(early.error(), Errc::not_allowed));
  CHECK(early.error().reason.find("carol") != std::string::npos);
  REQUIRE(store->put_qualification(Qualification{"carol", "inst-xrd", 0, t0 + h / 2}, t0));
  CHECK_FALSE(store->create_booking(Booking{"", "inst-xrd", "carol", t0, t0 + h}, t0));
  CHECK(store->bookings({})->empty());

  // lapsing exactly at the booking's end (valid_until is exclusive) is enough
  REQUIRE(store->put_qualification(Qualification{"carol", "inst-xrd", t0, t0 + h}, t0));
  auto ok = store->create_booking(Booking{"", "inst-xrd", "carol", t0, t0 + h}, t0);
  REQUIRE(ok);
  CHECK_FALSE(ok->id.empty());

  // an admin may use every instrument (the terminals grant admins everywhere) and may book it
  auto admin = store->create_booking(Booking{"", "inst-xrd", "root", t0 + h, t0 + 2 * h}, t0);
  REQUIRE(admin);
  CHECK_FALSE(admin->id.empty());
  CHECK(store->bookings({})->size() == 2);
}

TEST_CASE("on PostgreSQL the schema itself refuses overlapping bookings, whatever wrote them") {
  if (!on_postgres()) return;  // SQLite serializes writers instead (BEGIN IMMEDIATE): no constraint to show
  TempDir dir;
  auto store = open_store(dir);
  seed(*store);
  const int64_t h = 3'600'000;
  const int64_t t = ms("2026-04-01T08:00:00Z");
  auto insert = [&](const std::string& id, int64_t start, int64_t end) {
    return store->exec("INSERT INTO bookings(id, instrument, user_id, start_ms, end_ms, created_ms) VALUES ('" + id +
                       "', 'inst-xrd', 'alice', " + std::to_string(start) + ", " + std::to_string(end) + ", 0)");
  };
  REQUIRE(insert("a", t, t + 2 * h));
  auto overlapping = insert("b", t + h, t + 3 * h);
  REQUIRE_FALSE(overlapping);
  CHECK(pg::is_exclusion_violation(overlapping.error()));
  CHECK(insert("c", t + 2 * h, t + 3 * h));  // [start, end): touching is not overlapping
  CHECK(*store->scalar("SELECT count(*) FROM bookings") == 2);
}

TEST_CASE("cancel keeps the booking, frees its slot, a move into an overlap changes nothing") {
  TempDir dir;
  auto store = open_store(dir);
  seed(*store);
  qualify(*store);
  const Stores st = store->stores();
  booking::Service svc(st.uow, st.booking, st.directory, st.qualification);
  const int64_t t0 = ms("2026-03-02T01:00:00Z");
  const int64_t h = 3'600'000;

  auto a = store->create_booking(Booking{"", "inst-xrd", "alice", t0, t0 + 2 * h}, t0);
  auto b = store->create_booking(Booking{"", "inst-xrd", "bob", t0 + 3 * h, t0 + 4 * h}, t0);
  REQUIRE(a);
  REQUIRE(b);
  REQUIRE_FALSE(a->id.empty());
  REQUIRE_FALSE(b->id.empty());

  // a move into bob's booking: the outcome names it, nothing is written
  auto clash = svc.move(a->id, t0 + 2 * h, t0 + 4 * h, t0);
  REQUIRE(clash);
  CHECK(clash->conflict == b->id);
  auto stored = st.booking.get(a->id);
  REQUIRE(stored);
  REQUIRE(*stored);
  CHECK((*stored)->start_ms == t0);
  CHECK((*stored)->end_ms == t0 + 2 * h);
  // over its own slot and up to bob's: fine (made an hour and a half earlier: not in the past)
  auto ok = svc.move(a->id, t0 - h, t0 + 3 * h, t0 - 3 * h / 2);
  REQUIRE(ok);
  CHECK(ok->conflict.empty());
  CHECK(ok->before.start_ms == t0);
  CHECK(ok->after.start_ms == t0 - h);
  CHECK((*st.booking.get(a->id))->end_ms == t0 + 3 * h);
  // an invalid interval or an unknown id
  auto bad = svc.move(a->id, t0, t0, t0);
  REQUIRE_FALSE(bad);
  CHECK(is(bad.error(), Errc::not_allowed));
  auto none = svc.move("no-such", t0, t0 + h, t0);
  REQUIRE_FALSE(none);
  CHECK(is(none.error(), Errc::not_found));

  // cancel bob's: kept with when and why; no longer overlapping anything
  auto c = svc.cancel(b->id, "sample not ready", t0 + 10);
  REQUIRE(c);
  CHECK(c->before.status == BookingStatus::active);
  CHECK(c->after.status == BookingStatus::cancelled);
  auto kept = st.booking.get(b->id);
  REQUIRE(kept);
  REQUIRE(*kept);
  CHECK((*kept)->status == BookingStatus::cancelled);
  CHECK((*kept)->cancelled_ms == t0 + 10);
  CHECK((*kept)->cancel_reason == "sample not ready");
  auto over = st.booking.overlapping("inst-xrd", t0 + 3 * h, t0 + 4 * h);
  REQUIRE(over);
  CHECK(over->empty());
  auto again = svc.cancel(b->id, "", t0 + 20);
  REQUIRE_FALSE(again);
  CHECK(is(again.error(), Errc::conflict));
  auto move_cancelled = svc.move(b->id, t0 + 5 * h, t0 + 6 * h, t0);
  REQUIRE_FALSE(move_cancelled);
  CHECK(is(move_cancelled.error(), Errc::conflict));
  CHECK(is(svc.cancel("no-such", "", t0).error(), Errc::not_found));

  // the freed slot takes a new booking and alice's may move into it
  auto d = store->create_booking(Booking{"", "inst-xrd", "bob", t0 + 3 * h, t0 + 4 * h}, t0);
  REQUIRE(d);
  CHECK_FALSE(d->id.empty());
  CHECK(svc.cancel(d->id, "", t0));
  CHECK(svc.move(a->id, t0 + 3 * h, t0 + 5 * h, t0)->conflict.empty());

  auto all = store->bookings({});
  REQUIRE(all);
  CHECK(all->size() == 3);  // nothing erased
  int active = 0;
  for (const auto& x : all->rows) active += x.status == BookingStatus::active ? 1 : 0;
  CHECK(active == 1);

  // and the sync inputs of the instrument hold active bookings only
  auto in = store->sync_inputs(terminal("t1", "inst-xrd", new_key().public_pem()), t0);
  REQUIRE(in);
  REQUIRE(in->bookings.size() == 1);
  CHECK(in->bookings[0].id == a->id);
}

TEST_CASE("on PostgreSQL the exclusion constraint covers active bookings only") {
  if (!on_postgres()) return;  // SQLite has no such constraint (writers are serialized instead)
  TempDir dir;
  auto store = open_store(dir);
  seed(*store);
  const int64_t h = 3'600'000;
  const int64_t t = ms("2026-04-01T08:00:00Z");
  auto insert = [&](const std::string& id, int64_t start, int64_t end, const std::string& status) {
    return store->exec("INSERT INTO bookings(id, instrument, user_id, start_ms, end_ms, created_ms, status) VALUES ('" +
                       id + "', 'inst-xrd', 'alice', " + std::to_string(start) + ", " + std::to_string(end) + ", 0, '" +
                       status + "')");
  };
  REQUIRE(insert("a", t, t + 2 * h, "cancelled"));
  CHECK(insert("b", t + h, t + 3 * h, "active"));     // over a cancelled one: fine
  CHECK(insert("c", t + h, t + 3 * h, "cancelled"));  // cancelled over an active one: fine
  auto clash = insert("d", t, t + 2 * h, "active");
  REQUIRE_FALSE(clash);
  CHECK(pg::is_exclusion_violation(clash.error()));
  CHECK_FALSE(store->exec("UPDATE bookings SET status = 'active' WHERE id = 'a'"));
  CHECK_FALSE(store->exec("UPDATE bookings SET status = 'gone' WHERE id = 'c'"));
  // a pending booking holds its slot too, and always has a hold time
  auto pending = [&](const std::string& id, int64_t start, int64_t end) {
    return store->exec("INSERT INTO bookings(id, instrument, user_id, start_ms, end_ms, created_ms, status, hold_until_ms) "
                       "VALUES ('" + id + "', 'inst-xrd', 'alice', " + std::to_string(start) + ", " +
                       std::to_string(end) + ", 0, 'pending', " + std::to_string(start) + ")");
  };
  auto over = pending("e", t + 2 * h, t + 4 * h);
  REQUIRE_FALSE(over);
  CHECK(pg::is_exclusion_violation(over.error()));
  CHECK(pending("f", t + 5 * h, t + 6 * h));
  CHECK_FALSE(insert("g", t + 5 * h, t + 6 * h, "active"));
  CHECK_FALSE(store->exec("UPDATE bookings SET hold_until_ms = NULL WHERE id = 'f'"));
}

namespace {
constexpr int64_t kH = 3'600'000;
/// Monday 2026-03-02 07:00 in Shanghai: the clock of the policy tests.
int64_t monday_7() { return ms("2026-03-01T23:00:00Z"); }
/// A booking on inst-xrd starting `from_h` hours after monday_7, lasting `len_h` hours.
Booking at_hours(const std::string& user, int64_t from_h, int64_t len_h) {
  return Booking{"", "inst-xrd", user, monday_7() + from_h * kH, monday_7() + (from_h + len_h) * kH};
}
}  // namespace

TEST_CASE("booking policies: none until put, read back as stored, replaced whole, unknown instrument refused") {
  TempDir dir;
  auto store = open_store(dir);
  seed(*store);
  auto& bookings = store->stores().booking;
  auto none = bookings.policy("inst-xrd");
  REQUIRE(none);
  CHECK_FALSE(none->has_value());
  BookingPolicy p = booking::default_policy("inst-xrd");
  p.opening = WeekHours{};
  p.opening->days[0] = {DaySpan{480, 720}, DaySpan{780, 1080}};
  p.opening->days[6] = {DaySpan{0, 1440}};
  p.internal_priority.days[2] = {DaySpan{540, 600}};
  p.lead_min_s = 3600;
  p.slot_s = 1800;
  p.min_length_s = 1800;
  p.user_week_bookings = 3;
  p.group_week_s = 20 * 3600;
  p.external_share_pct = 25;
  p.approval = Approval::external;
  p.cancel_free_s = 86400;
  REQUIRE(bookings.put_policy(p, 1));
  auto back = bookings.policy("inst-xrd");
  REQUIRE(back);
  REQUIRE(back->has_value());
  CHECK(**back == p);
  BookingPolicy q = booking::default_policy("inst-xrd");  // replaced whole: no opening hours any more
  REQUIRE(bookings.put_policy(q, 2));
  back = bookings.policy("inst-xrd");
  REQUIRE(back);
  CHECK(**back == q);
  auto bad = bookings.put_policy(booking::default_policy("nope"), 3);
  REQUIRE_FALSE(bad);
  CHECK(is(bad.error(), Errc::unknown_reference));
}

TEST_CASE("closures: an instrument sees the site's holidays and its own, not another's, removed, duplicates refused") {
  TempDir dir;
  auto store = open_store(dir);
  seed(*store);
  auto& bookings = store->stores().booking;
  const int64_t t = monday_7();
  REQUIRE(bookings.add_closure(Closure{"hol", "", ClosureKind::holiday, t, t + 24 * kH, "spring"}, t));
  REQUIRE(bookings.add_closure(Closure{"blk", "inst-xrd", ClosureKind::blackout, t + 48 * kH, t + 50 * kH, ""}, t));
  REQUIRE(bookings.add_closure(Closure{"door", "door-1", ClosureKind::maintenance, t, t + kH, "lock"}, t));
  auto dup = bookings.add_closure(Closure{"hol", "", ClosureKind::holiday, t, t + kH, ""}, t);
  REQUIRE_FALSE(dup);
  CHECK(is(dup.error(), Errc::conflict));
  auto unknown = bookings.add_closure(Closure{"x", "nope", ClosureKind::blackout, t, t + kH, ""}, t);
  REQUIRE_FALSE(unknown);
  CHECK(is(unknown.error(), Errc::unknown_reference));

  auto xrd = bookings.closures("inst-xrd", t, t + 100 * kH);
  REQUIRE(xrd);
  REQUIRE(xrd->size() == 2);
  CHECK((*xrd)[0] == Closure{"hol", "", ClosureKind::holiday, t, t + 24 * kH, "spring"});
  CHECK((*xrd)[1].id == "blk");
  auto window = bookings.closures("inst-xrd", t + 24 * kH, t + 48 * kH);  // touches both, overlaps neither
  REQUIRE(window);
  CHECK(window->empty());
  auto all = bookings.closures("", t, t + 100 * kH);
  REQUIRE(all);
  CHECK(all->size() == 3);
  REQUIRE(bookings.remove_closure("blk"));
  auto gone = bookings.remove_closure("blk");
  REQUIRE_FALSE(gone);
  CHECK(is(gone.error(), Errc::not_found));
  auto one = bookings.closure("hol");
  REQUIRE(one);
  REQUIRE(one->has_value());
  CHECK((*one)->reason == "spring");
}

TEST_CASE("the quotas' week: slot-holding bookings starting in it, each user's category and shared groups") {
  TempDir dir;
  auto store = open_store(dir);
  seed(*store);
  qualify(*store);
  REQUIRE(store->put_qualification(Qualification{"carol", "inst-xrd", 0, std::nullopt}, 0));
  auto& dirs = store->stores().directory;
  REQUIRE(dirs.add_group(Group{"g1", "Group 1", "alice", "u"}, 0));
  REQUIRE(dirs.add_member("g1", "bob", 0));
  const int64_t now = monday_7();
  auto a = store->create_booking(at_hours("alice", 2, 1), now);
  auto b = store->create_booking(at_hours("bob", 4, 1), now);
  auto c = store->create_booking(at_hours("carol", 6, 1), now);
  auto next_week = store->create_booking(at_hours("alice", 7 * 24 + 2, 1), now);
  REQUIRE((a && b && c && next_week));
  REQUIRE(!a->id.empty());
  REQUIRE(!next_week->id.empty());
  auto week = booking::week_of(now, "Asia/Shanghai");
  REQUIRE(week);
  auto rows = store->stores().booking.week("inst-xrd", week->from_ms, week->to_ms, "alice");
  REQUIRE(rows);
  REQUIRE(rows->size() == 3);
  CHECK((*rows)[0].booking.user == "alice");
  CHECK((*rows)[0].shares_group);  // alice is in her own group
  CHECK((*rows)[1].booking.user == "bob");
  CHECK((*rows)[1].category == UserCategory::external_academic);
  CHECK((*rows)[1].shares_group);
  CHECK((*rows)[2].booking.user == "carol");
  CHECK_FALSE((*rows)[2].shares_group);
}

TEST_CASE("policy through the service: a rule refuses with its name and nothing is stored") {
  TempDir dir;
  auto store = open_store(dir);
  seed(*store);
  qualify(*store);
  auto s = store->stores();
  booking::Service svc(s.uow, s.booking, s.directory, s.qualification, "Asia/Shanghai");
  BookingPolicy p = booking::default_policy("inst-xrd");
  p.slot_s = 3600;
  p.min_length_s = 3600;
  p.user_week_bookings = 1;
  REQUIRE(svc.put_policy(p, 0));
  auto off_grid = svc.create(Booking{"", "inst-xrd", "alice", monday_7() + kH / 2, monday_7() + 2 * kH}, monday_7());
  REQUIRE(off_grid);
  CHECK(off_grid->id.empty());
  CHECK(off_grid->rule == "slot_grid");
  auto ok = svc.create(at_hours("alice", 1, 1), monday_7());
  REQUIRE(ok);
  CHECK_FALSE(ok->id.empty());
  CHECK(ok->status == BookingStatus::active);
  auto second = svc.create(at_hours("alice", 3, 1), monday_7());
  REQUIRE(second);
  CHECK(second->rule == "user_quota");
  // a move is held to the same rules
  auto moved = svc.move(ok->id, monday_7() + kH + kH / 2, monday_7() + 3 * kH, monday_7());
  REQUIRE(moved);
  CHECK(moved->rule == "slot_grid");
  CHECK(moved->after.start_ms == monday_7() + kH);  // unchanged
  auto all = store->bookings({});
  REQUIRE(all);
  CHECK(all->size() == 1);
}

TEST_CASE("approval: a pending booking holds its slot, is approved or refused once, expires when nobody decides") {
  TempDir dir;
  auto store = open_store(dir);
  seed(*store);
  qualify(*store);
  auto s = store->stores();
  booking::Service svc(s.uow, s.booking, s.directory, s.qualification, "Asia/Shanghai");
  BookingPolicy p = booking::default_policy("inst-xrd");
  p.approval = Approval::external;  // bob is external_academic, alice internal
  REQUIRE(svc.put_policy(p, 0));
  const int64_t now = monday_7();
  auto mine = svc.create(at_hours("alice", 1, 1), now);
  REQUIRE(mine);
  CHECK(mine->status == BookingStatus::active);
  auto bobs = svc.create(at_hours("bob", 50, 2), now);
  REQUIRE(bobs);
  REQUIRE_FALSE(bobs->id.empty());
  CHECK(bobs->status == BookingStatus::pending);
  auto held = s.booking.get(bobs->id);
  REQUIRE(held);
  CHECK((*held)->hold_until_ms == now + 48 * kH);
  // it holds its slot
  auto clash = svc.create(at_hours("alice", 51, 1), now);
  REQUIRE(clash);
  CHECK(clash->conflict == bobs->id);
  // approve once
  auto ok = svc.approve(bobs->id, now + kH);
  REQUIRE(ok);
  CHECK(ok->after.status == BookingStatus::active);
  CHECK_FALSE(ok->after.hold_until_ms.has_value());
  auto again = svc.approve(bobs->id, now + kH);
  REQUIRE_FALSE(again);
  CHECK(is(again.error(), Errc::conflict));
  // another one refused frees its slot
  auto second = svc.create(at_hours("bob", 80, 1), now);
  REQUIRE(second);
  auto no = svc.refuse(second->id, "operator away", now + kH);
  REQUIRE(no);
  CHECK(no->after.status == BookingStatus::refused);
  CHECK(no->after.cancel_reason == "operator away");
  auto freed = svc.create(at_hours("alice", 80, 1), now);
  REQUIRE(freed);
  CHECK_FALSE(freed->id.empty());
  // a third expires when its hold runs out, not before
  auto third = svc.create(at_hours("bob", 100, 1), now);
  REQUIRE(third);
  auto early = svc.expire_holds(now + 48 * kH - 1);
  REQUIRE(early);
  CHECK(early->empty());
  auto due = svc.expire_holds(now + 48 * kH);
  REQUIRE(due);
  REQUIRE(due->size() == 1);
  CHECK(due->front().after.id == third->id);
  CHECK(due->front().after.status == BookingStatus::expired);
  auto twice = svc.expire_holds(now + 49 * kH);
  REQUIRE(twice);
  CHECK(twice->empty());
}

TEST_CASE("maintenance cancels the bookings it covers with its reason, a blackout cancels nothing, both refuse new ones") {
  TempDir dir;
  auto store = open_store(dir);
  seed(*store);
  qualify(*store);
  auto s = store->stores();
  booking::Service svc(s.uow, s.booking, s.directory, s.qualification, "Asia/Shanghai");
  const int64_t now = monday_7();
  auto a = svc.create(at_hours("alice", 2, 2), now);
  auto b = svc.create(at_hours("bob", 10, 2), now);
  REQUIRE((a && b));
  Closure blk{"", "inst-xrd", ClosureKind::blackout, now + 9 * kH, now + 13 * kH, "training day"};
  auto none = svc.add_closure(blk, now);
  REQUIRE(none);
  CHECK(none->empty());
  CHECK_FALSE(blk.id.empty());
  Closure fix{"", "inst-xrd", ClosureKind::maintenance, now + 3 * kH, now + 5 * kH, "X-ray tube"};
  auto hit = svc.add_closure(fix, now);
  REQUIRE(hit);
  REQUIRE(hit->size() == 1);
  CHECK(hit->front().after.id == a->id);
  CHECK(hit->front().after.status == BookingStatus::cancelled);
  CHECK(hit->front().after.cancel_reason == "maintenance: X-ray tube");
  auto kept = s.booking.get(b->id);
  REQUIRE(kept);
  CHECK((*kept)->status == BookingStatus::active);
  auto refused = svc.create(at_hours("alice", 4, 1), now);
  REQUIRE(refused);
  CHECK(refused->rule == "closed");
}

TEST_CASE("a cancellation after the policy's free deadline is kept as late") {
  TempDir dir;
  auto store = open_store(dir);
  seed(*store);
  qualify(*store);
  auto s = store->stores();
  booking::Service svc(s.uow, s.booking, s.directory, s.qualification, "Asia/Shanghai");
  BookingPolicy p = booking::default_policy("inst-xrd");
  p.cancel_free_s = 24 * 3600;
  REQUIRE(svc.put_policy(p, 0));
  const int64_t now = monday_7();
  auto early = svc.create(at_hours("alice", 48, 1), now);
  auto late = svc.create(at_hours("alice", 10, 1), now);
  REQUIRE((early && late));
  auto e = svc.cancel(early->id, "plans changed", now);
  REQUIRE(e);
  CHECK_FALSE(e->after.late_cancel);
  auto l = svc.cancel(late->id, "ill", now);
  REQUIRE(l);
  CHECK(l->after.late_cancel);
  auto stored = s.booking.get(late->id);
  REQUIRE(stored);
  CHECK((*stored)->late_cancel);
}
