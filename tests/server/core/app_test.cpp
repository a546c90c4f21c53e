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
