// Remote commands on the server (server/sync/commands.*): what send() publishes and refuses, and
// how a terminal's answer on cmdres is checked, kept, or refused and counted (docs/PROTOCOL.md
// "Remote commands").
#include <doctest/doctest.h>

#include "server/core/app.hpp"
#include "server/sync/commands.hpp"
#include "tests/server/test_support.hpp"

using namespace lg;
using namespace lg::server;
using namespace lg::server::test;

namespace {

struct Commands {
  TempDir dir;
  std::unique_ptr<TestStore> store = open_store(dir);
  crypto::PrivateKey server_key = new_key();
  crypto::PrivateKey term_key = new_key();
  RecordingPublisher pub;
  DirtySet dirty;
  CommandService svc{store->stores().terminals, server_key, "demo", pub, &dirty, &store->stores().usage};
  int64_t now = ms("2026-01-15T00:00:00Z");

  Commands() {
    seed(*store);
    REQUIRE(store->add_terminal(terminal("t1", "inst-xrd", term_key.public_pem()), 0));
  }

  /// A cmdres of t1 as its terminal sends it: MACed under the link's up key.
  std::string answer(const proto::CommandResult& r, const crypto::PrivateKey& key, const std::string& kid = "t1") {
    auto link = proto::link_keys(key, server_key.public_key(), "demo", kid);
    REQUIRE(link);
    return proto::seal_mac(proto::encode(r), kid, link->up);
  }
  int64_t rejected(const std::string& reason) {
    auto st = store->stats();
    REQUIRE(st);
    auto it = st->rejected.find(reason);
    return it == st->rejected.end() ? 0 : it->second;
  }
};

}  // namespace

TEST_CASE("a command goes out on the terminal's cmd topic, QoS 1, not retained, signed by the server key") {
  Commands f;
  std::vector<std::string> seen_before_publish;
  auto c = f.svc.send("t1", proto::CommandKind::resync, f.now, 60'000, {{"why", "cache damaged"}},
                      [&](const proto::Command& cmd) {
                        seen_before_publish.push_back(cmd.id);
                        CHECK(f.pub.sent.empty());  // before it is published
                        return Status{};
                      });
  REQUIRE(c);
  REQUIRE(seen_before_publish == std::vector<std::string>{c->id});
  auto sent = f.pub.on("lg/v1/demo/t1/cmd");
  REQUIRE(sent.size() == 1);
  CHECK(sent[0].qos == 1);
  CHECK_FALSE(sent[0].retained);
  auto env = proto::open(sent[0].payload);
  REQUIRE(env);
  CHECK(env->kid == proto::kServerKid);
  CHECK(env->alg == proto::Auth::signature);
  CHECK(proto::verify(*env, f.server_key.public_key()));
  auto decoded = proto::decode_command(env->body);
  REQUIRE(decoded);
  CHECK(*decoded == *c);
  CHECK(decoded->terminal == "t1");
  CHECK(decoded->expires_ms == f.now + 60'000);
  CHECK(decoded->args.at("why") == "cache damaged");
  // A resync asks the sync strand to publish the terminal's bundle again, after the command.
  auto marked = f.dirty.take();
  CHECK(marked.republish == std::set<std::string>{"t1"});
  // Other kinds do not.
  REQUIRE(f.svc.send("t1", proto::CommandKind::unlock, f.now));
  CHECK_FALSE(f.dirty.pending());
}

TEST_CASE("send refuses unknown and revoked terminals, bad lifetimes and args, and publishes nothing") {
  Commands f;
  auto unknown = f.svc.send("t-nobody", proto::CommandKind::resync, f.now);
  REQUIRE_FALSE(unknown);
  CHECK(is(unknown.error(), Errc::not_found));
  for (int64_t ttl : {int64_t{0}, int64_t{-1}, proto::kMaxCommandLifetimeMs + 1}) {
    auto r = f.svc.send("t1", proto::CommandKind::resync, f.now, ttl);
    REQUIRE_FALSE(r);
    CHECK(is(r.error(), Errc::not_allowed));
  }
  std::map<std::string, std::string> many;
  for (int i = 0; i <= static_cast<int>(proto::kMaxCommandArgs); ++i) many["k" + std::to_string(i)] = "v";
  auto too_many = f.svc.send("t1", proto::CommandKind::resync, f.now, 60'000, many);
  REQUIRE_FALSE(too_many);
  CHECK(is(too_many.error(), Errc::not_allowed));
  auto long_value = f.svc.send("t1", proto::CommandKind::resync, f.now, 60'000, {{"k", std::string(257, 'x')}});
  REQUIRE_FALSE(long_value);
  CHECK(long_value.error().reason.find("args.k") != std::string::npos);
  // The hook's error stops the send (an audit entry that could not be written).
  auto stopped = f.svc.send("t1", proto::CommandKind::resync, f.now, 60'000, {},
                            [](const proto::Command&) -> Status { return Error::invalid("audit down"); });
  CHECK_FALSE(stopped);
  REQUIRE(f.store->stores().terminals.revoke("t1", "stolen", f.now));
  auto revoked = f.svc.send("t1", proto::CommandKind::resync, f.now);
  REQUIRE_FALSE(revoked);
  CHECK(is(revoked.error(), Errc::conflict));
  CHECK(f.pub.sent.empty());
  CHECK_FALSE(f.dirty.pending());
}

TEST_CASE("a command the broker does not take is unavailable, and no resync is marked") {
  Commands f;
  f.pub.fail = true;
  auto r = f.svc.send("t1", proto::CommandKind::resync, f.now);
  REQUIRE_FALSE(r);
  CHECK(is(r.error(), Errc::unavailable));
  CHECK_FALSE(f.dirty.pending());
}

TEST_CASE("an authentic cmdres is kept as the terminal's last answer, with the kind of the command it answers") {
  Commands f;
  CHECK_FALSE(f.svc.last_result("t1"));
  auto c = f.svc.send("t1", proto::CommandKind::resync, f.now);
  REQUIRE(c);
  proto::CommandResult done{"t1", c->id, proto::CommandOutcome::done, "", f.now + 5};
  auto r = f.svc.on_result("lg/v1/demo/t1/cmdres", f.answer(done, f.term_key), f.now + 10);
  REQUIRE_MESSAGE(r, (r ? "" : r.error().message()));
  auto last = f.svc.last_result("t1");
  REQUIRE(last);
  CHECK(last->result == done);
  CHECK(last->received_ms == f.now + 10);
  REQUIRE(last->kind);
  CHECK(*last->kind == proto::CommandKind::resync);
  // An answer signed (es256) by the terminal's key is taken too; one to an id this server did not
  // send (a forged command the terminal refused) is kept without a kind.
  proto::CommandResult refused{"t1", "c-forged", proto::CommandOutcome::refused, "bad_signature", f.now + 20};
  auto signed_answer = proto::seal(proto::encode(refused), "t1", f.term_key);
  REQUIRE(signed_answer);
  REQUIRE(f.svc.on_result("lg/v1/demo/t1/cmdres", *signed_answer, f.now + 30));
  last = f.svc.last_result("t1");
  REQUIRE(last);
  CHECK(last->result == refused);
  CHECK_FALSE(last->kind);
  CHECK(f.store->stats()->rejected.empty());
}

TEST_CASE("a forged, foreign or revoked terminal's cmdres is refused, counted by reason and not kept") {
  Commands f;
  const proto::CommandResult done{"t1", "c-1", proto::CommandOutcome::done, "", f.now};
  auto expect_refused = [&](const std::string& topic, const std::string& payload, const std::string& reason) {
    const int64_t before = f.rejected(reason);
    auto r = f.svc.on_result(topic, payload, f.now);
    INFO(reason);
    REQUIRE_FALSE(r);
    CHECK(r.error().reason.rfind(reason + ":", 0) == 0);
    CHECK(f.rejected(reason) == before + 1);
    CHECK_FALSE(f.svc.last_result("t1"));
  };
  crypto::PrivateKey stranger = new_key();
  expect_refused("lg/v1/demo/t1/cmdres", f.answer(done, stranger), "bad_signature");  // another key's link
  expect_refused("lg/v1/demo/t1/cmdres", "not an envelope", "malformed");
  expect_refused("lg/v1/other/t1/cmdres", f.answer(done, f.term_key), "bad_topic");
  expect_refused("lg/v1/demo/t1/evt", f.answer(done, f.term_key), "bad_topic");
  expect_refused("lg/v1/demo/t1/cmdres", f.answer(done, f.term_key, "t2"), "kid_mismatch");
  proto::CommandResult ghost = done;
  ghost.terminal = "t-ghost";
  expect_refused("lg/v1/demo/t-ghost/cmdres", f.answer(ghost, f.term_key, "t-ghost"), "unknown_terminal");
  auto link = proto::link_keys(f.term_key, f.server_key.public_key(), "demo", "t1");
  REQUIRE(link);
  expect_refused("lg/v1/demo/t1/cmdres", proto::seal_mac(R"({"type":"cmdres"})", "t1", link->up), "bad_body");
  proto::CommandResult other = done;
  other.terminal = "t2";
  expect_refused("lg/v1/demo/t1/cmdres", proto::seal_mac(proto::encode(other), "t1", link->up), "terminal_mismatch");
  // A revoked terminal's answer is refused whatever it says, authentic or not.
  REQUIRE(f.store->stores().terminals.revoke("t1", "stolen", f.now));
  expect_refused("lg/v1/demo/t1/cmdres", f.answer(done, f.term_key), "revoked_terminal");
}

TEST_CASE("the App takes cmdres from MQTT to the command service, not to evt ingest") {
  Commands f;
  ServerConfig cfg;
  cfg.site = "demo";
  cfg.admin_token = "t";
  App app{f.store->stores(), f.server_key, cfg, f.pub, [&] { return f.now; }, "test"};
  auto c = app.commands().send("t1", proto::CommandKind::resync, f.now);
  REQUIRE(c);
  proto::CommandResult done{"t1", c->id, proto::CommandOutcome::done, "", f.now};
  app.on_mqtt_message("lg/v1/demo/t1/cmdres", f.answer(done, f.term_key));
  auto last = app.commands().last_result("t1");
  REQUIRE(last);
  CHECK(last->result.outcome == proto::CommandOutcome::done);
  CHECK(f.store->stats()->rejected.empty());  // not mistaken for an evt (bad_topic)
  // The resync's bundle is published by the sync strand (flush_dirty), after the command.
  CHECK(f.pub.on("lg/v1/demo/t1/sync").empty());
  CHECK(app.flush_dirty() == 1);
  REQUIRE(f.pub.on("lg/v1/demo/t1/sync").size() == 1);
  CHECK(f.pub.on("lg/v1/demo/t1/sync")[0].retained);
  app.on_mqtt_message("lg/v1/demo/t1/cmdres", "garbage");
  CHECK(f.rejected("malformed") == 1);
}
