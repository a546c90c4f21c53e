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
