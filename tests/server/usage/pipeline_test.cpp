// Group commit and the ingest pipeline (server/usage/pipeline.hpp, Ingest::commit_group): many
// batches in one unit of work, each in its own savepoint, acks coalesced per terminal. Runs on
// both backends (open_store).
#include <doctest/doctest.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>

#include "tests/server/test_support.hpp"
#include "server/usage/ingest.hpp"
#include "server/usage/pipeline.hpp"

using namespace lg;
using namespace lg::server;
using namespace lg::server::test;
using lg::server::usage::Verdict;

namespace {

constexpr int64_t kStart = 1'767'225'600'000;  // 2026-01-01T00:00:00Z

struct Fixture {
  TempDir dir;
  std::unique_ptr<TestStore> store = open_store(dir, 4);
  crypto::PrivateKey server_key = new_key();
  std::map<std::string, crypto::PrivateKey> keys;
  Stores stores = store->stores();
  usage::Service service{usage::BatchStores{stores.uow, stores.usage, stores.terminals, stores.directory,
                                            stores.billing},
                         "CNY"};
  usage::Ingest ing{service, stores.usage, stores.terminals, server_key, "demo"};
  int64_t now = ms("2026-01-15T00:00:00Z");

  explicit Fixture(std::vector<std::string> terminals = {"t1", "t2"}) {
    seed(*store);
    for (const auto& t : terminals) {
      keys.emplace(t, new_key());
      auto st = store->add_terminal(terminal(t, "inst-xrd", keys.at(t).public_pem()), now);
      if (!st) throw std::runtime_error(st.error().message());
    }
  }

  std::string evt(const std::string& t) const { return "lg/v1/demo/" + t + "/evt"; }

  /// A verified batch of terminal t with access records at seqs [from, to].
  usage::Ingest::Screened screened(const std::string& t, uint64_t from, uint64_t to) {
    std::vector<proto::Record> recs;
    for (uint64_t s = from; s <= to; ++s) recs.push_back(access(s, t + "-r" + std::to_string(s), "04AA"));
    auto v = ing.screen_event(evt(t), sealed(batch(t, std::move(recs)), keys.at(t), t));
    REQUIRE(std::holds_alternative<usage::Ingest::Screened>(v));
    return std::get<usage::Ingest::Screened>(std::move(v));
  }

  uint64_t acked(const usage::EventResult& r) {
    REQUIRE(r.ack.has_value());
    auto env = proto::open(r.ack->payload);
    REQUIRE(env);
    CHECK(proto::verify(*env, server_key.public_key()));
    auto a = proto::decode_ack(env->body);
    REQUIRE(a);
    CHECK(a->terminal == r.terminal);
    return a->seq;
  }

  int64_t count(const std::string& sql) {
    auto v = store->scalar(sql);
    REQUIRE(v);
    return *v;
  }
};

}  // namespace

TEST_CASE("a group commits every batch in one unit of work and acks each terminal once, for its highest seq") {
  Fixture f;
  std::vector<usage::Ingest::Screened> group;
  group.push_back(f.screened("t1", 1, 3));
  group.push_back(f.screened("t2", 1, 2));
  group.push_back(f.screened("t1", 4, 5));
  auto results = f.ing.commit_group(group, f.now);
  REQUIRE(results.size() == 3);
  for (const auto& r : results) CHECK(r.verdict == Verdict::accepted);
  // t1's first batch carries no ack: its last batch in the group carries one for seq 5
  CHECK_FALSE(results[0].ack.has_value());
  CHECK(f.acked(results[2]) == 5);
  CHECK(f.acked(results[1]) == 2);
  CHECK(f.count("SELECT count(*) FROM records") == 7);
  CHECK(f.count("SELECT acked_seq FROM terminals WHERE id = 't1'") == 5);
  auto st = f.store->stats();
  REQUIRE(st);
  CHECK(st->batches == 3);
  CHECK(st->records == 7);
}

TEST_CASE("a batch arriving twice in one group is stored once and the duplicate counted") {
  Fixture f;
  std::vector<usage::Ingest::Screened> group;
  group.push_back(f.screened("t1", 1, 2));
  group.push_back(f.screened("t1", 1, 2));  // the terminal resent it before the first ack
  auto results = f.ing.commit_group(group, f.now);
  REQUIRE(results.size() == 2);
  CHECK(results[0].outcome->inserted == 2);
  CHECK(results[1].outcome->duplicates == 2);
  CHECK(f.acked(results[1]) == 2);
  CHECK(f.count("SELECT count(*) FROM records") == 2);
}

TEST_CASE("a batch that fails in a group leaves the other batches committed and acked") {
  Fixture f;
  // one session's charge cannot be written: only the batch holding its end fails
  if (f.store->sqlite()) {
    REQUIRE(f.store->exec("CREATE TRIGGER fail_s9 BEFORE INSERT ON charges WHEN NEW.session = 's9' "
                          "BEGIN SELECT RAISE(ABORT, 'disk on fire'); END;"));
  } else {
    REQUIRE(f.store->exec(
        "CREATE FUNCTION fail_s9() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.session = 's9' THEN "
        "RAISE EXCEPTION 'disk on fire'; END IF; RETURN NEW; END $$; "
        "CREATE TRIGGER fail_s9 BEFORE INSERT ON charges FOR EACH ROW EXECUTE FUNCTION fail_s9();"));
  }
  std::vector<usage::Ingest::Screened> group;
  group.push_back(f.screened("t1", 1, 2));
  {
    std::vector<proto::Record> recs{access(1, "t2-r1", "04AA"),
                                    session_end(2, "t2-r2", "s9", "04AA", "alice", kStart, 60'000)};
    auto v = f.ing.screen_event(f.evt("t2"), sealed(batch("t2", std::move(recs)), f.keys.at("t2"), "t2"));
    REQUIRE(std::holds_alternative<usage::Ingest::Screened>(v));
    group.push_back(std::get<usage::Ingest::Screened>(std::move(v)));
  }
  group.push_back(f.screened("t1", 3, 3));
  auto results = f.ing.commit_group(group, f.now);
  REQUIRE(results.size() == 3);
  CHECK(results[0].verdict == Verdict::accepted);
  CHECK(results[1].verdict == Verdict::failed);
  CHECK_FALSE(results[1].ack.has_value());
  CHECK(results[2].verdict == Verdict::accepted);
  CHECK(f.acked(results[2]) == 3);
  // nothing of t2's batch was written (its access record neither), all of t1's was
  CHECK(f.count("SELECT count(*) FROM records WHERE terminal = 't2'") == 0);
  CHECK(f.count("SELECT count(*) FROM access_events WHERE terminal = 't2'") == 0);
  CHECK(f.count("SELECT count(*) FROM usage_sessions") == 0);
  CHECK(f.count("SELECT count(*) FROM records WHERE terminal = 't1'") == 3);
  CHECK(f.count("SELECT acked_seq FROM terminals WHERE id = 't2'") == 0);
  auto st = f.store->stats();
  REQUIRE(st);
  CHECK(st->batches == 2);  // the failed batch's counters went with it
}

TEST_CASE("the pipeline verifies on a pool, commits in groups and publishes one ack per terminal and group") {
  int committers = 1;
  SUBCASE("one committer") { committers = 1; }
  SUBCASE("three committers, each terminal's batches on one of them") { committers = 3; }
  Fixture f({"t1", "t2", "t3", "t4", "t5"});
  const std::vector<std::string> terminals{"t1", "t2", "t3", "t4", "t5"};
  std::mutex m;
  std::condition_variable cv;
  std::map<std::string, uint64_t> highest_ack;  // terminal -> highest seq acked on the wire
  int acks_backwards = 0;                       // an ack lower than one already published
  int64_t done = 0;
  std::atomic<int64_t> acks_counted{0};
  usage::Pipeline::Hooks hooks;
  hooks.now = [&] { return f.now; };
  hooks.publish = [&](const usage::Outgoing& out) {
    auto env = proto::open(out.payload);
    auto a = env ? proto::decode_ack(env->body) : Result<proto::Ack>(Error::invalid("no envelope"));
    if (!a) return false;  // counted as not sent: the checks below then fail
    std::lock_guard lock(m);
    if (a->seq < highest_ack[a->terminal]) ++acks_backwards;
    highest_ack[a->terminal] = std::max(highest_ack[a->terminal], a->seq);
    return true;
  };
  hooks.acks_sent = [&](int64_t n) { acks_counted += n; };
  hooks.done = [&] {
    std::lock_guard lock(m);
    ++done;
    cv.notify_all();
  };
  usage::Pipeline p(f.ing, usage::Pipeline::Options{2, 8, committers}, hooks);
  p.start();
  // 5 terminals x 20 batches of 5 records, and one forged message that must be refused
  constexpr int kBatches = 20;
  for (int b = 0; b < kBatches; ++b) {
    for (const auto& t : terminals) {
      std::vector<proto::Record> recs;
      for (int i = 1; i <= 5; ++i) {
        const auto seq = static_cast<uint64_t>(b * 5 + i);
        recs.push_back(access(seq, t + "-r" + std::to_string(seq), "04AA"));
      }
      p.submit(f.evt(t), sealed(batch(t, std::move(recs)), f.keys.at(t), t));
    }
  }
  p.submit(f.evt("t1"), sealed(batch("t1", {access(999, "forged", "04AA")}), f.keys.at("t2"), "t1"));
  {
    std::unique_lock lock(m);
    cv.wait(lock, [&] { return done == 5 * kBatches + 1; });
  }
  p.stop();
  CHECK(f.count("SELECT count(*) FROM records") == 5 * kBatches * 5);
  CHECK(acks_backwards == 0);
  for (const auto& t : terminals) {
    CHECK(highest_ack[t] == kBatches * 5);
    CHECK(f.count("SELECT acked_seq FROM terminals WHERE id = '" + t + "'") == kBatches * 5);
  }
  CHECK(p.batches() == 5 * kBatches);
  CHECK(p.groups() >= 1);
  CHECK(p.groups() <= p.batches());
  CHECK(acks_counted.load() >= 5);
  auto st = f.store->stats();
  REQUIRE(st);
  CHECK(st->rejected["bad_signature"] == 1);
  CHECK(p.depth() == 0);
}
