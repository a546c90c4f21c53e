#include <doctest/doctest.h>

#include "tests/server/test_support.hpp"
#include "server/core/app.hpp"

using namespace lg;
using namespace lg::server;
using namespace lg::server::test;

namespace {
struct AppFixture {
  TempDir dir;
  std::unique_ptr<TestStore> store = open_store(dir);
  crypto::PrivateKey server_key = new_key();
  crypto::PrivateKey term_key = new_key();
  RecordingPublisher pub;
  ServerConfig cfg = [] {
    ServerConfig c;
    c.site = "demo";
    c.admin_token = "t";
    return c;
  }();
  App app{store->stores(), server_key, cfg, pub, [] { return ms("2026-01-15T00:00:00Z"); }, "test"};

  AppFixture() {
    seed(*store);
    REQUIRE(store->add_terminal(terminal("t1", "inst-xrd", term_key.public_pem()), 0));
  }
};
}  // namespace

TEST_CASE("App publishes the ack of a committed batch and counts it") {
  AppFixture f;
  f.app.on_mqtt_message("lg/v1/demo/t1/evt", sealed(batch("t1", {access(1, "r1", "04AA")}), f.term_key, "t1"));
  auto acks = f.pub.on("lg/v1/demo/t1/ack");
  REQUIRE(acks.size() == 1);
  CHECK_FALSE(acks[0].retained);
  CHECK(proto::decode_ack(proto::open(acks[0].payload)->body)->seq == 1);
  CHECK(f.store->stats()->acks == 1);

  // a rejected payload produces no ack and the app keeps going
  f.app.on_mqtt_message("lg/v1/demo/t1/evt", "{}");
  f.app.on_mqtt_message("lg/v1/demo/t1/evt", sealed(batch("t1", {access(2, "r2", "04AA")}), f.term_key, "t1"));
  acks = f.pub.on("lg/v1/demo/t1/ack");
  REQUIRE(acks.size() == 2);
  CHECK(proto::decode_ack(proto::open(acks[1].payload)->body)->seq == 2);
  CHECK(f.store->stats()->rejected.at("malformed") == 1);
}

TEST_CASE("App does not count an ack it could not publish") {
  AppFixture f;
  f.pub.fail = true;
  f.app.on_mqtt_message("lg/v1/demo/t1/evt", sealed(batch("t1", {access(1, "r1", "04AA")}), f.term_key, "t1"));
  CHECK(f.store->stats()->acks == 0);
  CHECK(f.store->stats()->records == 1);  // committed all the same; the resend is re-acked
}

TEST_CASE("App republishes the bundle to a terminal whose state shows an older acl_version") {
  AppFixture f;
  f.app.start();
  REQUIRE(f.pub.on("lg/v1/demo/t1/sync").size() == 1);
  proto::State s;
  s.terminal = "t1";
  s.online = true;
  s.boot = 1;
  s.acl_version = 0;
  s.resource = "inst-xrd";
  f.app.on_mqtt_message("lg/v1/demo/t1/state", *proto::seal(proto::encode(s), "t1", f.term_key));
  // ingest only marks it: the sync strand publishes, off the ingest path
  CHECK(f.pub.on("lg/v1/demo/t1/sync").size() == 1);
  CHECK(f.app.dirty().pending());
  CHECK(f.app.flush_dirty() == 1);
  auto syncs = f.pub.on("lg/v1/demo/t1/sync");
  REQUIRE(syncs.size() == 2);
  CHECK(syncs[1].retained);
  CHECK(syncs[1].payload == syncs[0].payload);  // same version, sent again
  s.acl_version = 1;
  f.app.on_mqtt_message("lg/v1/demo/t1/state", *proto::seal(proto::encode(s), "t1", f.term_key));
  CHECK_FALSE(f.app.dirty().pending());
  CHECK(f.app.flush_dirty() == 0);
  CHECK(f.pub.on("lg/v1/demo/t1/sync").size() == 2);
}

TEST_CASE("App builds a replaced device a bundle of its own when it reports the one of the device before it") {
  // Issue 9 (found by labgate-sim, terminal_replace): the bundle names cards by digests keyed with
  // the device's key; the new device applies the old device's bundle retained on the broker and
  // reports its version. Without a bundle of its own it finds no card, the admin's included.
  AppFixture f;
  f.app.start();
  auto first = f.pub.on("lg/v1/demo/t1/sync");
  REQUIRE(first.size() == 1);
  auto v1 = proto::decode_sync(proto::open(first[0].payload)->body);
  REQUIRE(v1);
  auto& terminals = f.store->stores().terminals;
  EnrolToken tok;
  tok.hash = "token-hash";
  tok.terminal = "t1";
  tok.resource = "inst-xrd";
  tok.expires_ms = ms("2026-01-16T00:00:00Z");
  REQUIRE(terminals.add_enrol_token(tok));
  const crypto::PrivateKey device2 = new_key();
  CertRecord cert;
  cert.serial = 7;
  cert.not_after_ms = ms("2027-01-16T00:00:00Z");
  REQUIRE(terminals.enrol("token-hash", device2.public_pem(), cert, ms("2026-01-15T00:00:00Z")));

  proto::State s;
  s.terminal = "t1";
  s.online = true;
  s.boot = 1;
  s.acl_version = v1->version;
  s.resource = "inst-xrd";
  auto link = proto::link_keys(device2, f.server_key.public_key(), "demo", "t1");
  REQUIRE(link);
  f.app.on_mqtt_message("lg/v1/demo/t1/state", proto::seal_mac(proto::encode(s), "t1", link->up));
  CHECK(f.app.dirty().pending());
  CHECK(f.app.flush_dirty() == 1);
  auto syncs = f.pub.on("lg/v1/demo/t1/sync");
  REQUIRE(syncs.size() == 2);
  auto v2 = proto::decode_sync(proto::open(syncs[1].payload)->body);
  REQUIRE(v2);
  CHECK(v2->version == v1->version + 1);
  // The admin's card (04CC, root) under each device's card key.
  auto old_link = proto::link_keys(f.term_key, f.server_key.public_key(), "demo", "t1");
  REQUIRE(old_link);
  const auto admin = *CardUid::parse("04CC");
  auto holds = [](const proto::SyncBundle& b, const std::string& digest) {
    for (const auto& g : b.grants)
      if (g.card == digest) return true;
    return false;
  };
  CHECK(holds(*v1, proto::card_digest(old_link->card, admin)));
  CHECK_FALSE(holds(*v1, proto::card_digest(link->card, admin)));
  CHECK(holds(*v2, proto::card_digest(link->card, admin)));
  // Current now: its next state asks for nothing.
  s.acl_version = v2->version;
  f.app.on_mqtt_message("lg/v1/demo/t1/state", proto::seal_mac(proto::encode(s), "t1", link->up));
  CHECK_FALSE(f.app.dirty().pending());
}
