// The agent test rig: an Agent over a real SQLite store in a temp dir, with in-memory relay,
// meter, clock, timers and publisher (tests/support/terminal_fakes.hpp), and helpers to sync a
// bundle and read the outbox. Shared by the agent, access, acl and uplink tests.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "agent.hpp"
#include "labgate/common/crypto.hpp"
#include "support/temp_dir.hpp"
#include "support/terminal_fakes.hpp"

namespace lg::terminal::test {

constexpr int64_t T0 = lg::test::FakeClock::kT0;
constexpr int64_t S = 1000;
constexpr int64_t H = 3600 * S;

inline lg::board::Board test_board() {
  lg::board::Board b;
  b.name = "test-board";
  b.arch = "x86_64";
  b.toolchain = "native";
  b.relay_coils = 4;
  b.outputs.push_back({"power", 0, lg::board::OutputKind::instrument_power, lg::board::FailMode::closed, 0});
  b.outputs.push_back({"door", 1, lg::board::OutputKind::door_lock, lg::board::FailMode::closed, 500});
  b.meter = lg::board::MeterMap{};
  return b;
}

inline lg::crypto::PrivateKey gen_key() {
  auto k = lg::crypto::PrivateKey::generate();
  REQUIRE(k.has_value());
  return std::move(*k);
}

struct Rig {
  lg::test::TempDir dir{"agent"};
  lg::test::FakeCoils coils;
  lg::test::FakeMeter meter;
  lg::test::FakeClock clock;
  lg::test::FakeScheduler sched;
  lg::test::FakePublisher pub;
  lg::crypto::PrivateKey server_key = gen_key();
  std::string terminal_pem;
  std::unique_ptr<Agent> agent;
  std::string output = "power";
  lg::board::FailMode fail_mode = lg::board::FailMode::closed;
  proto::Auth auth = proto::Auth::mac;
  /// When set, the agent's uplink tasks go to this worker instead of running inline.
  Worker* uplink_worker = nullptr;
  InlineWorker loop_worker;

  Rig() {
    meter.kwh = 1.0;
    auto k = lg::crypto::PrivateKey::load_or_create(dir.path() / "terminal.key");
    REQUIRE(k.has_value());
    terminal_pem = k->public_pem();
  }

  /// (Re)creates the agent over the same database, as a process restart does.
  void boot(bool connected = true) {
    agent.reset();
    auto store = Store::open(dir.file("terminal.db"));
    REQUIRE(store.has_value());
    auto k = lg::crypto::PrivateKey::load_or_create(dir.path() / "terminal.key");
    REQUIRE(k.has_value());
    AgentSettings s;
    s.id = "t1";
    s.site = "demo";
    s.resource = "inst-xrd";
    s.board = test_board();
    s.output = output;
    s.fail_mode = fail_mode;
    s.heartbeat_s = 30;
    s.resend_s = 5;
    s.auth = auth;
    agent = std::make_unique<Agent>(s, std::move(*store), std::move(*k), server_key.public_key(), coils, &meter,
                                    clock, sched);
    if (uplink_worker) agent->set_workers(loop_worker, *uplink_worker);
    auto st = agent->start();
    REQUIRE_MESSAGE(st.ok(), (st ? "" : st.error().message()));
    pub.up = connected;
    agent->set_publisher(&pub);
    agent->on_connection(connected);
  }

  std::string seal_server(const std::string& body, const lg::crypto::PrivateKey* key = nullptr,
                          std::string kid = "server") {
    auto w = proto::seal(body, kid, key ? *key : server_key);
    REQUIRE(w.has_value());
    return *w;
  }

  /// The terminal's link keys as the server derives them (server key + terminal public key).
  proto::LinkKeys link() const {
    auto terminal_key = lg::crypto::PublicKey::from_pem(terminal_pem);
    REQUIRE(terminal_key.has_value());
    auto keys = proto::link_keys(server_key, *terminal_key, "demo", "t1");
    REQUIRE(keys.has_value());
    return *keys;
  }

  /// A bundle as the server builds it before making it private (cards by uid, card_form uid);
  /// sync() sends it in wire form (digests under this terminal's card key).
  proto::SyncBundle bundle(uint64_t version, bool require_booking = false) {
    proto::SyncBundle b;
    b.card_form = proto::CardForm::uid;
    b.terminal = "t1";
    b.version = version;
    b.issued_ms = clock.wall;
    b.resource = "inst-xrd";
    b.policy.require_booking = require_booking;
    b.policy.offline_grace_s = 3600;
    b.policy.grace_after_end_s = 300;
    b.policy.early_start_s = 900;
    b.grants.push_back({"04A1B2C3", "u01", "internal", false, T0 - 24 * H, std::nullopt});
    b.grants.push_back({"0BBB", "u02", "internal", false, T0 - 24 * H, std::nullopt});
    b.grants.push_back({"0AD0", "boss", "internal", true, 0, std::nullopt});
    b.bookings.push_back({"bk1", "u01", T0 + 10 * 60 * S, T0 + H});
    return b;
  }

  /// The bundle as the server publishes it: every card its digest under the terminal's card key.
  proto::SyncBundle wire_form(const proto::SyncBundle& b) const { return to_digest_form(b, link().card); }

  /// Publishes b to the agent in wire form (signed by the server).
  void sync(const proto::SyncBundle& b) {
    agent->on_message({agent->sync_topic(), seal_server(proto::encode(wire_form(b))), true});
  }
  /// Publishes b as a server from before card digests does (cards by uid, no "card_digest").
  void sync_legacy(proto::SyncBundle b) {
    b.card_form = proto::CardForm::uid;
    agent->on_message({agent->sync_topic(), seal_server(proto::encode(b)), true});
  }

  std::vector<proto::Record> outbox() {
    auto p = agent->store().pending(0, 1000);
    REQUIRE(p.has_value());
    return *p;
  }

  template <typename T>
  std::vector<T> bodies() {
    std::vector<T> out;
    for (auto& r : outbox())
      if (auto* b = std::get_if<T>(&r.body)) out.push_back(*b);
    return out;
  }

  bool coil(uint16_t c) { return coils.state.count(c) && coils.state.at(c); }
};

}  // namespace lg::terminal::test
