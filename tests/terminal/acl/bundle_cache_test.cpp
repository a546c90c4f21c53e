// The bundle cache through the agent: verified bundles only, and when the cache counts as current.
#include <doctest/doctest.h>

#include <algorithm>

#include "terminal/agent_rig.hpp"

using namespace lg::terminal;
using namespace lg::terminal::test;
namespace proto = lg::proto;
using proto::Decision;
using proto::Reason;

TEST_CASE("time online with the bundle confirmed counts as synced: the grace starts at the disconnect") {
  Rig r;
  r.boot();
  r.sync(r.bundle(1));
  for (int i = 0; i < 3 * 24; ++i) {  // three days online, bundle unchanged, hourly heartbeats
    r.clock.advance(H);
    r.agent->heartbeat();
  }
  r.agent->on_connection(false);
  r.clock.advance(30 * 60 * S);  // half an hour into an outage, grace is one hour
  auto s = r.agent->on_card("04A1B2C3");
  CHECK(s.decision == Decision::granted);
  CHECK(s.reason == Reason::qualified);
  CHECK(r.bodies<proto::Access>().back().mode == proto::Mode::offline);
  r.agent->on_card("04A1B2C3");  // swipe out
  r.clock.advance(31 * 60 * S);  // now past the hour
  CHECK(r.agent->on_card("04A1B2C3").reason == Reason::cache_expired);
}

TEST_CASE("a reconnect that has not yet delivered the bundle does not refresh the sync time") {
  Rig r;
  r.boot();
  r.sync(r.bundle(1));
  r.agent->on_connection(false);
  r.clock.advance(50 * 60 * S);
  r.agent->on_connection(true);  // connected, but the retained bundle has not arrived
  r.clock.advance(5 * 60 * S);
  r.agent->heartbeat();
  r.agent->on_connection(false);
  r.clock.advance(6 * 60 * S);   // 61 minutes after the last confirmed sync
  CHECK(r.agent->on_card("04A1B2C3").reason == Reason::cache_expired);
}

TEST_CASE("whatever order the connect callback and the retained bundle come in, the cache stays current") {
  // Paho subscribes inside connect, so the retained bundle can be delivered before the client
  // reports itself connected: after a restart, and on some reconnects.
  for (const bool bundle_first : {true, false}) {
    CAPTURE(bundle_first);
    Rig r;
    r.boot();
    r.sync(r.bundle(1));
    r.clock.advance(10 * S);
    r.boot(/*connected=*/false);  // the process restarts with the broker up
    r.pub.up = true;
    if (bundle_first) {
      r.sync(r.bundle(1));
      r.agent->on_connection(true);
    } else {
      r.agent->on_connection(true);
      r.sync(r.bundle(1));
    }
    for (int i = 0; i < 3 * 24; ++i) {  // three days online, far beyond the one-hour grace
      r.clock.advance(H);
      r.agent->heartbeat();
    }
    CHECK(*r.agent->last_sync_ms() == r.clock.wall);
    r.pub.up = false;
    r.agent->on_connection(false);  // the broker goes away
    r.clock.advance(30 * 60 * S);
    auto s = r.agent->on_card("04A1B2C3");
    CHECK(s.decision == Decision::granted);
    CHECK(s.reason == Reason::qualified);
  }
}

TEST_CASE("a reconnect whose retained bundle arrives before the connect callback keeps the cache current") {
  Rig r;
  r.boot();
  r.sync(r.bundle(1));
  r.agent->on_connection(false);
  r.clock.advance(10 * 60 * S);
  r.sync(r.bundle(1));  // the new connection's retained bundle, delivered first
  r.agent->on_connection(true);
  for (int i = 0; i < 24; ++i) {
    r.clock.advance(H);
    r.agent->heartbeat();
  }
  r.agent->on_connection(false);
  r.clock.advance(59 * 60 * S);
  CHECK(r.agent->on_card("04A1B2C3").reason == Reason::qualified);
}

TEST_CASE("a bundle from a connection attempt that failed before it was reported counts once, on arrival") {
  // lg::mqtt subscribes before it reports a connection; if the connection fails right after the
  // retained bundle arrived, neither a connect nor a loss is ever reported for it.
  Rig r;
  r.boot();
  r.sync(r.bundle(1));
  r.pub.up = false;
  r.agent->on_connection(false);
  r.clock.advance(10 * 60 * S);
  r.sync(r.bundle(1));  // the failed attempt's retained bundle
  const int64_t received = r.clock.wall;
  CHECK(*r.agent->last_sync_ms() == received);
  for (int i = 0; i < 121; ++i) {  // heartbeats for just over the one-hour grace, still offline
    r.clock.advance(30 * S);
    r.agent->heartbeat();
  }
  CHECK(*r.agent->last_sync_ms() == received);
  CHECK(r.agent->on_card("04A1B2C3").reason == Reason::cache_expired);
  // the next connection that delivers the bundle makes the cache current again
  r.pub.up = true;
  r.agent->on_connection(true);
  r.sync(r.bundle(1));
  r.clock.advance(2 * H);
  r.agent->heartbeat();
  r.pub.up = false;
  r.agent->on_connection(false);
  r.clock.advance(30 * 60 * S);
  CHECK(r.agent->on_card("04A1B2C3").reason == Reason::qualified);
}

TEST_CASE("after a loss only a bundle received after it makes the cache current, even if the loss is told late") {
  // If a loss were reported after the next connection's bundle, the agent cannot tell whose
  // bundle it was: it errs on the safe side and waits for the next one.
  Rig r;
  r.boot();
  r.sync(r.bundle(1));
  r.clock.advance(10 * 60 * S);
  r.sync(r.bundle(1));           // a bundle, then the loss of the connection is reported
  const int64_t lost_at = r.clock.wall;
  r.agent->on_connection(false);
  r.agent->on_connection(true);  // a new connection without the bundle (yet)
  for (int i = 0; i < 3; ++i) {
    r.clock.advance(H);
    r.agent->heartbeat();
  }
  CHECK(*r.agent->last_sync_ms() == lost_at);
  r.sync(r.bundle(1));  // it arrives: current again
  r.clock.advance(H);
  r.agent->heartbeat();
  CHECK(*r.agent->last_sync_ms() == r.clock.wall);
}

TEST_CASE("a clean stop while the cache is current counts as a sync") {
  Rig r;
  r.boot();
  r.sync(r.bundle(1));
  r.clock.advance(20 * 60 * S);  // no heartbeat since the bundle
  r.agent->shutdown();
  CHECK(*r.agent->last_sync_ms() == r.clock.wall);
  r.boot(/*connected=*/false);  // restarted into a broker outage
  r.clock.advance(50 * 60 * S);  // 70 minutes after the bundle, 50 after the stop: within the grace
  CHECK(r.agent->on_card("04A1B2C3").reason == Reason::qualified);
}

TEST_CASE("last sync time persists across restarts") {
  Rig r;
  r.boot();
  r.sync(r.bundle(1));
  r.clock.advance(10 * S);
  r.boot(/*connected=*/false);
  CHECK(r.agent->acl().version == 1);
  REQUIRE(r.agent->last_sync_ms().has_value());
  CHECK(*r.agent->last_sync_ms() == T0);
  CHECK(r.agent->on_card("04A1B2C3").reason == Reason::qualified);  // offline, within grace
}

TEST_CASE("sync: only verified / newer bundles for this terminal are applied") {
  Rig r;
  r.boot();
  r.sync(r.bundle(3));
  REQUIRE(r.agent->acl().version == 3);

  auto mallory = gen_key();
  auto forged = r.bundle(9);
  forged.grants.push_back({"BAD", "mallory", "internal", true, 0, std::nullopt});
  r.agent->on_message({r.agent->sync_topic(), r.seal_server(proto::encode(forged), &mallory), true});
  CHECK(r.agent->acl().version == 3);

  auto other = r.bundle(9);
  other.terminal = "t2";
  r.sync(other);
  CHECK(r.agent->acl().version == 3);

  r.sync(r.bundle(2));  // older
  CHECK(r.agent->acl().version == 3);
  CHECK(r.agent->rejected() == 2);

  // The retained bundle again after a reconnect: fresh sync time, not re-applied.
  r.agent->on_connection(false);
  r.clock.advance(3000 * S);
  r.sync(r.bundle(3));
  CHECK(*r.agent->last_sync_ms() == r.clock.wall);
  r.clock.advance(3000 * S);  // 50 min after that sync: still within the 1 h grace
  CHECK(r.agent->on_card("04A1B2C3").reason == Reason::qualified);

  r.sync(r.bundle(4));
  CHECK(r.agent->acl().version == 4);
}
