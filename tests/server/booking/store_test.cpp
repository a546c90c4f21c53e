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
  // over its own slot and up to bob's: fine
  auto ok = svc.move(a->id, t0 - h, t0 + 3 * h, t0);
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
}
