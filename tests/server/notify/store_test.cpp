// The outbox's store contract and the outbox over it, on both backends (open_store): a dedupe key
// mails once, a notice commits or rolls back with the unit of work that enqueued it, a user
// without mail gets no_address, a claimed notice is held by one sender, failures back off and end
// failed, a retry by hand starts over; two senders on two connections never send one notice twice.
#include <doctest/doctest.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "server/notify/outbox.hpp"
#include "server/notify/rules.hpp"
#include "tests/server/test_support.hpp"

using namespace lg;
using namespace lg::server;
using namespace lg::server::test;
using namespace lg::server::notify;

namespace {

/// seed() plus dora, who has a mail address.
void seed_mail(TestStore& s, int64_t now) {
  seed(s, now);
  User dora{"dora", "Dora 朵拉", UserCategory::internal_student, "u", false};
  dora.email = "dora@lab.example.edu";
  REQUIRE(s.add_user(dora, now));
}

NoticeRequest confirmed(const std::string& user, const std::string& booking) {
  return NoticeRequest{user,
                       Kind::booking_confirmed,
                       Fields{{"instrument", "XRD"}, {"lab", "XRD lab"}, {"start", "s"}, {"end", "e"}, {"booking", booking}},
                       booking_confirmed_key(booking)};
}

/// A mailer that answers what it is told and keeps what it was given.
struct FakeMailer final : Mailer {
  Outcome answer = Outcome::sent;
  std::vector<Mail> got;
  Delivery send(const Mail& m) override {
    got.push_back(m);
    return Delivery{answer, answer == Outcome::sent ? "" : "smtp test: 451 try later"};
  }
};

}  // namespace

TEST_CASE("enqueue: the template rendered for the user's address, the same dedupe key twice stores one notice") {
  TempDir dir;
  auto store = open_store(dir);
  const int64_t now = ms("2026-03-02T01:00:00Z");
  seed_mail(*store, now);
  auto s = store->stores();
  Outbox outbox(s.uow, s.notify, s.directory, "demo");
  auto n = outbox.enqueue(confirmed("dora", "b-1"), now);
  REQUIRE(n);
  REQUIRE(*n);
  CHECK((*n)->address == "dora@lab.example.edu");
  CHECK((*n)->state == State::pending);
  CHECK((*n)->next_attempt_ms == now);
  CHECK((*n)->subject == "预约已确认：XRD / Booking confirmed: XRD");
  CHECK((*n)->body.find("Dora 朵拉，您好") == 0);
  auto again = outbox.enqueue(confirmed("dora", "b-1"), now + 1000);
  REQUIRE(again);
  CHECK_FALSE(*again);
  auto all = s.notify.list({});
  REQUIRE(all);
  REQUIRE(all->size() == 1);
  const Notice& got = all->front();
  CHECK(got.id == (*n)->id);
  CHECK(got.recipient == "dora");
  CHECK(got.kind == Kind::booking_confirmed);
  CHECK(got.dedupe_key == "booking_confirmed:b-1");
  CHECK(got.attempts == 0);
  CHECK(got.created_ms == now);
  CHECK(got.body == (*n)->body);

  auto unknown = outbox.enqueue(confirmed("nobody", "b-2"), now);
  REQUIRE_FALSE(unknown);
  CHECK(is(unknown.error(), Errc::unknown_reference));
  NoticeRequest empty_key = confirmed("dora", "b-3");
  empty_key.dedupe_key.clear();
  CHECK_FALSE(outbox.enqueue(empty_key, now));
}

TEST_CASE("a notice to a user without mail is kept as no_address and never claimed") {
  TempDir dir;
  auto store = open_store(dir);
  const int64_t now = ms("2026-03-02T01:00:00Z");
  seed_mail(*store, now);
  auto s = store->stores();
  Outbox outbox(s.uow, s.notify, s.directory, "demo");
  auto n = outbox.enqueue(confirmed("alice", "b-1"), now);
  REQUIRE((n && *n));
  CHECK((*n)->state == State::no_address);
  CHECK((*n)->address.empty());
  CHECK((*n)->last_error.find("no_address") == 0);
  auto claimed = s.notify.claim_due(now + 1000, 10, "c1", now + 60'000);
  REQUIRE(claimed);
  CHECK(claimed->empty());
  // A retry by hand needs an address first.
  auto r = outbox.retry((*n)->id, now);
  REQUIRE_FALSE(r);
  CHECK(is(r.error(), Errc::conflict));
  CHECK(r.error().reason.find("no mail address") != std::string::npos);
  auto filtered = s.notify.list({"no_address", ""});
  REQUIRE(filtered);
  CHECK(filtered->size() == 1);
  CHECK(s.notify.list({"pending", ""})->empty());
  CHECK(s.notify.list({"", "dora"})->empty());
  CHECK(s.notify.list({"", "alice"})->size() == 1);
}

TEST_CASE("a notice commits with the unit of work that enqueued it, and rolls back with it") {
  TempDir dir;
  auto store = open_store(dir);
  const int64_t now = ms("2026-03-02T01:00:00Z");
  seed_mail(*store, now);
  auto s = store->stores();
  Outbox outbox(s.uow, s.notify, s.directory, "demo");
  auto failed = s.uow.run([&]() -> Status {
    auto n = outbox.enqueue(confirmed("dora", "b-rolled-back"), now);
    REQUIRE((n && *n));
    return domain_error(Errc::conflict, "the change that caused it failed");
  });
  CHECK_FALSE(failed);
  CHECK(s.notify.list({})->empty());
  REQUIRE(s.uow.run([&]() -> Status {
    auto n = outbox.enqueue(confirmed("dora", "b-kept"), now);
    if (!n) return n.error();
    return {};
  }));
  REQUIRE(s.notify.list({})->size() == 1);
  // The key of the rolled-back notice is free: enqueued again, it is stored.
  auto again = outbox.enqueue(confirmed("dora", "b-rolled-back"), now);
  REQUIRE((again && *again));
}

TEST_CASE("claim: due notices earliest first, one claimer at a time until the lease runs out") {
  TempDir dir;
  auto store = open_store(dir);
  const int64_t now = ms("2026-03-02T01:00:00Z");
  seed_mail(*store, now);
  auto s = store->stores();
  Outbox outbox(s.uow, s.notify, s.directory, "demo");
  for (int i = 0; i < 3; ++i) REQUIRE(outbox.enqueue(confirmed("dora", "b-" + std::to_string(i)), now + i));
  auto early = s.notify.claim_due(now - 1, 10, "c0", now + 60'000);
  REQUIRE(early);
  CHECK(early->empty());  // nothing due yet
  auto a = s.notify.claim_due(now + 10, 2, "ca", now + 60'000);
  REQUIRE(a);
  REQUIRE(a->size() == 2);
  CHECK(a->at(0).dedupe_key == "booking_confirmed:b-0");
  CHECK(a->at(1).dedupe_key == "booking_confirmed:b-1");
  CHECK(a->at(0).attempts == 1);
  auto b = s.notify.claim_due(now + 10, 10, "cb", now + 60'000);
  REQUIRE(b);
  REQUIRE(b->size() == 1);  // only the one ca did not take
  CHECK(b->at(0).dedupe_key == "booking_confirmed:b-2");
  // ca's lease runs out (ca died): another claimer takes them; ca can then record nothing.
  auto c = s.notify.claim_due(now + 60'000, 10, "cc", now + 120'000);
  REQUIRE(c);
  REQUIRE(c->size() == 3);
  CHECK(c->at(0).attempts == 2);
  auto stale = s.notify.mark_sent(a->at(0).id, "ca", now + 60'001);
  REQUIRE(stale);
  CHECK_FALSE(*stale);
  auto stale_fail = s.notify.mark_failed(a->at(0).id, "ca", State::failed, now, "x");
  REQUIRE(stale_fail);
  CHECK_FALSE(*stale_fail);
  auto sent = s.notify.mark_sent(a->at(0).id, "cc", now + 60'002);
  REQUIRE(sent);
  CHECK(*sent);
  auto got = s.notify.get(a->at(0).id);
  REQUIRE((got && *got));
  CHECK((*got)->state == State::sent);
  CHECK((*got)->sent_ms == now + 60'002);
  auto twice = s.notify.mark_sent(a->at(0).id, "cc", now + 60'003);
  REQUIRE(twice);
  CHECK_FALSE(*twice);
}

TEST_CASE("the worker: a transient failure backs off with the error kept, then the mail goes, permanent ends it") {
  TempDir dir;
  auto store = open_store(dir);
  int64_t now = ms("2026-03-02T01:00:00Z");
  seed_mail(*store, now);
  auto s = store->stores();
  Outbox outbox(s.uow, s.notify, s.directory, "demo");
  auto n = outbox.enqueue(confirmed("dora", "b-1"), now);
  REQUIRE((n && *n));
  const std::string id = (*n)->id;
  FakeMailer mailer;
  WorkerSettings ws;
  ws.from = "labgate@lab.example.edu";
  ws.retry = RetryPolicy{3, 1000, 10'000};
  Worker worker(s.notify, mailer, ws, [&] { return now; });

  mailer.answer = Outcome::transient;
  auto r = worker.run_once();
  REQUIRE(r);
  CHECK(r->claimed == 1);
  CHECK(r->sent == 0);
  auto got = s.notify.get(id);
  CHECK((*got)->state == State::pending);
  CHECK((*got)->attempts == 1);
  CHECK((*got)->next_attempt_ms == now + 1000);
  CHECK((*got)->last_error == "smtp test: 451 try later");
  // Not due before the backoff has passed.
  CHECK(worker.run_once()->claimed == 0);
  now += 1000;
  mailer.answer = Outcome::sent;
  r = worker.run_once();
  REQUIRE(r);
  CHECK(r->sent == 1);
  got = s.notify.get(id);
  CHECK((*got)->state == State::sent);
  CHECK((*got)->attempts == 2);
  CHECK((*got)->last_error.empty());
  REQUIRE(mailer.got.size() == 2);
  CHECK(mailer.got.back().to == "dora@lab.example.edu");
  CHECK(mailer.got.back().from == "labgate@lab.example.edu");
  CHECK(mailer.got.back().message_id == "<" + id + "@lab.example.edu>");
  CHECK(mailer.got.back().subject == (*n)->subject);
  CHECK(worker.run_once()->claimed == 0);  // sent once, never again

  auto p = outbox.enqueue(confirmed("dora", "b-2"), now);
  REQUIRE((p && *p));
  mailer.answer = Outcome::permanent;
  r = worker.run_once();
  REQUIRE(r);
  CHECK(r->failed == 1);
  CHECK((*s.notify.get((*p)->id))->state == State::failed);
}

TEST_CASE("out of attempts a notice is failed with its last error, a retry by hand starts it over") {
  TempDir dir;
  auto store = open_store(dir);
  int64_t now = ms("2026-03-02T01:00:00Z");
  seed_mail(*store, now);
  auto s = store->stores();
  Outbox outbox(s.uow, s.notify, s.directory, "demo");
  auto n = outbox.enqueue(confirmed("dora", "b-1"), now);
  REQUIRE((n && *n));
  const std::string id = (*n)->id;
  FakeMailer mailer;
  mailer.answer = Outcome::transient;
  WorkerSettings ws;
  ws.from = "labgate@lab.example.edu";
  ws.retry = RetryPolicy{3, 1000, 1500};
  Worker worker(s.notify, mailer, ws, [&] { return now; });
  for (int i = 0; i < 3; ++i) {
    auto r = worker.run_once();
    REQUIRE(r);
    CHECK(r->claimed == 1);
    now += 1500;
  }
  auto got = s.notify.get(id);
  CHECK((*got)->state == State::failed);
  CHECK((*got)->attempts == 3);
  CHECK((*got)->last_error == "smtp test: 451 try later");
  CHECK(worker.run_once()->claimed == 0);
  CHECK(s.notify.list({"failed", ""})->size() == 1);

  auto retried = outbox.retry(id, now);
  REQUIRE(retried);
  CHECK(retried->first.state == State::failed);
  CHECK(retried->second.state == State::pending);
  CHECK(retried->second.attempts == 0);
  CHECK(retried->second.next_attempt_ms == now);
  auto twice = outbox.retry(id, now);
  REQUIRE_FALSE(twice);
  CHECK(is(twice.error(), Errc::conflict));
  mailer.answer = Outcome::sent;
  CHECK(worker.run_once()->sent == 1);
  auto sent_retry = outbox.retry(id, now);
  REQUIRE_FALSE(sent_retry);
  CHECK(is(sent_retry.error(), Errc::conflict));
  auto unknown = outbox.retry("no-such-notice", now);
  REQUIRE_FALSE(unknown);
  CHECK(is(unknown.error(), Errc::not_found));
}

TEST_CASE("two senders on two connections claim at once: every notice is mailed exactly once") {
  TempDir dir;
  auto store = open_store(dir, 3);
  const int64_t now = ms("2026-03-02T01:00:00Z");
  seed_mail(*store, now);
  auto s = store->stores();
  Outbox outbox(s.uow, s.notify, s.directory, "demo");
  constexpr int kNotices = 60;
  for (int i = 0; i < kNotices; ++i) REQUIRE(outbox.enqueue(confirmed("dora", "b-" + std::to_string(i)), now));
  std::mutex m;
  std::multiset<std::string> mailed;
  struct Counting final : Mailer {
    std::mutex& m;
    std::multiset<std::string>& mailed;
    Counting(std::mutex& mm, std::multiset<std::string>& out) : m(mm), mailed(out) {}
    Delivery send(const Mail& mail) override {
      std::lock_guard<std::mutex> lock(m);
      mailed.insert(mail.message_id);
      return Delivery{Outcome::sent, ""};
    }
  };
  std::atomic<bool> failed{false};
  auto sender = [&] {
    Counting mailer(m, mailed);
    WorkerSettings ws;
    ws.from = "labgate@lab.example.edu";
    ws.batch = 3;
    Worker worker(s.notify, mailer, ws, [&] { return now; });
    for (;;) {
      auto r = worker.run_once();
      if (!r) {
        failed = true;
        return;
      }
      if (r->claimed == 0) return;
    }
  };
  std::thread a(sender), b(sender);
  a.join();
  b.join();
  CHECK_FALSE(failed);
  CHECK(mailed.size() == kNotices);
  CHECK(std::set<std::string>(mailed.begin(), mailed.end()).size() == kNotices);
  CHECK(s.notify.list({"sent", ""}, Page{{}, 1000})->size() == kNotices);
}
