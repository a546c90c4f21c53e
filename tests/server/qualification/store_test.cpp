// The qualifications' store contract (both backends) and the revoke rule: a revoked qualification
// stays as history, ending when it was revoked.
#include <doctest/doctest.h>

#include "server/qualification/rules.hpp"
#include "server/sync/rules.hpp"
#include "tests/server/test_support.hpp"

using namespace lg;
using namespace lg::server;
using namespace lg::server::test;

TEST_CASE("revoke rule: an open or later-ending qualification ends now, an ended one is refused") {
  using namespace lg::server::qualification;
  const Qualification open{"alice", "xrd", 100, std::nullopt};
  CHECK(revoke_refusal(open, 500).empty());
  CHECK(revoked(open, 500).valid_until_ms == 500);
  CHECK(revoked(open, 500).valid_from_ms == 100);
  const Qualification later{"alice", "xrd", 100, 1000};
  CHECK(revoke_refusal(later, 500).empty());
  CHECK(revoked(later, 500).valid_until_ms == 500);
  // ended (revoked or expired) at or before now: refused, naming who and where
  CHECK(revoke_refusal(later, 1000).find("ended already") != std::string::npos);
  CHECK(revoke_refusal(Qualification{"alice", "xrd", 0, 400}, 500).find("alice") != std::string::npos);
  // not yet begun: ends at its start, so it never covers anything
  const Qualification future{"alice", "xrd", 900, std::nullopt};
  const Qualification gone = revoked(future, 500);
  CHECK(gone.valid_until_ms == 900);
  CHECK_FALSE(covers(gone, 900, 901));
}

TEST_CASE("a revoked qualification is kept with its end: get, list and the sync inputs show it") {
  TempDir dir;
  auto store = open_store(dir);
  seed(*store);
  auto& q = store->stores().qualification;
  const int64_t t0 = ms("2026-03-02T00:00:00Z");
  REQUIRE(q.put(Qualification{"alice", "inst-xrd", 0, std::nullopt}, t0));
  REQUIRE(q.put(Qualification{"bob", "inst-xrd", 0, std::nullopt}, t0));

  auto got = q.get("alice", "inst-xrd");
  REQUIRE(got);
  REQUIRE(*got);
  REQUIRE(qualification::revoke_refusal(**got, t0 + 10).empty());
  REQUIRE(q.put(qualification::revoked(**got, t0 + 10), t0 + 10));

  auto after = q.get("alice", "inst-xrd");
  REQUIRE(after);
  REQUIRE(*after);
  CHECK((*after)->valid_until_ms == t0 + 10);
  CHECK(!qualification::revoke_refusal(**after, t0 + 10).empty());  // a second revoke is refused
  auto all = q.list({});
  REQUIRE(all);
  CHECK(all->size() == 2);  // history kept
  auto on = q.on_instrument("inst-xrd");
  REQUIRE(on);
  REQUIRE(on->size() == 2);
  CHECK((*on)[0].user == "alice");
  CHECK((*on)[0].valid_until_ms == t0 + 10);
  CHECK_FALSE((*on)[1].valid_until_ms);
  CHECK_FALSE(q.get("carol", "inst-xrd")->has_value());

  // the bundle built from the stored facts grants alice nothing after the revocation
  REQUIRE(store->add_card(Card{"04DD", "carol", true}, t0));
  auto in = store->sync_inputs(terminal("t1", "inst-xrd", new_key().public_pem()), t0 + 20);
  REQUIRE(in);
  const auto b = sync::build(*in, t0 + 20, 1);
  for (const auto& g : b.grants) {
    if (g.user != "alice") continue;
    REQUIRE(g.valid_until_ms);
    CHECK(*g.valid_until_ms == t0 + 10);
  }
}

TEST_CASE("levels and lapse rules: names, order, lapse months after the last use or the grant") {
  using namespace lg::server::qualification;
  CHECK(std::string(to_string(QualificationLevel::supervised)) == "supervised");
  CHECK(level_from("independent") == QualificationLevel::independent);
  CHECK_FALSE(level_from("expert"));
  CHECK(at_least(QualificationLevel::after_hours, QualificationLevel::independent));
  CHECK(at_least(QualificationLevel::independent, QualificationLevel::independent));
  CHECK_FALSE(at_least(QualificationLevel::supervised, QualificationLevel::independent));

  const int64_t granted = ms("2026-03-02T02:00:00Z");
  const Qualification q{"alice", "xrd", granted, std::nullopt, QualificationLevel::independent};
  CHECK_FALSE(*lapses_at(q, std::nullopt, 0, "Asia/Shanghai"));  // no rule: never
  // never used: six months after the grant; used since: six months after that use
  CHECK(**lapses_at(q, std::nullopt, 6, "Asia/Shanghai") == ms("2026-09-02T02:00:00Z"));
  CHECK(**lapses_at(q, ms("2026-05-20T01:00:00Z"), 6, "Asia/Shanghai") == ms("2026-11-20T01:00:00Z"));
  // a use before a renewal does not shorten the renewed one
  CHECK(**lapses_at(q, ms("2026-01-10T01:00:00Z"), 6, "Asia/Shanghai") == ms("2026-09-02T02:00:00Z"));
  CHECK_FALSE(lapses_at(q, std::nullopt, 6, "Nowhere/Atlantis"));
  // the lapse ends it only when earlier than its own end
  CHECK(with_lapse(q, ms("2026-09-02T02:00:00Z")).valid_until_ms == ms("2026-09-02T02:00:00Z"));
  Qualification short_one = q;
  short_one.valid_until_ms = ms("2026-06-01T00:00:00Z");
  CHECK(with_lapse(short_one, ms("2026-09-02T02:00:00Z")).valid_until_ms == ms("2026-06-01T00:00:00Z"));
  CHECK(with_lapse(short_one, std::nullopt).valid_until_ms == ms("2026-06-01T00:00:00Z"));
}

TEST_CASE("a qualification keeps its level and source, the bundle carries the level and ends the grant at its lapse") {
  TempDir dir;
  auto store = open_store(dir);
  seed(*store);
  auto& q = store->stores().qualification;
  const int64_t t0 = ms("2026-03-02T00:00:00Z");
  REQUIRE(q.put(Qualification{"alice", "inst-xrd", t0, std::nullopt, QualificationLevel::independent, "training:xrd-basic"},
                t0));
  REQUIRE(q.put(Qualification{"bob", "inst-xrd", t0, std::nullopt}, t0));
  auto got = q.get("alice", "inst-xrd");
  REQUIRE(got);
  REQUIRE(*got);
  CHECK((*got)->level == QualificationLevel::independent);
  CHECK((*got)->source == "training:xrd-basic");
  CHECK(q.get("bob", "inst-xrd")->value().level == QualificationLevel::after_hours);  // the default
  auto listed = q.list({});
  REQUIRE(listed);
  CHECK((*listed)[0].level == QualificationLevel::independent);
  CHECK(q.last_use("alice", "inst-xrd")->has_value() == false);

  // alice used the instrument on 2026-04-01: that is her last use
  UsageEffects e;
  e.now_ms = t0;
  SessionRow row;
  row.session.id = "s-1";
  row.session.terminal = "t1";
  row.session.resource = "inst-xrd";
  row.session.user = "alice";
  row.session.start_ms = ms("2026-04-01T01:00:00Z");
  e.new_sessions.push_back(row);
  REQUIRE(store->stores().usage.write(e));
  auto used = q.last_use("alice", "inst-xrd");
  REQUIRE(used);
  CHECK(*used == ms("2026-04-01T01:00:00Z"));
  CHECK_FALSE(q.last_use("bob", "inst-xrd")->has_value());
  CHECK_FALSE(q.last_use("alice", "door-1")->has_value());

  // the instrument's rule: lapse after 3 months unused
  BookingPolicy p = booking::default_policy("inst-xrd");
  p.lapse_months = 3;
  REQUIRE(store->stores().booking.put_policy(p, t0));
  const int64_t now = ms("2026-05-01T00:00:00Z");  // seed() gave alice 04AA and bob 04BB
  auto in = store->sync_inputs(terminal("t1", "inst-xrd", new_key().public_pem()), now);
  REQUIRE(in);
  in->zone = "UTC";
  CHECK(in->last_use.at("alice") == ms("2026-04-01T01:00:00Z"));
  const auto b = sync::build(*in, now, 1);
  bool saw_alice = false, saw_bob = false;
  for (const auto& g : b.grants) {
    if (g.user == "alice") {
      saw_alice = true;
      CHECK(g.level == proto::Level::independent);
      CHECK(g.valid_until_ms == ms("2026-07-01T01:00:00Z"));  // 3 months after her last use
    }
    if (g.user == "bob") {
      saw_bob = true;
      CHECK(g.level == proto::Level::after_hours);
      CHECK(g.valid_until_ms == ms("2026-06-02T00:00:00Z"));  // never used: 3 months after the grant
    }
  }
  CHECK((saw_alice && saw_bob));
  // alice is below after_hours: the policy carries the zone and the default staffed hours
  REQUIRE(b.policy.staffed_hours);
  CHECK(b.policy.zone == "UTC");
  CHECK(b.policy.staffed_hours->size() == 5);
  CHECK(b.policy.staffed_hours->front() == proto::WeekSpan{1, 480, 1080});
}
