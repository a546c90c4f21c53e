// Remote commands at the terminal (terminal/acl/commands.hpp, Agent::on_message): every refusal
// answered on cmdres with its reason and counted; replays refused across a restart; resync
// writes the next bundle again. And the privacy of the cached bundle: digests, never uids.
#include <doctest/doctest.h>

#include "terminal/agent_rig.hpp"

using namespace lg::terminal;
using namespace lg::terminal::test;
using lg::proto::Reason;
namespace proto = lg::proto;

namespace {

proto::Command command(const Rig& r, std::string id, proto::CommandKind kind = proto::CommandKind::resync,
                       std::string terminal = "t1") {
  proto::Command c;
  c.id = std::move(id);
  c.kind = kind;
  c.terminal = std::move(terminal);
  c.issued_ms = r.clock.wall;
  c.expires_ms = r.clock.wall + 5 * 60 * S;
  return c;
}

/// The cmdres messages the agent published, opened and MAC-checked with the link's up key.
std::vector<proto::CommandResult> answers(Rig& r) {
  std::vector<proto::CommandResult> out;
  const auto up = r.link().up;
  for (const auto& m : r.pub.on(r.agent->cmdres_topic())) {
    auto env = proto::open(m.payload);
    REQUIRE(env);
    CHECK(env->kid == "t1");
    CHECK(proto::verify_mac(*env, up));
    auto res = proto::decode_command_result(env->body);
    REQUIRE_MESSAGE(res, res.error().reason);
    out.push_back(*res);
  }
  return out;
}

void send(Rig& r, const std::string& payload) { r.agent->on_message({r.agent->cmd_topic(), payload, false}); }

}  // namespace

TEST_CASE("commands that are unsigned, wrongly signed, malformed, expired or for another terminal are refused") {
  Rig r;
  r.boot();
  const auto c = command(r, "c-unsigned");
  send(r, proto::encode(c));  // a bare body, no envelope
  send(r, proto::seal_mac(proto::encode(command(r, "c-mac")), "server", r.link().down));  // MACed: not a signature
  auto mallory = gen_key();
  send(r, r.seal_server(proto::encode(command(r, "c-forged")), &mallory));
  send(r, r.seal_server(proto::encode(command(r, "c-kid")), nullptr, "t2"));
  auto expired = command(r, "c-expired");
  expired.issued_ms = r.clock.wall - 10 * 60 * S;
  expired.expires_ms = r.clock.wall;  // expires now: refused from this instant on
  send(r, r.seal_server(proto::encode(expired)));
  send(r, r.seal_server(proto::encode(command(r, "c-other", proto::CommandKind::resync, "t2"))));
  send(r, r.seal_server(R"({"type":"cmd","id":"c-bad"})"));

  const auto got = answers(r);
  REQUIRE(got.size() == 7);
  std::vector<std::pair<std::string, std::string>> seen;
  for (const auto& a : got) {
    CHECK(a.outcome == proto::CommandOutcome::refused);
    CHECK(a.terminal == "t1");
    seen.emplace_back(a.id, a.reason);
  }
  CHECK(seen == std::vector<std::pair<std::string, std::string>>{{"", "unsigned"},
                                                                 {"c-mac", "unsigned"},
                                                                 {"c-forged", "bad_signature"},
                                                                 {"c-kid", "bad_signature"},
                                                                 {"c-expired", "expired"},
                                                                 {"c-other", "not_for_me"},
                                                                 {"", "malformed"}});
  CHECK(r.agent->commands_refused() == 7);
}

TEST_CASE("a command is executed once: its replay is refused, also after a restart, until it expires") {
  Rig r;
  r.boot();
  r.sync(r.bundle(3));
  const std::string wire = r.seal_server(proto::encode(command(r, "c-1")));
  send(r, wire);
  send(r, wire);  // replayed at once
  r.boot();       // the terminal restarts
  send(r, wire);  // replayed after the restart
  const auto got = answers(r);
  REQUIRE(got.size() == 3);
  CHECK(got[0].outcome == proto::CommandOutcome::done);
  CHECK(got[1].outcome == proto::CommandOutcome::refused);
  CHECK(got[1].reason == "replayed");
  CHECK(got[2].outcome == proto::CommandOutcome::refused);
  CHECK(got[2].reason == "replayed");
  CHECK(r.agent->commands_refused() == 1);  // counted by the agent that refused it (a new one after the restart)
  // Once expired, the same message is refused as expired (the id is forgotten then).
  r.clock.advance(6 * 60 * S);
  send(r, wire);
  CHECK(answers(r).back().reason == "expired");
}

TEST_CASE("resync writes the next bundle again even if its version is applied, other kinds answer unsupported") {
  Rig r;
  r.boot();
  r.sync(r.bundle(3));
  REQUIRE(r.agent->acl().version == 3);
  // Someone damaged the cache (a grant row removed): the same version would not be re-applied.
  REQUIRE(r.agent->store().database().exec("DELETE FROM acl_grants"));
  r.sync(r.bundle(3));
  CHECK(r.agent->store().load_acl()->grants.empty());

  send(r, r.seal_server(proto::encode(command(r, "c-resync"))));
  auto got = answers(r);
  REQUIRE(got.size() == 1);
  CHECK(got[0].outcome == proto::CommandOutcome::done);
  r.sync(r.bundle(3));  // the server republishes the bundle with the command
  CHECK(r.agent->store().load_acl()->grants.size() == 3);
  CHECK(r.agent->acl().version == 3);
  r.sync(r.bundle(3));  // and only that once
  CHECK(r.agent->on_card("04A1B2C3").reason == Reason::qualified);

  for (auto kind : {proto::CommandKind::unlock, proto::CommandKind::lock, proto::CommandKind::video}) {
    send(r, r.seal_server(proto::encode(command(r, std::string("c-") + proto::to_string(kind), kind))));
    CHECK(answers(r).back().outcome == proto::CommandOutcome::unsupported);
  }
  CHECK(r.agent->commands_refused() == 0);
}

TEST_CASE("the cached bundle names cards by digest only, a legacy bundle is converted before it is stored") {
  Rig r;
  r.boot();
  auto b = r.bundle(3);
  b.denials.push_back({"0CC1", "u03", Reason::card_revoked});
  r.sync(b);
  REQUIRE(r.agent->acl().version == 3);
  auto cards_in_db = [&] {
    std::vector<std::string> out;
    auto& db = r.agent->store().database();
    for (const char* sql : {"SELECT card FROM acl_grants", "SELECT card FROM acl_denials"}) {
      auto q = db.prepare(sql);
      REQUIRE(q);
      for (;;) {
        auto row = q->step();
        REQUIRE(row);
        if (!*row) break;
        out.push_back(q->column_text(0));
      }
    }
    return out;
  };
  auto cards = cards_in_db();
  REQUIRE(cards.size() == 4);
  for (const auto& c : cards) {
    CHECK(proto::valid_card_digest(c));
    for (const char* uid : {"04A1B2C3", "0BBB", "0AD0", "0CC1"}) CHECK(c.find(uid) == std::string::npos);
  }
  CHECK(r.agent->on_card("0CC1").reason == Reason::card_revoked);
  CHECK(r.agent->on_card("04a1b2c3").reason == Reason::qualified);
  CHECK(r.agent->on_card("04A1B2C3").reason == Reason::swipe_out);

  // A server from before digests (an upgrade in progress): its bundle is taken, converted first.
  auto legacy = r.bundle(4);
  legacy.grants.erase(legacy.grants.begin() + 1);  // 0BBB no longer granted
  r.sync_legacy(legacy);
  REQUIRE(r.agent->acl().version == 4);
  for (const auto& c : cards_in_db()) CHECK(proto::valid_card_digest(c));
  CHECK(r.agent->on_card("0BBB").reason == Reason::unknown_card);

  // Offline, after a restart, from the cache alone: decided exactly as before.
  r.boot(false);
  CHECK(r.agent->on_card("0BBB").reason == Reason::unknown_card);
  auto d = r.agent->on_card("0AD0");
  CHECK(d.reason == Reason::admin);
  CHECK(d.decision == lg::proto::Decision::granted);  // from the cache alone, offline
}

TEST_CASE("a bundle in a card form this terminal does not read is refused and the applied one kept") {
  Rig r;
  r.boot();
  r.sync(r.bundle(3));
  std::string body = proto::encode(r.wire_form(r.bundle(4)));
  body.replace(body.find("hmac-sha256-128"), 15, "hmac-sha3-256");
  const auto before = r.agent->rejected();
  r.agent->on_message({r.agent->sync_topic(), r.seal_server(body), true});
  CHECK(r.agent->rejected() == before + 1);
  CHECK(r.agent->acl().version == 3);
  CHECK(r.agent->on_card("04A1B2C3").reason == Reason::qualified);
}
