// The uplink through the agent: signed batches, resends, acks that prune the outbox, state.
#include <doctest/doctest.h>

#include <algorithm>

#include "terminal/agent_rig.hpp"

using namespace lg::terminal;
using namespace lg::terminal::test;
namespace proto = lg::proto;
using proto::Decision;
using proto::Reason;

namespace {
/// Checks one uplink mode end to end: what goes out on evt is authenticated as `auth` says, and
/// only an authentic ack from the server (signed, or MACed under the link's down key) prunes.
void check_outbox_and_acks(proto::Auth auth) {
  Rig r;
  r.auth = auth;
  r.boot();
  r.sync(r.bundle(1));
  r.pub.sent.clear();
  r.agent->on_card("FFFF");
  r.agent->on_card("04A1B2C3");
  auto evts = r.pub.on(r.agent->evt_topic());
  REQUIRE_FALSE(evts.empty());
  std::vector<proto::Record> seen;
  auto tpub = lg::crypto::PublicKey::from_pem(r.terminal_pem);
  REQUIRE(tpub.has_value());
  const proto::LinkKeys link = r.link();
  for (auto& m : evts) {
    CHECK(m.qos == 1);
    CHECK_FALSE(m.retained);
    auto env = proto::open(m.payload);
    REQUIRE(env.has_value());
    CHECK(env->kid == "t1");
    CHECK(env->alg == auth);
    if (auth == proto::Auth::mac) {
      CHECK(proto::verify_mac(*env, link.up));
      CHECK_FALSE(proto::verify_mac(*env, link.down));  // each direction has its own key
    } else {
      CHECK(proto::verify(*env, *tpub));
    }
    auto batch = proto::decode_event_batch(env->body);
    REQUIRE(batch.has_value());
    CHECK(batch->terminal == "t1");
    CHECK(batch->boot == r.agent->boot());
    for (auto& rec : batch->records) seen.push_back(rec);
  }
  auto pending = r.outbox();
  REQUIRE(pending.size() == 3);
  REQUIRE(seen.size() == 3);
  CHECK(seen.back().seq == pending.back().seq);

  auto ack_body = [&](uint64_t seq, std::string term = "t1") { return proto::encode(proto::Ack{term, seq}); };
  // Forged: signed by some other key claiming to be the server.
  auto mallory = gen_key();
  r.agent->on_message({r.agent->ack_topic(), r.seal_server(ack_body(pending.back().seq), &mallory), false});
  CHECK(r.outbox().size() == 3);
  CHECK(r.agent->rejected() == 1);
  // Forged: MACed under a key that is not this link's (the up key, known to the terminal too).
  r.agent->on_message({r.agent->ack_topic(), proto::seal_mac(ack_body(pending.back().seq), "server", link.up), false});
  CHECK(r.outbox().size() == 3);
  CHECK(r.agent->rejected() == 2);
  // Signed by the server but for another terminal.
  r.agent->on_message({r.agent->ack_topic(), r.seal_server(ack_body(pending.back().seq, "t2")), false});
  CHECK(r.outbox().size() == 3);
  // Garbage.
  r.agent->on_message({r.agent->ack_topic(), "not json", false});
  CHECK(r.agent->rejected() == 4);
  // Genuine, MACed by the server under the down key: prunes every seq <= ack.
  r.agent->on_message({r.agent->ack_topic(), proto::seal_mac(ack_body(pending[0].seq), "server", link.down), false});
  REQUIRE(r.outbox().size() == 2);
  // Genuine, signed by the server: prunes every seq <= ack.
  r.agent->on_message({r.agent->ack_topic(), r.seal_server(ack_body(pending[1].seq)), false});
  auto left = r.outbox();
  REQUIRE(left.size() == 1);
  CHECK(left[0].seq == pending[2].seq);
  CHECK(r.agent->rejected() == 4);
}
}  // namespace

TEST_CASE("outbox: MACed batches on evt (the default) / pruned only by the server's authentic ack") {
  check_outbox_and_acks(proto::Auth::mac);
}

TEST_CASE("outbox: signed batches on evt (auth = signature) / pruned only by the server's authentic ack") {
  check_outbox_and_acks(proto::Auth::signature);
}

TEST_CASE("unacked records are published again after resend_s / and on reconnect") {
  Rig r;
  r.boot();
  r.sync(r.bundle(1));
  r.pub.sent.clear();
  r.agent->on_card("FFFF");
  const auto evt = r.agent->evt_topic();
  CHECK(r.pub.on(evt).size() == 1);
  r.clock.advance(4 * S);
  r.agent->tick();
  CHECK(r.pub.on(evt).size() == 1);  // nothing new, not yet due
  r.clock.advance(1 * S);
  r.agent->tick();
  CHECK(r.pub.on(evt).size() == 2);  // resent: the broker's PUBACK is not an ack

  r.pub.up = false;
  r.agent->on_connection(false);
  r.agent->on_card("EEEE");  // recorded while offline
  CHECK(r.pub.on(evt).size() == 2);
  r.pub.up = true;
  r.agent->on_connection(true);
  auto evts = r.pub.on(evt);
  REQUIRE(evts.size() == 3);
  auto batch = proto::decode_event_batch(proto::open(evts.back().payload)->body);
  REQUIRE(batch.has_value());
  CHECK(batch->records.size() == 2);
}

TEST_CASE("state: retained birth on connect / will has the same boot and online=false") {
  Rig r;
  r.boot();
  auto states = r.pub.on(r.agent->state_topic());
  REQUIRE_FALSE(states.empty());
  CHECK(states[0].retained);
  auto birth = proto::decode_state(proto::open(states[0].payload)->body);
  REQUIRE(birth.has_value());
  CHECK(birth->online);
  CHECK(birth->boot == r.agent->boot());
  CHECK(birth->board == "test-board");
  auto will = proto::decode_state(proto::open(r.agent->state_payload(false))->body);
  REQUIRE(will.has_value());
  CHECK_FALSE(will->online);
  CHECK(will->boot == birth->boot);
  // Sync apply republishes state with the new acl version.
  r.sync(r.bundle(5));
  auto last = proto::decode_state(proto::open(r.pub.on(r.agent->state_topic()).back().payload)->body);
  CHECK(last->acl_version == 5);
}

TEST_CASE("a swipe is decided, committed and switched before any signing: that waits on the uplink worker") {
  Rig r;
  lg::test::QueueWorker uplink;
  r.uplink_worker = &uplink;
  r.boot();
  uplink.drain();  // publisher, birth state
  r.sync(r.bundle(1));
  uplink.drain();  // the bundle is verified on the uplink worker, then applied on the loop
  REQUIRE(r.agent->acl().version == 1);
  const auto before = r.pub.sent.size();

  auto in = r.agent->on_card("04A1B2C3");
  CHECK(in.action == "start");
  CHECK(r.coil(0));                        // switched
  CHECK(r.outbox().size() == 2);           // committed: access + session start
  CHECK(r.pub.sent.size() == before);      // nothing signed or published yet
  CHECK_FALSE(uplink.tasks.empty());
  uplink.drain();
  auto evts = r.pub.on(r.agent->evt_topic());
  REQUIRE(evts.size() == 1);  // one signed batch with both records

  // An ack is verified on the worker too; the outbox is pruned only then.
  auto ack = r.seal_server(proto::encode(proto::Ack{"t1", 2}));
  r.agent->on_message({r.agent->ack_topic(), ack, false});
  CHECK(r.outbox().size() == 2);
  uplink.drain();
  CHECK(r.outbox().empty());
}

TEST_CASE("a bundle that arrived before a connection loss is applied but does not make the cache current") {
  Rig r;
  lg::test::QueueWorker uplink;
  r.uplink_worker = &uplink;
  r.boot();
  uplink.drain();
  r.sync(r.bundle(1));    // arrives on the live connection, waits on the uplink worker
  r.agent->on_connection(false);  // the loss is seen on the loop before the bundle is verified
  r.clock.advance(10 * S);
  uplink.drain();         // verified and applied after the loss
  CHECK(r.agent->acl().version == 1);
  r.agent->heartbeat();   // not current: no sync time refresh from heartbeats
  uplink.drain();
  const auto synced = r.agent->last_sync_ms();
  r.agent->on_connection(true);
  r.clock.advance(30 * S);
  r.agent->heartbeat();
  uplink.drain();
  CHECK(r.agent->last_sync_ms() == synced);  // a connect without a bundle proves nothing
}
