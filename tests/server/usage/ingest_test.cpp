#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "tests/server/test_support.hpp"
#include "server/usage/ingest.hpp"

using namespace lg;
using namespace lg::server;
using namespace lg::server::test;
using lg::server::usage::Verdict;

namespace {

const std::string kTerm = "t-xrd-01";
const std::string kEvt = "lg/v1/demo/t-xrd-01/evt";
const std::string kState = "lg/v1/demo/t-xrd-01/state";

struct Fixture {
  TempDir dir;
  std::unique_ptr<TestStore> store = open_store(dir);
  crypto::PrivateKey server_key = new_key();
  crypto::PrivateKey term_key = new_key();
  Stores stores = store->stores();
  usage::Service service{usage::BatchStores{stores.uow, stores.usage, stores.terminals, stores.directory, stores.billing}, "CNY"};
  usage::Ingest ing{service, stores.usage, stores.terminals, server_key, "demo"};
  int64_t now = ms("2026-01-15T00:00:00Z");

  Fixture() {
    seed(*store);
    auto st = store->add_terminal(terminal(kTerm, "inst-xrd", term_key.public_pem()), now);
    if (!st) throw std::runtime_error(st.error().message());
  }

  usage::EventResult send(std::vector<proto::Record> recs) {
    return ing.on_event(kEvt, sealed(batch(kTerm, std::move(recs)), term_key, kTerm), now);
  }

  int64_t count(const char* sql) {
    auto v = store->scalar(sql);
    REQUIRE(v);
    return *v;
  }

  int64_t rejected(const std::string& reason) {
    auto s = store->stats();
    REQUIRE(s);
    auto it = s->rejected.find(reason);
    return it == s->rejected.end() ? 0 : it->second;
  }

  /// Opens and verifies an ack with the server key; returns its seq.
  uint64_t ack_seq(const usage::EventResult& r) {
    REQUIRE(r.ack.has_value());
    CHECK(r.ack->topic == "lg/v1/demo/t-xrd-01/ack");
    CHECK(r.ack->qos == 1);
    auto env = proto::open(r.ack->payload);
    REQUIRE(env);
    CHECK(env->kid == "server");
    CHECK(proto::verify(*env, server_key.public_key()));
    auto a = proto::decode_ack(env->body);
    REQUIRE(a);
    CHECK(a->terminal == kTerm);
    return a->seq;
  }
};

const int64_t kStart = 1'767'225'600'000;  // 2026-01-01T00:00:00Z
const int64_t k90min = 90 * 60 * 1000;

}  // namespace

TEST_CASE("a signed batch is committed with its effects and acked after commit") {
  Fixture f;
  auto r = f.send({access(1, "r1", "04aa", "alice"), session_start(2, "r2", "s1", "04AA", "alice", kStart),
                   session_end(3, "r3", "s1", "04AA", "alice", kStart, k90min)});
  REQUIRE(r.verdict == Verdict::accepted);
  CHECK(r.outcome->inserted == 3);
  CHECK(f.ack_seq(r) == 3);

  auto sessions = f.store->sessions({});
  REQUIRE(sessions);
  REQUIRE(sessions->size() == 1);
  const auto& s = sessions->front();
  CHECK(s.closed);
  CHECK(s.user == "alice");
  CHECK(s.duration_ms == k90min);
  REQUIRE(s.charge.has_value());
  CHECK(s.charge->amount_fen == 18000);  // 90 min at 12000 fen/h (internal)
  CHECK(s.charge->rate_fen_per_hour == 12000);

  auto ev = f.store->access_events({});
  REQUIRE(ev);
  REQUIRE(ev->size() == 1);
  CHECK(ev->front().card == "04AA");  // normalized
  CHECK(ev->front().decision == "granted");

  auto t = f.store->terminal(kTerm);
  CHECK((*t)->acked_seq == 3);
}

TEST_CASE("a MACed batch (hs256 under the link key) is committed and answered with a MACed ack") {
  Fixture f;
  auto link = proto::link_keys(f.term_key, f.server_key.public_key(), "demo", kTerm);  // as the terminal derives it
  REQUIRE(link);
  const std::string body = proto::encode(batch(kTerm, {access(1, "r1", "04aa", "alice"), access(2, "r2", "04aa")}));
  auto r = f.ing.on_event(kEvt, proto::seal_mac(body, kTerm, link->up), f.now);
  REQUIRE(r.verdict == Verdict::accepted);
  CHECK(r.outcome->inserted == 2);
  REQUIRE(r.ack.has_value());
  auto env = proto::open(r.ack->payload);
  REQUIRE(env);
  CHECK(env->alg == proto::Auth::mac);
  CHECK(proto::verify_mac(*env, link->down));
  CHECK(proto::decode_ack(env->body)->seq == 2);

  // A MAC under another key (the down key, a forger's link, an old key of this terminal) is
  // refused as bad_signature and writes nothing.
  const std::string next = proto::encode(batch(kTerm, {access(3, "r3", "04aa")}));
  auto forger = new_key();
  auto forged_link = proto::link_keys(forger, f.server_key.public_key(), "demo", kTerm);
  REQUIRE(forged_link);
  for (const std::string& key : {link->down, forged_link->up}) {
    auto bad = f.ing.on_event(kEvt, proto::seal_mac(next, kTerm, key), f.now);
    CHECK(bad.verdict == Verdict::rejected);
    CHECK(bad.reason == "bad_signature");
  }
  CHECK(f.rejected("bad_signature") == 2);
  CHECK(f.count("SELECT COUNT(*) FROM records") == 2);
  // Signed batches are still taken, and answered with a signed ack.
  auto signed_r = f.ing.on_event(kEvt, sealed(batch(kTerm, {access(3, "r3", "04aa")}), f.term_key, kTerm), f.now);
  REQUIRE(signed_r.verdict == Verdict::accepted);
  CHECK(f.ack_seq(signed_r) == 3);
}

TEST_CASE("duplicates by terminal+seq are skipped re-acked and never charged twice") {
  Fixture f;
  std::vector<proto::Record> recs{session_start(1, "r1", "s1", "04BB", "bob", kStart),
                                  session_end(2, "r2", "s1", "04BB", "bob", kStart, 3'600'000)};
  REQUIRE(f.send(recs).verdict == Verdict::accepted);
  auto again = f.send(recs);
  REQUIRE(again.verdict == Verdict::accepted);
  CHECK(again.outcome->inserted == 0);
  CHECK(again.outcome->duplicates == 2);
  CHECK(f.ack_seq(again) == 2);  // re-ack: the terminal may have missed the first one

  CHECK(f.count("SELECT count(*) FROM records") == 2);
  CHECK(f.count("SELECT count(*) FROM charges") == 1);
  auto charges = f.store->charges(0, INT64_MAX);
  REQUIRE(charges->size() == 1);
  CHECK(charges->front().amount_fen == 30000);  // external rate, 1 h
  auto stats = f.store->stats();
  CHECK(stats->batches == 2);
  CHECK(stats->records == 2);
  CHECK(stats->duplicates == 2);
}

TEST_CASE("a second end record for a closed session is stored but not charged again") {
  Fixture f;
  REQUIRE(f.send({session_end(1, "r1", "s1", "04AA", "alice", kStart, 3'600'000)}).verdict == Verdict::accepted);
  auto r = f.send({session_end(2, "r2", "s1", "04AA", "alice", kStart, 7'200'000)});
  REQUIRE(r.verdict == Verdict::accepted);
  CHECK(f.ack_seq(r) == 2);
  CHECK(f.count("SELECT count(*) FROM charges") == 1);
  CHECK(f.count("SELECT amount_fen FROM charges") == 12000);
  CHECK(f.rejected("session_already_closed") == 1);
}

TEST_CASE("the ack stays at the highest contiguous seq across a gap") {
  Fixture f;
  auto r1 = f.send({access(1, "r1", "04AA"), access(2, "r2", "04AA")});
  CHECK(f.ack_seq(r1) == 2);
  auto r2 = f.send({access(4, "r4", "04AA"), access(5, "r5", "04AA")});
  REQUIRE(r2.verdict == Verdict::accepted);
  CHECK(r2.outcome->inserted == 2);  // stored despite the gap
  CHECK(f.ack_seq(r2) == 2);
  auto r3 = f.send({access(3, "r3", "04AA")});
  CHECK(f.ack_seq(r3) == 5);  // gap filled: everything up to 5 is committed
}

TEST_CASE("a batch starting after a gap gets no ack until seq 1 arrives") {
  Fixture f;
  auto r = f.send({access(2, "r2", "04AA")});
  REQUIRE(r.verdict == Verdict::accepted);
  CHECK_FALSE(r.ack.has_value());
  CHECK(f.count("SELECT count(*) FROM records") == 1);
}

TEST_CASE("the same seq with a different record id is rejected and raises an alarm") {
  Fixture f;
  REQUIRE(f.send({access(1, "r1", "04AA")}).verdict == Verdict::accepted);
  auto r = f.send({access(1, "other-id", "04AA")});
  REQUIRE(r.verdict == Verdict::accepted);
  CHECK(r.outcome->rejected == 1);
  CHECK(r.outcome->alarms.size() == 1);
  CHECK(f.rejected("seq_conflict") == 1);
  CHECK(f.count("SELECT count(*) FROM server_alarms") == 1);
  CHECK(f.count("SELECT count(*) FROM records WHERE id = 'other-id'") == 0);
}

TEST_CASE("access events resolve the user from the card when the terminal did not know it") {
  Fixture f;
  REQUIRE(f.send({access(1, "r1", "04bb", "", proto::Decision::denied)}).verdict == Verdict::accepted);
  auto ev = f.store->access_events({});
  REQUIRE(ev->size() == 1);
  CHECK(ev->front().user == "bob");
  CHECK(ev->front().user_resolved);
  CHECK(ev->front().decision == "denied");
}

TEST_CASE("a session of an unknown user or without a fee standard is kept with amount 0 and a flag") {
  Fixture f;
  auto r = f.send({session_end(1, "r1", "s1", "FFFF", "", kStart, 3'600'000)});
  REQUIRE(r.verdict == Verdict::accepted);
  auto door_key = new_key();
  REQUIRE(f.store->add_terminal(terminal("t-door-1", "door-1", door_key.public_pem()), f.now));
  auto d = f.ing.on_event("lg/v1/demo/t-door-1/evt",
                          sealed(batch("t-door-1", {session_end(1, "r2", "s2", "04AA", "alice", kStart, 3'600'000,
                                                                "door-1")}),
                                 door_key, "t-door-1"),
                          f.now);
  REQUIRE(d.verdict == Verdict::accepted);
  auto charges = f.store->charges(0, INT64_MAX);
  REQUIRE(charges->size() == 2);
  for (const auto& c : *charges) {
    CHECK(c.amount_fen == 0);
    if (c.session == "s1") CHECK(c.flags == std::vector<std::string>{"unknown_user"});
    if (c.session == "s2") CHECK(c.flags == std::vector<std::string>{"no_fee_standard"});
  }
  CHECK(f.count("SELECT count(*) FROM usage_sessions") == 2);
}

TEST_CASE("forged mis-addressed unknown malformed oversized and wrong-version payloads are rejected and counted") {
  Fixture f;
  const auto b = batch(kTerm, {access(1, "r1", "04AA")});

  SUBCASE("bad signature (another key claiming the terminal's kid)") {
    auto forger = new_key();
    auto r = f.ing.on_event(kEvt, sealed(b, forger, kTerm), f.now);
    CHECK(r.verdict == Verdict::rejected);
    CHECK(r.reason == "bad_signature");
    CHECK(f.rejected("bad_signature") == 1);
  }
  SUBCASE("kid differs from the topic's terminal") {
    auto r = f.ing.on_event("lg/v1/demo/t-other/evt", sealed(b, f.term_key, kTerm), f.now);
    CHECK(r.reason == "kid_mismatch");
    CHECK(f.rejected("kid_mismatch") == 1);
  }
  SUBCASE("terminal not enrolled") {
    auto other = batch("t-ghost", {access(1, "r1", "04AA")});
    auto r = f.ing.on_event("lg/v1/demo/t-ghost/evt", sealed(other, f.term_key, "t-ghost"), f.now);
    CHECK(r.reason == "unknown_terminal");
  }
  SUBCASE("batch names another terminal") {
    auto other = batch("t-other", {access(1, "r1", "04AA")});
    auto r = f.ing.on_event(kEvt, sealed(other, f.term_key, kTerm), f.now);
    CHECK(r.reason == "terminal_mismatch");
  }
  SUBCASE("malformed JSON") {
    auto r = f.ing.on_event(kEvt, "{\"v\":1,\"kid\":", f.now);
    CHECK(r.reason == "malformed");
    CHECK(f.rejected("malformed") == 1);
  }
  SUBCASE("valid envelope around a body that is not a batch") {
    auto wire = proto::seal("{\"hello\":1}", kTerm, f.term_key);
    auto r = f.ing.on_event(kEvt, *wire, f.now);
    CHECK(r.reason == "bad_body");
  }
  SUBCASE("oversize") {
    auto r = f.ing.on_event(kEvt, std::string(proto::kMaxPayload + 1, ' '), f.now);
    CHECK(r.reason == "oversize");
  }
  SUBCASE("wrong protocol version") {
    auto j = nlohmann::json::parse(sealed(b, f.term_key, kTerm));
    j["v"] = 2;
    auto r = f.ing.on_event(kEvt, j.dump(), f.now);
    CHECK(r.reason == "bad_version");
    CHECK(f.rejected("bad_version") == 1);
  }
  SUBCASE("topic of another site") {
    auto r = f.ing.on_event("lg/v1/elsewhere/t-xrd-01/evt", sealed(b, f.term_key, kTerm), f.now);
    CHECK(r.reason == "bad_topic");
  }
  // whatever the reason: nothing stored, no ack
  CHECK(f.count("SELECT count(*) FROM records") == 0);
  CHECK(f.count("SELECT count(*) FROM access_events") == 0);
  auto stats = f.store->stats();
  CHECK(stats->batches == 0);
  int64_t total = 0;
  for (const auto& [reason, n] : stats->rejected) total += n;
  CHECK(total == 1);
}

TEST_CASE("a storage failure commits nothing and sends no ack - the resend then succeeds") {
  Fixture f;
  if (f.store->sqlite()) {
    REQUIRE(f.store->exec(
        "CREATE TRIGGER fail_charges BEFORE INSERT ON charges BEGIN SELECT RAISE(ABORT, 'disk on fire'); END;"));
  } else {
    REQUIRE(f.store->exec(
        "CREATE FUNCTION disk_on_fire() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'disk on fire'; "
        "END $$; CREATE TRIGGER fail_charges BEFORE INSERT ON charges FOR EACH ROW EXECUTE FUNCTION disk_on_fire();"));
  }
  std::vector<proto::Record> recs{access(1, "r1", "04AA"), session_end(2, "r2", "s1", "04AA", "alice", kStart, 60'000)};
  auto r = f.send(recs);
  CHECK(r.verdict == Verdict::failed);
  CHECK_FALSE(r.ack.has_value());
  CHECK(f.count("SELECT count(*) FROM records") == 0);
  CHECK(f.count("SELECT count(*) FROM access_events") == 0);
  CHECK(f.count("SELECT count(*) FROM usage_sessions") == 0);
  CHECK(f.count("SELECT acked_seq FROM terminals") == 0);

  REQUIRE(f.store->exec(f.store->sqlite() ? "DROP TRIGGER fail_charges;" : "DROP TRIGGER fail_charges ON charges;"));
  auto again = f.send(recs);
  REQUIRE(again.verdict == Verdict::accepted);
  CHECK(f.ack_seq(again) == 2);
  CHECK(f.count("SELECT count(*) FROM charges") == 1);
}

namespace {
std::string sealed_state(const proto::State& s, const crypto::PrivateKey& k) {
  return *proto::seal(proto::encode(s), s.terminal, k);
}
proto::State state(bool online, uint64_t boot, uint64_t acl) {
  proto::State s;
  s.terminal = kTerm;
  s.online = online;
  s.boot = boot;
  s.firmware = "1.2.3";
  s.board = "sim-x86";
  s.resource = "inst-xrd";
  s.acl_version = acl;
  s.outbox_depth = 4;
  s.clock_synced = true;
  s.ts_ms = 1;
  return s;
}
}  // namespace

TEST_CASE("state messages update the terminal - a late Last Will of an older boot is ignored") {
  Fixture f;
  auto birth = f.ing.on_state(kState, sealed_state(state(true, 5, 0), f.term_key), f.now);
  REQUIRE(birth.verdict == Verdict::accepted);
  CHECK(birth.applied);
  auto t = *f.store->terminal(kTerm);
  CHECK(t->online);
  CHECK(t->boot == 5);
  CHECK(t->firmware == "1.2.3");
  CHECK(t->outbox_depth == 4);
  CHECK(t->last_seen_ms == f.now);

  auto old_will = f.ing.on_state(kState, sealed_state(state(false, 4, 0), f.term_key), f.now);
  CHECK(old_will.verdict == Verdict::accepted);
  CHECK_FALSE(old_will.applied);
  CHECK((*f.store->terminal(kTerm))->online);

  auto will = f.ing.on_state(kState, sealed_state(state(false, 5, 0), f.term_key), f.now);
  CHECK(will.applied);
  CHECK_FALSE((*f.store->terminal(kTerm))->online);

  auto forged = f.ing.on_state(kState, sealed_state(state(true, 9, 0), new_key()), f.now);
  CHECK(forged.verdict == Verdict::rejected);
  CHECK(forged.reason == "bad_signature");
  CHECK((*f.store->terminal(kTerm))->boot == 5);
}

TEST_CASE("a state with an acl_version below the current bundle asks for a resync") {
  Fixture f;
  REQUIRE(f.store->save_sync(kTerm, sync::StoredSync{3, "h", "payload"}));
  auto behind = f.ing.on_state(kState, sealed_state(state(true, 1, 2), f.term_key), f.now);
  CHECK(behind.needs_resync);
  auto current = f.ing.on_state(kState, sealed_state(state(true, 1, 3), f.term_key), f.now);
  CHECK_FALSE(current.needs_resync);
}

TEST_CASE("a replaced device reporting the bundle of the device before it asks for a resync") {
  // Issue 9 (found by labgate-sim, terminal_replace): the new device applies the bundle retained on
  // the broker, whose card digests are keyed for the old device, and reports its version as its
  // own. Only a bundle built for it lets it look cards up.
  Fixture f;
  REQUIRE(f.store->save_sync(kTerm, sync::StoredSync{3, "h", "payload"}));
  auto& terminals = f.stores.terminals;
  EnrolToken tok;
  tok.hash = "token-hash";
  tok.terminal = kTerm;
  tok.resource = "inst-xrd";
  tok.created_ms = f.now;
  tok.expires_ms = f.now + 3'600'000;
  REQUIRE(terminals.add_enrol_token(tok));
  const crypto::PrivateKey device2 = new_key();
  CertRecord cert;
  cert.serial = 7;
  cert.issued_ms = f.now;
  cert.not_after_ms = f.now + 86'400'000;
  auto e = terminals.enrol("token-hash", device2.public_pem(), cert, f.now);
  REQUIRE(e);
  REQUIRE(e->replaced);

  auto birth = f.ing.on_state(kState, sealed_state(state(true, 1, 3), device2), f.now);
  REQUIRE(birth.verdict == Verdict::accepted);
  CHECK(birth.applied);
  CHECK(birth.needs_resync);
  // The old device's key authenticates nothing for the id any more: its late Will is refused.
  auto old_will = f.ing.on_state(kState, sealed_state(state(false, 9, 3), f.term_key), f.now);
  CHECK(old_will.verdict == Verdict::rejected);
  CHECK(old_will.reason == "bad_signature");
  CHECK((*f.store->terminal(kTerm))->online);
  // A bundle built for it (v4): current, nothing more to do.
  REQUIRE(f.store->save_sync(kTerm, sync::StoredSync{4, "h4", "payload 4"}));
  auto own = f.ing.on_state(kState, sealed_state(state(true, 1, 4), device2), f.now);
  CHECK_FALSE(own.needs_resync);
  // Offline states never ask for one.
  tok.hash = "token-hash-3";
  REQUIRE(terminals.add_enrol_token(tok));
  const crypto::PrivateKey device3 = new_key();
  cert.serial = 8;
  REQUIRE(terminals.enrol("token-hash-3", device3.public_pem(), cert, f.now));
  CHECK_FALSE(f.ing.on_state(kState, sealed_state(state(false, 1, 4), device3), f.now).needs_resync);
}

TEST_CASE("a record naming another resource than its terminal's is kept as evidence, not billed, and counted") {
  Fixture f;
  auto r = f.send({access(1, "r1", "04AA", "alice"), session_start(2, "r2", "s1", "04AA", "alice", kStart, "door-1"),
                   session_end(3, "r3", "s1", "04AA", "alice", kStart, k90min, "door-1"),
                   session_end(4, "r4", "s2", "04AA", "alice", kStart, k90min)});
  REQUIRE(r.verdict == Verdict::accepted);
  CHECK(r.outcome->inserted == 4);
  CHECK(r.outcome->refused == 2);
  CHECK(f.ack_seq(r) == 4);  // the terminal may prune: the server holds the evidence
  CHECK(f.rejected("resource_mismatch") == 2);
  CHECK(f.count("SELECT count(*) FROM records WHERE refused = 'resource_mismatch'") == 2);
  CHECK(f.count("SELECT count(*) FROM usage_sessions WHERE id = 's1'") == 0);
  CHECK(f.count("SELECT count(*) FROM charges") == 1);  // only s2, on the terminal's own instrument
  CHECK(f.count("SELECT count(*) FROM server_alarms WHERE code = 'resource_mismatch'") == 2);
  REQUIRE(r.outcome->alarms.size() == 2);
  CHECK(r.outcome->alarms[0].find("names resource door-1, terminal is enrolled for inst-xrd") != std::string::npos);
}

TEST_CASE("a session end whose duration does not fit its start and end is refused") {
  Fixture f;
  const int64_t k366d = 366LL * 24 * 3600 * 1000;
  SUBCASE("366 days between equal start and end (the billed 316,224,000 fen)") {
    auto e = session_end(1, "r1", "s1", "04AA", "alice", kStart, 0);
    std::get<proto::SessionEnd>(e.body).duration_ms = k366d;
    auto r = f.send({e});
    REQUIRE(r.verdict == Verdict::accepted);
    CHECK(r.outcome->refused == 1);
    CHECK(f.ack_seq(r) == 1);
    CHECK(f.rejected("bad_duration") == 1);
    CHECK(f.count("SELECT count(*) FROM charges") == 0);
  }
  SUBCASE("an hour billed for ten minutes on the wall clock (both ends synced)") {
    auto s = session_start(1, "r0", "s1", "04AA", "alice", kStart);
    auto e = session_end(2, "r1", "s1", "04AA", "alice", kStart, 600'000);
    std::get<proto::SessionEnd>(e.body).duration_ms = 3'600'000;
    CHECK(f.send({s, e}).outcome->refused == 1);
    CHECK(f.count("SELECT count(*) FROM charges") == 0);
  }
  SUBCASE("end before start with synced clocks") {
    auto s = session_start(1, "r0", "s1", "04AA", "alice", kStart);
    auto e = session_end(2, "r1", "s1", "04AA", "alice", kStart, 0);
    std::get<proto::SessionEnd>(e.body).end_ms = kStart - 60'000;
    CHECK(f.send({s, e}).outcome->refused == 1);
  }
  SUBCASE("the same end without its start record (not arrived yet) is not judged by its span") {
    // seed 808 of the simulation: whether the start arrived first must not decide a refusal of a
    // session whose start clock the server cannot know
    auto e = session_end(1, "r1", "s1", "04AA", "alice", kStart, 600'000);
    std::get<proto::SessionEnd>(e.body).duration_ms = 3'600'000;
    CHECK(f.send({e}).outcome->refused == 0);
    CHECK(f.count("SELECT count(*) FROM charges") == 1);
  }
  SUBCASE("unsynced clocks: the span is not evidence, but the 31-day ceiling holds") {
    auto ok = session_end(1, "r1", "s1", "04AA", "alice", kStart, 0);
    std::get<proto::SessionEnd>(ok.body).duration_ms = 3'600'000;
    std::get<proto::SessionEnd>(ok.body).flags = {"clock_unsynced"};
    auto r = f.send({ok});
    CHECK(r.outcome->refused == 0);
    CHECK(f.count("SELECT amount_fen FROM charges") == 12000);
    auto too_long = session_end(2, "r2", "s2", "04AA", "alice", kStart, 0);
    too_long.clock_synced = false;
    std::get<proto::SessionEnd>(too_long.body).duration_ms = 32LL * 24 * 3600 * 1000;
    CHECK(f.send({too_long}).outcome->refused == 1);
    CHECK(f.count("SELECT count(*) FROM charges") == 1);
  }
  SUBCASE("a start record taken before the clock synced makes the span untrusted") {
    auto start = session_start(1, "r1", "s1", "04AA", "alice", 0);  // 1970: the clock had not synced
    start.clock_synced = false;
    auto end = session_end(2, "r2", "s1", "04AA", "alice", 0, 0);
    std::get<proto::SessionEnd>(end.body).end_ms = kStart;           // synced by the end
    std::get<proto::SessionEnd>(end.body).duration_ms = 3'600'000;  // the monotonic truth
    auto r = f.send({start, end});
    CHECK(r.outcome->refused == 0);
    CHECK(f.count("SELECT amount_fen FROM charges") == 12000);
  }
  SUBCASE("a clock step within the tolerance is billed by the monotonic duration") {
    auto e = session_end(1, "r1", "s1", "04AA", "alice", kStart, 3'600'000);
    std::get<proto::SessionEnd>(e.body).duration_ms = 3'600'000 - 90'000;
    CHECK(f.send({e}).outcome->refused == 0);
    CHECK(f.count("SELECT duration_ms FROM charges") == 3'510'000);
  }
}

TEST_CASE("records naming the bundle's pseudonyms are attributed to the directory users they stand for") {
  Fixture f;
  const std::string pk = *proto::pseudonym_key(f.server_key, "demo", kTerm);
  const std::string alice = proto::user_pseudonym(pk, "alice");
  const std::string never_issued = proto::user_pseudonym(pk, "bob");
  REQUIRE(f.stores.usage.keep_pseudonyms(kTerm, {{alice, "alice"}}));
  REQUIRE(f.stores.usage.keep_pseudonyms("t-other", {{never_issued, "bob"}}));  // another terminal's
  auto r = f.send({access(1, "r1", "04aa", alice), session_start(2, "r2", "s1", "04AA", alice, kStart),
                   session_end(3, "r3", "s1", "04AA", alice, kStart, k90min),
                   access(4, "r4", "04bb", never_issued)});
  REQUIRE(r.verdict == Verdict::accepted);
  CHECK(f.ack_seq(r) == 4);
  auto sessions = f.store->sessions({});
  REQUIRE(sessions);
  REQUIRE(sessions->size() == 1);
  CHECK(sessions->front().user == "alice");
  REQUIRE(sessions->front().charge.has_value());
  CHECK(sessions->front().charge->amount_fen == 18000);  // charged to alice at her rate, as before
  auto ev = f.store->access_events({});
  REQUIRE(ev);
  REQUIRE(ev->size() == 2);
  for (const auto& e : *ev) {
    if (e.card == "04AA") CHECK(e.user == "alice");
    else CHECK(e.user == never_issued);  // not issued to this terminal: kept as sent
  }
}
