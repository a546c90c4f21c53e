// The usage store through its service and queries, on either backend (open_store): the ingest of
// a group of batches, decided in memory and written at once, against the same records stored one
// at a time; billing's set-based charge and fee calls; paged queries and report sums.
#include <doctest/doctest.h>

#include <map>
#include <set>

#include "tests/server/test_support.hpp"

using namespace lg;
using namespace lg::server;
using namespace lg::server::test;

namespace {

constexpr int64_t kMin = 60'000;

struct QueryFixture {
  TempDir dir;
  std::unique_ptr<TestStore> store = open_store(dir);
  crypto::PrivateKey key = new_key();
  int64_t now = ms("2026-03-01T00:00:00Z");
  QueryFixture() {
    seed(*store);
    REQUIRE(store->add_terminal(terminal("t1", "inst-xrd", key.public_pem()), now));
    REQUIRE(store->add_terminal(terminal("t2", "inst-xrd", key.public_pem()), now));
  }
  /// Commits n closed sessions on t1 from seq first_seq; three at a time share start and end.
  void sessions(int n, int64_t start, uint64_t first_seq) {
    std::vector<proto::Record> recs;
    for (int i = 0; i < n; ++i) {
      const uint64_t seq = first_seq + static_cast<uint64_t>(i);
      const std::string sid = "s" + std::to_string(seq);
      const bool alice = i % 2 == 0;
      recs.push_back(session_end(seq, "r" + std::to_string(seq), sid, alice ? "04AA" : "04BB",
                                 alice ? "alice" : "bob", start + (i / 3) * kMin, 20 * kMin + (i / 3) * 1000));
    }
    REQUIRE(store->commit_batch(batch("t1", recs), now, "CNY"));
  }
};

/// Every row of a paged query, following next keys; fails the test if a page repeats a row.
template <typename T, typename Read>
std::vector<T> read_all(Read read, int64_t limit, int* pages = nullptr) {
  std::vector<T> out;
  Page p{{}, limit};
  int n = 0;
  for (;;) {
    auto page = read(p);
    REQUIRE(page);
    CHECK(static_cast<int64_t>(page->size()) <= limit);
    for (const auto& row : *page) out.push_back(row);
    ++n;
    REQUIRE(n < 1000);
    if (!page->more()) break;
    CHECK(static_cast<int64_t>(page->size()) == limit);
    p.after = page->next;
  }
  if (pages) *pages = n;
  return out;
}

}  // namespace

TEST_CASE("charges are read a page at a time by (end_ms, id), each exactly once, only from the range") {
  QueryFixture f;
  const int64_t jan = ms("2026-01-10T00:00:00Z");
  f.sessions(20, jan, 1);
  f.sessions(4, ms("2026-02-10T00:00:00Z"), 21);  // outside the range read below
  const int64_t from = ms("2026-01-01T00:00:00Z");
  const int64_t to = ms("2026-02-01T00:00:00Z");
  int pages = 0;
  auto rows = read_all<Charge>([&](const Page& p) { return f.store->charges(from, to, p); }, 3, &pages);
  CHECK(pages == 7);  // 6 x 3 + 2
  REQUIRE(rows.size() == 20);
  std::set<std::string> ids;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    ids.insert(rows[i].id);
    CHECK(rows[i].end_ms >= from);
    CHECK(rows[i].end_ms < to);
    if (i > 0) {
      const bool ordered = rows[i - 1].end_ms < rows[i].end_ms ||
                           (rows[i - 1].end_ms == rows[i].end_ms && rows[i - 1].id < rows[i].id);
      CHECK(ordered);
    }
  }
  CHECK(ids.size() == 20);
  // a page exactly as long as what is left says nothing follows
  auto all = f.store->charges(from, to, Page{{}, 20});
  REQUIRE(all);
  CHECK(all->size() == 20);
  CHECK_FALSE(all->more());
  auto one_short = f.store->charges(from, to, Page{{}, 19});
  CHECK(one_short->more());
  CHECK(one_short->next == PageKey{one_short->back().end_ms, one_short->back().id});
  // a position before the range reads from its start, one after it reads nothing
  auto before = f.store->charges(from, to, Page{{from - 1, std::string("zzz")}, 100});
  REQUIRE(before);
  CHECK(before->size() == 20);
  auto after = f.store->charges(from, to, Page{{to, std::string("")}, 100});
  REQUIRE(after);
  CHECK(after->empty());
  // the range still bounds the rows after a position inside it
  auto feb = f.store->charges(from, to + 31LL * 24 * 3'600'000, Page{{rows[18].end_ms, rows[18].id}, 100});
  REQUIRE(feb);
  CHECK(feb->size() == 1 + 4);
  auto jan_only = f.store->charges(from, to, Page{{rows[18].end_ms, rows[18].id}, 100});
  REQUIRE(jan_only);
  REQUIRE(jan_only->size() == 1);
  CHECK(jan_only->front().id == rows[19].id);
}

TEST_CASE("sessions and access events page newest first with ties broken by the rest of the key") {
  QueryFixture f;
  f.sessions(11, ms("2026-01-10T00:00:00Z"), 1);
  auto sessions = read_all<UsageSession>(
      [&](const Page& p) { return f.store->sessions(SessionFilter{"", "", p}); }, 2);
  REQUIRE(sessions.size() == 11);
  std::set<std::string> ids;
  for (std::size_t i = 0; i < sessions.size(); ++i) {
    ids.insert(sessions[i].id);
    if (i > 0) {
      const auto& a = sessions[i - 1];
      const auto& b = sessions[i];
      CHECK((a.start_ms > b.start_ms || (a.start_ms == b.start_ms && a.id > b.id)));
    }
  }
  CHECK(ids.size() == 11);
  auto alice = read_all<UsageSession>(
      [&](const Page& p) { return f.store->sessions(SessionFilter{"", "alice", p}); }, 4);
  CHECK(alice.size() == 6);

  std::vector<proto::Record> a1;
  std::vector<proto::Record> a2;
  for (uint64_t i = 0; i < 5; ++i) {
    a1.push_back(access(50 + i, "x1-" + std::to_string(i), "04AA", "alice"));  // all at the same instant
    a2.push_back(access(50 + i, "x2-" + std::to_string(i), "04BB", "bob"));
  }
  REQUIRE(f.store->commit_batch(batch("t1", a1), f.now, "CNY"));
  REQUIRE(f.store->commit_batch(batch("t2", a2), f.now, "CNY"));
  auto events = read_all<AccessEvent>(
      [&](const Page& p) { return f.store->access_events(AccessFilter{"", "", p}); }, 3);
  REQUIRE(events.size() == 10);
  std::vector<std::pair<std::string, uint64_t>> order;
  for (const auto& e : events) order.emplace_back(e.terminal, e.seq);
  CHECK(order == std::vector<std::pair<std::string, uint64_t>>{
                     {"t2", 54}, {"t2", 53}, {"t2", 52}, {"t2", 51}, {"t2", 50},
                     {"t1", 54}, {"t1", 53}, {"t1", 52}, {"t1", 51}, {"t1", 50}});
}

TEST_CASE("a page position that does not fit the list, or a limit below 1, is refused") {
  QueryFixture f;
  auto wrong_kinds = f.store->charges(0, f.now, Page{{std::string("x"), int64_t{1}}, 10});
  REQUIRE_FALSE(wrong_kinds);
  CHECK(is(wrong_kinds.error(), Errc::bad_position));
  auto too_short = f.store->sessions(SessionFilter{"", "", Page{{int64_t{1}}, 10}});
  REQUIRE_FALSE(too_short);
  CHECK(is(too_short.error(), Errc::bad_position));
  auto too_long = f.store->units(Page{{std::string("a"), std::string("b")}, 10});
  CHECK(is(too_long.error(), Errc::bad_position));
  CHECK_FALSE(f.store->users(Page{{}, 0}));
  // a position past the end is simply an empty last page
  auto past = f.store->users(Page{{std::string("zzz")}, 10});
  REQUIRE(past);
  CHECK(past->empty());
  CHECK_FALSE(past->more());
}

TEST_CASE("directory lists page by their keys") {
  QueryFixture f;
  auto users = read_all<User>([&](const Page& p) { return f.store->users(p); }, 3);
  REQUIRE(users.size() == 4);
  CHECK(users[0].id == "alice");
  CHECK(users[3].id == "root");
  CHECK(read_all<Card>([&](const Page& p) { return f.store->cards(p); }, 1).size() == 3);
  CHECK(read_all<Instrument>([&](const Page& p) { return f.store->instruments(p); }, 1).size() == 2);
  CHECK(read_all<Terminal>([&](const Page& p) { return f.store->terminals(p); }, 1).size() == 2);
  REQUIRE(f.store->put_qualification(Qualification{"alice", "inst-xrd", 0, std::nullopt}, 0));
  REQUIRE(f.store->put_qualification(Qualification{"bob", "inst-xrd", 0, std::nullopt}, 0));
  REQUIRE(f.store->put_qualification(Qualification{"alice", "door-1", 0, std::nullopt}, 0));
  auto quals = read_all<Qualification>([&](const Page& p) { return f.store->qualifications(p); }, 2);
  REQUIRE(quals.size() == 3);
  CHECK(quals[0].instrument == "door-1");
  CHECK(quals[2].user == "bob");
}

TEST_CASE("usage sums per instrument, per user and in total equal the charges of the range") {
  QueryFixture f;
  f.sessions(9, ms("2026-01-10T00:00:00Z"), 1);
  // an unknown card's session (no user) on the door (no fee standard): amount 0
  REQUIRE(f.store->add_terminal(terminal("t-door", "door-1", f.key.public_pem()), f.now));
  REQUIRE(f.store->commit_batch(
      batch("t-door", {session_end(1, "rd", "sd", "FFFF", "", ms("2026-01-12T00:00:00Z"), 5 * kMin, "door-1")}),
      f.now, "CNY"));
  const int64_t from = ms("2026-01-01T00:00:00Z");
  const int64_t to = ms("2026-02-01T00:00:00Z");
  auto charges = read_all<Charge>([&](const Page& p) { return f.store->charges(from, to, p); }, 100);
  REQUIRE(charges.size() == 10);
  std::map<std::string, report::GroupSum> by_user;
  report::GroupSum all;
  for (const auto& c : charges) {
    auto& g = by_user[c.user];
    g.sessions += 1;
    g.duration_ms += c.duration_ms;
    g.amount_fen += c.amount_fen;
    all.sessions += 1;
    all.duration_ms += c.duration_ms;
    all.amount_fen += c.amount_fen;
  }
  auto users = f.store->usage_groups(report::GroupBy::user, from, to);
  REQUIRE(users);
  REQUIRE(users->size() == 3);
  CHECK((*users)[0].key.empty());
  CHECK((*users)[0].name.empty());
  CHECK((*users)[1].key == "alice");
  CHECK((*users)[1].name == "Alice");
  for (const auto& g : *users) {
    CHECK(g.sessions == by_user[g.key].sessions);
    CHECK(g.duration_ms == by_user[g.key].duration_ms);
    CHECK(g.amount_fen == by_user[g.key].amount_fen);
  }
  auto instruments = f.store->usage_groups(report::GroupBy::instrument, from, to);
  REQUIRE(instruments);
  REQUIRE(instruments->size() == 2);
  CHECK((*instruments)[0].key == "door-1");
  CHECK((*instruments)[0].name == "Door 1");
  CHECK((*instruments)[0].amount_fen == 0);
  CHECK((*instruments)[1].sessions == 9);
  CHECK((*instruments)[1].amount_fen == all.amount_fen);

  auto total = f.store->usage_total(from, to);
  REQUIRE(total);
  CHECK(total->sessions == all.sessions);
  CHECK(total->duration_ms == all.duration_ms);
  CHECK(total->amount_fen == all.amount_fen);
  auto none = f.store->usage_total(to, to + 1000);
  REQUIRE(none);
  CHECK(none->sessions == 0);
  CHECK(none->amount_fen == 0);
  CHECK(f.store->usage_groups(report::GroupBy::user, to, to + 1000)->empty());
  CHECK_FALSE(f.store->usage_groups(report::GroupBy::month, from, to));
}

// ---------------------------------------------------------------------------------------------
// Ingest of a group of batches (usage::Service::commit_group) loads the facts of all its records
// at once, decides them in memory and writes the effects at once: what the earlier records of
// the same batch or group did must count exactly as if each record had been stored on its own.
// Each case commits its batches as one group in one store and every record as a batch of its own,
// one after the other, in a second store, and compares what the two say and hold.

namespace {

constexpr int64_t kT0 = 1'767'225'600'000;  // 2026-01-01T00:00:00Z
constexpr int64_t kHour = 3'600'000;

/// A store with the directory seeded (test_support.hpp seed) and t1, t2 enrolled for inst-xrd.
struct IngestStore {
  TempDir dir;
  std::unique_ptr<TestStore> store = open_store(dir);
  crypto::PrivateKey key = new_key();
  int64_t now = ms("2026-03-01T00:00:00Z");

  IngestStore() {
    seed(*store);
    for (const char* t : {"t1", "t2"}) REQUIRE(store->add_terminal(terminal(t, "inst-xrd", key.public_pem()), now));
  }

  std::vector<Result<IngestOutcome>> group(const std::vector<proto::EventBatch>& batches) {
    const Stores s = store->stores();
    usage::Service svc(usage::BatchStores{s.uow, s.usage, s.terminals, s.directory, s.billing}, "CNY");
    std::vector<const proto::EventBatch*> ptrs;
    for (const auto& b : batches) ptrs.push_back(&b);
    return svc.commit_group(ptrs, now);
  }

  int64_t count(const std::string& sql) {
    auto v = store->scalar(sql);
    REQUIRE(v);
    return *v;
  }

  /// The seq of the record a session's start_record or end_record column names, -1 for none.
  int64_t seq_of(const std::string& session, const char* column) {
    return count("SELECT r.seq FROM usage_sessions s JOIN records r ON r.id = s." + std::string(column) +
                 " WHERE s.id = '" + session + "'");
  }

  /// Everything ingest wrote, as text (a charge's id left out: it is new on every commit).
  std::vector<std::string> state() {
    std::vector<std::string> out;
    auto sessions = store->sessions(SessionFilter{"", "", Page{{}, 10000}});
    REQUIRE(sessions);
    for (const auto& s : *sessions) {
      std::string line = "session " + s.id + " " + s.terminal + " " + s.resource + " user=" + s.user +
                         " card=" + s.card + " " + std::to_string(s.start_ms) + " " +
                         std::to_string(s.end_ms.value_or(-1)) + " " + std::to_string(s.duration_ms.value_or(-1)) +
                         " " + s.end_reason + " closed=" + std::to_string(s.closed) +
                         " start_seq=" + std::to_string(seq_of(s.id, "start_record")) +
                         " end_seq=" + std::to_string(seq_of(s.id, "end_record"));
      if (s.charge) {
        const Charge& c = *s.charge;
        line += " charge " + c.session + " " + c.instrument + " " + c.user + " " + c.category + " " +
                std::to_string(c.rate_fen_per_hour) + " " + std::to_string(c.duration_ms) + " " +
                std::to_string(c.amount_fen) + " " + c.currency + " " + std::to_string(c.end_ms);
        for (const auto& f : c.flags) line += " " + f;
      }
      out.push_back(line);
    }
    auto events = store->access_events(AccessFilter{"", "", Page{{}, 10000}});
    REQUIRE(events);
    for (const auto& e : *events) {
      out.push_back("access " + e.record_id + " " + e.terminal + " " + std::to_string(e.seq) + " " + e.card + " user=" +
                    e.user + " resolved=" + std::to_string(e.user_resolved) + " " + e.resource + " " + e.decision);
    }
    auto charges = store->charges(0, INT64_MAX, Page{{}, 10000});
    REQUIRE(charges);
    out.push_back("charges " + std::to_string(charges->size()));
    auto st = store->stats();
    REQUIRE(st);
    out.push_back("records " + std::to_string(st->records) + " duplicates " + std::to_string(st->duplicates));
    for (const auto& [reason, n] : st->rejected) out.push_back("rejected " + reason + " " + std::to_string(n));
    for (const char* t : {"t1", "t2"}) {
      auto term = store->terminal(t);
      REQUIRE(term);
      REQUIRE(term->has_value());
      out.push_back(std::string("acked ") + t + " " + std::to_string((*term)->acked_seq));
    }
    for (const char* t : {"t1", "t2"}) {
      const std::string where = std::string(" FROM records WHERE terminal = '") + t + "'";
      out.push_back(std::string("stored ") + t + " " + std::to_string(count("SELECT count(*)" + where)) + " sum " +
                    std::to_string(count("SELECT COALESCE(sum(seq), 0)" + where)) + " refused " +
                    std::to_string(count("SELECT count(*)" + where + " AND refused <> ''")));
    }
    for (const char* code :
         {"seq_conflict", "record_id_conflict", "session_already_closed", "resource_mismatch", "bad_duration"}) {
      out.push_back(
          std::string("alarms ") + code + " " +
          std::to_string(count(std::string("SELECT count(*) FROM server_alarms WHERE code = '") + code + "'")));
    }
    return out;
  }
};

/// What one batch said, with its charges counted (their ids are new on every commit).
struct Said {
  int64_t inserted = 0, duplicates = 0, rejected = 0, refused = 0;
  std::size_t charges = 0;
  std::vector<std::string> alarms;
  uint64_t acked = 0;
};

/// Commits `before` one batch at a time into both stores, then `batches` as one group into
/// `grouped` and record by record into a second store; checks that every batch of the group said
/// what its records said one by one (its ack: the one after its last record) and that both stores
/// hold the same. Returns the group's outcomes.
std::vector<IngestOutcome> commit_compared(IngestStore& grouped, const std::vector<proto::EventBatch>& batches,
                                           const std::vector<proto::EventBatch>& before = {}) {
  IngestStore single;
  for (const auto& b : before) {
    REQUIRE(grouped.store->commit_batch(b, grouped.now, "CNY"));
    REQUIRE(single.store->commit_batch(b, single.now, "CNY"));
  }
  auto results = grouped.group(batches);
  REQUIRE(results.size() == batches.size());
  std::vector<IngestOutcome> out;
  for (std::size_t i = 0; i < batches.size(); ++i) {
    Said one_by_one;
    for (const auto& r : batches[i].records) {
      auto one = single.store->commit_batch(batch(batches[i].terminal, {r}), single.now, "CNY");
      REQUIRE(one);
      one_by_one.inserted += one->inserted;
      one_by_one.duplicates += one->duplicates;
      one_by_one.rejected += one->rejected;
      one_by_one.refused += one->refused;
      one_by_one.charges += one->charges.size();
      one_by_one.alarms.insert(one_by_one.alarms.end(), one->alarms.begin(), one->alarms.end());
      one_by_one.acked = one->acked_seq;
    }
    REQUIRE(results[i]);
    const IngestOutcome& g = *results[i];
    INFO("batch ", i, " of terminal ", batches[i].terminal);
    CHECK(g.inserted == one_by_one.inserted);
    CHECK(g.duplicates == one_by_one.duplicates);
    CHECK(g.rejected == one_by_one.rejected);
    CHECK(g.refused == one_by_one.refused);
    CHECK(g.charges.size() == one_by_one.charges);
    CHECK(g.alarms == one_by_one.alarms);
    if (!batches[i].records.empty()) CHECK(g.acked_seq == one_by_one.acked);
    out.push_back(g);
  }
  CHECK(grouped.state() == single.state());
  return out;
}

}  // namespace

TEST_CASE("a session started and ended in one batch is stored once, closed by its end, and charged once") {
  IngestStore f;
  // The end names a start one second later than the start record's time: the stored session
  // keeps its start's, as when the start was stored first.
  auto out = commit_compared(f, {batch("t1", {session_start(1, "r1", "s1", "04AA", "alice", kT0),
                                              session_end(2, "r2", "s1", "04AA", "alice", kT0 + 1000, kHour)})});
  CHECK(out[0].inserted == 2);
  CHECK(out[0].charges.size() == 1);
  auto sessions = f.store->sessions({});
  REQUIRE(sessions->size() == 1);
  const auto& s = sessions->front();
  CHECK(s.closed);
  CHECK(s.start_ms == kT0);
  CHECK(s.duration_ms == kHour);
  CHECK(f.seq_of("s1", "start_record") == 1);
  CHECK(f.seq_of("s1", "end_record") == 2);
  REQUIRE(s.charge);
  CHECK(s.charge->id == out[0].charges.front());
  CHECK(f.count("SELECT count(*) FROM usage_sessions") == 1);
}

TEST_CASE("a session's user comes from its start in the same batch, the start's from the card") {
  IngestStore f;
  // Neither record names a user: the start takes the card's owner (bob), the end its session's
  // user, not the owner of the card the end names.
  auto out = commit_compared(f, {batch("t1", {session_start(1, "r1", "s1", "04BB", "", kT0),
                                              session_end(2, "r2", "s1", "04AA", "", kT0, kHour)})});
  auto sessions = f.store->sessions({});
  REQUIRE(sessions->size() == 1);
  CHECK(sessions->front().user == "bob");
  REQUIRE(sessions->front().charge);
  CHECK(sessions->front().charge->user == "bob");
  CHECK(sessions->front().charge->category == "external_academic");
}

TEST_CASE("an end before its start in one batch stores the session closed by the end, the start changes nothing") {
  IngestStore f;
  auto out = commit_compared(f, {batch("t1", {session_end(1, "r1", "s1", "04AA", "alice", kT0, kHour),
                                              session_start(2, "r2", "s1", "04AA", "alice", kT0)})});
  CHECK(out[0].inserted == 2);
  CHECK(out[0].charges.size() == 1);
  CHECK(f.seq_of("s1", "start_record") == -1);
  CHECK(f.seq_of("s1", "end_record") == 1);
}

TEST_CASE("the same record twice in one batch is stored once and counted as a duplicate") {
  IngestStore f;
  const auto end = session_end(2, "r2", "s1", "04AA", "alice", kT0, kHour);
  auto out =
      commit_compared(f, {batch("t1", {access(1, "r1", "04AA", "alice"), end, access(1, "r1", "04AA", "alice"), end})});
  CHECK(out[0].inserted == 2);
  CHECK(out[0].duplicates == 2);
  CHECK(out[0].charges.size() == 1);
  CHECK(out[0].acked_seq == 2);
  CHECK(f.count("SELECT count(*) FROM records") == 2);
  CHECK(f.count("SELECT count(*) FROM access_events") == 1);
  CHECK(f.count("SELECT count(*) FROM charges") == 1);
}

TEST_CASE("the same seq with another record id in one batch is rejected with an alarm") {
  IngestStore f;
  auto out = commit_compared(f, {batch("t1", {access(1, "r1", "04AA"), access(1, "r1-other", "04AA")})});
  CHECK(out[0].inserted == 1);
  CHECK(out[0].rejected == 1);
  CHECK(out[0].alarms.size() == 1);
  CHECK(f.count("SELECT count(*) FROM records WHERE id = 'r1-other'") == 0);
  CHECK(f.count("SELECT count(*) FROM server_alarms WHERE code = 'seq_conflict'") == 1);
  CHECK(f.store->stats()->rejected["seq_conflict"] == 1);
}

TEST_CASE("a record id used again at another seq in one batch or group is rejected, and the ack stops before it") {
  IngestStore f;
  auto out =
      commit_compared(f, {batch("t1", {access(1, "rX", "04AA"), access(2, "rX", "04AA"), access(3, "r3", "04AA")}),
                          batch("t2", {access(1, "r3", "04BB")})});
  CHECK(out[0].inserted == 2);
  CHECK(out[0].rejected == 1);
  CHECK(out[0].acked_seq == 1);  // seq 2 was not stored
  CHECK(out[1].inserted == 0);
  CHECK(out[1].rejected == 1);  // r3 is t1's
  CHECK(out[1].acked_seq == 0);
  CHECK(f.store->stats()->rejected["record_id_conflict"] == 2);
}

TEST_CASE("a second end of one session in one batch is rejected and never charged twice") {
  IngestStore f;
  SUBCASE("without its start") {
    auto out = commit_compared(f, {batch("t1", {session_end(1, "r1", "s1", "04AA", "alice", kT0, kHour),
                                                session_end(2, "r2", "s1", "04AA", "alice", kT0, 2 * kHour)})});
    CHECK(out[0].inserted == 2);
    CHECK(out[0].rejected == 1);
    CHECK(out[0].charges.size() == 1);
  }
  SUBCASE("after its start, in the next batch of the same group") {
    auto out = commit_compared(f, {batch("t1", {session_start(1, "r1", "s1", "04AA", "alice", kT0),
                                                session_end(2, "r2", "s1", "04AA", "alice", kT0, kHour)}),
                                   batch("t1", {session_end(3, "r3", "s1", "04AA", "alice", kT0, 2 * kHour)})});
    CHECK(out[0].charges.size() == 1);
    CHECK(out[1].rejected == 1);
    CHECK(out[1].charges.empty());
  }
  SUBCASE("of a session stored open by an earlier group") {
    auto out = commit_compared(f,
                               {batch("t1", {session_end(2, "r2", "s1", "04AA", "alice", kT0, kHour),
                                             session_end(3, "r3", "s1", "04AA", "alice", kT0, 2 * kHour)})},
                               {batch("t1", {session_start(1, "r1", "s1", "04AA", "alice", kT0)})});
    CHECK(out[0].rejected == 1);
    CHECK(out[0].charges.size() == 1);
    CHECK(f.seq_of("s1", "start_record") == 1);
    CHECK(f.seq_of("s1", "end_record") == 2);
  }
  CHECK(f.count("SELECT count(*) FROM charges") == 1);
  CHECK(f.count("SELECT amount_fen FROM charges") == 12000);  // the first end's hour, internal rate
  CHECK(f.store->stats()->rejected["session_already_closed"] == 1);
}

TEST_CASE("a batch twice in one group is stored once: the second is all duplicates, acked the same") {
  IngestStore f;
  const auto b = batch("t1", {access(1, "r1", "04AA"), session_start(2, "r2", "s1", "04AA", "alice", kT0),
                              session_end(3, "r3", "s1", "04AA", "alice", kT0, kHour)});
  auto out = commit_compared(f, {b, b});
  CHECK(out[0].inserted == 3);
  CHECK(out[1].inserted == 0);
  CHECK(out[1].duplicates == 3);
  CHECK(out[1].charges.empty());
  CHECK(out[1].acked_seq == out[0].acked_seq);
  CHECK(f.count("SELECT count(*) FROM charges") == 1);
  CHECK(f.store->stats()->batches == 2);
}

TEST_CASE("a gap filled inside one group moves each batch's ack as far as what is stored after it") {
  IngestStore f;
  auto out = commit_compared(f,
                             {batch("t1", {access(1, "r1", "04AA")}), batch("t1", {access(2, "r2", "04AA")}),
                              batch("t1", {access(6, "r6", "04AA")}), batch("t1", {access(5, "r5", "04AA")})},
                             {batch("t1", {access(3, "r3", "04AA"), access(4, "r4", "04AA")})});
  CHECK(out[0].acked_seq == 1);
  CHECK(out[1].acked_seq == 4);
  CHECK(out[2].acked_seq == 4);
  CHECK(out[3].acked_seq == 6);
}

TEST_CASE("a long run of stored seqs above a filled gap is walked to its end") {
  IngestStore f;
  std::vector<proto::Record> above;
  for (uint64_t s = 2; s <= 2600; ++s) above.push_back(access(s, "r" + std::to_string(s), "04AA"));
  auto out = commit_compared(f, {batch("t1", {access(1, "r1", "04AA")})}, {batch("t1", above)});
  CHECK(out[0].acked_seq == 2600);
}

TEST_CASE("a batch of a terminal that is not enrolled fails alone in its group") {
  IngestStore f;
  std::vector<proto::EventBatch> batches{batch("t1", {access(1, "r1", "04AA")}),
                                         batch("t-ghost", {access(1, "g1", "04AA")}),
                                         batch("t1", {access(2, "r2", "04AA")})};
  auto results = f.group(batches);
  REQUIRE(results.size() == 3);
  REQUIRE(results[0]);
  REQUIRE_FALSE(results[1]);
  CHECK(is(results[1].error(), Errc::not_found));
  REQUIRE(results[2]);
  CHECK(results[2]->acked_seq == 2);
  CHECK(f.count("SELECT count(*) FROM records") == 2);
  CHECK(f.count("SELECT count(*) FROM records WHERE id = 'g1'") == 0);
  CHECK(f.store->stats()->batches == 2);
}

TEST_CASE("a mixed group of two terminals says and stores what its records say and store one at a time") {
  IngestStore f;
  auto unsynced_start = session_start(4, "a4", "s-un", "04AA", "alice", 0);
  unsynced_start.clock_synced = false;
  auto long_end = session_end(5, "a5", "s-un", "04AA", "alice", 0, 0);
  std::get<proto::SessionEnd>(long_end.body).end_ms = kT0;
  std::get<proto::SessionEnd>(long_end.body).duration_ms = kHour;  // untrusted span: billed by duration
  auto bad = session_end(7, "b7", "s-bad", "04BB", "bob", kT0, 600'000);
  std::get<proto::SessionEnd>(bad.body).duration_ms = kHour;  // an hour in ten minutes, clocks synced
  std::vector<proto::EventBatch> batches{
      batch("t1", {access(1, "a1", "04aa"), access(2, "a2", "04CC", "", proto::Decision::denied),
                   access(3, "a3", "FFFF", "", proto::Decision::denied)}),
      batch("t2", {session_start(1, "b1", "s-bad", "04BB", "bob", kT0), access(2, "b2", "04BB", "bob"),
                   access(3, "b3-again", "04BB"), bad}),
      batch("t1", {unsynced_start, long_end, session_start(6, "a6", "s-door", "04AA", "alice", kT0, "door-1"),
                   session_end(7, "a7", "s-door", "04AA", "alice", kT0, kHour)}),
      batch("t2", {access(2, "b2", "04BB", "bob"), access(4, "b4", "04BB"), access(5, "a1", "04BB"),
                   session_end(6, "b6", "s-t1", "04CC", "", kT0, 2 * kHour)}),
      batch("t1", {session_start(8, "a8", "s-t1", "04CC", "", kT0), access(9, "a9", "04CC"),
                   session_end(10, "a10", "s-t1", "04CC", "root", kT0, kHour), access(1, "a1", "04aa")}),
  };
  auto out = commit_compared(f, batches, {batch("t2", {access(3, "b3-first", "04BB")})});
  CHECK(out[1].refused == 1);   // s-bad: the start's synced clock makes its span evidence
  CHECK(out[1].rejected == 1);  // seq 3 of t2 was stored before the group
  CHECK(out[2].refused == 1);   // s-door names another resource
  CHECK(out[2].charges.size() == 2);
  CHECK(out[3].duplicates == 1);
  CHECK(out[3].rejected == 1);  // a1 is t1's
  CHECK(out[4].rejected == 1);  // s-t1 was closed by t2's end: a session id is global
  CHECK(out[4].duplicates == 1);
}

TEST_CASE("billing stores a set of charges at once, never two for one session, and reads fees of a set") {
  IngestStore f;
  // sessions to charge (a charge references its session)
  REQUIRE(f.store->commit_batch(batch("t1", {session_start(1, "r1", "c1", "04AA", "alice", kT0),
                                             session_start(2, "r2", "c2", "04AA", "alice", kT0)}),
                                f.now, "CNY"));
  auto charge = [](std::string id, std::string session, int64_t amount) {
    Charge c;
    c.id = std::move(id);
    c.session = std::move(session);
    c.instrument = "inst-xrd";
    c.user = "alice";
    c.category = "internal";
    c.rate_fen_per_hour = 12000;
    c.duration_ms = kHour;
    c.amount_fen = amount;
    c.currency = "CNY";
    c.flags = {"a", "b"};
    c.end_ms = kT0 + kHour;
    return c;
  };
  billing::Store& billing = f.store->stores().billing;
  std::vector<Charge> first{charge("k1", "c1", 12000), charge("k2", "c1", 99)};
  auto stored = billing.insert_charges(first, f.now);
  REQUIRE(stored);
  CHECK(*stored == std::vector<std::string>{"k1"});
  std::vector<Charge> second{charge("k3", "c1", 5), charge("k4", "c2", 7)};
  stored = billing.insert_charges(second, f.now);
  REQUIRE(stored);
  CHECK(*stored == std::vector<std::string>{"k4"});
  CHECK(billing.insert_charges({}, f.now)->empty());
  auto all = f.store->charges(0, INT64_MAX);
  REQUIRE(all);
  REQUIRE(all->size() == 2);
  for (const auto& c : *all) {
    CHECK(c.flags == std::vector<std::string>{"a", "b"});
    CHECK(c.amount_fen == (c.session == "c1" ? 12000 : 7));
  }

  const std::vector<std::string> asked{"inst-xrd", "door-1", "nowhere", "inst-xrd"};
  auto fees = billing.fees(asked);
  REQUIRE(fees);
  CHECK(fees->size() == 3);
  REQUIRE(fees->at("inst-xrd"));
  CHECK(fees->at("inst-xrd")->internal_fen_per_hour == 12000);
  CHECK_FALSE(fees->at("door-1"));
  CHECK_FALSE(fees->at("nowhere"));
  CHECK(billing.fees({})->empty());
}

TEST_CASE("text with quotes, backslashes, commas, braces or the word NULL is stored as it came") {
  IngestStore f;
  const std::string odd = R"(a "quoted", {braced} \back\slash\ NULL)";
  auto a = access(1, "r1", "04AA", "alice");
  std::get<proto::Access>(a.body).booking = odd;
  auto st = session_start(2, "r2", "s1", "04AA", "alice", kT0);
  std::get<proto::SessionStart>(st.body).booking = "NULL";
  REQUIRE(f.store->commit_batch(batch("t1", {a, st}), f.now, "CNY"));
  auto events = f.store->access_events({});
  REQUIRE(events->size() == 1);
  CHECK(events->front().booking == odd);
  auto sessions = f.store->sessions({});
  REQUIRE(sessions->size() == 1);
  CHECK(sessions->front().booking == "NULL");
  // the record's body is the record as the wire encodes it, byte for byte
  std::string quoted;
  for (char c : proto::encode(a)) quoted += c == '\'' ? std::string("''") : std::string(1, c);
  CHECK(f.count("SELECT count(*) FROM records WHERE id = 'r1' AND body = '" + quoted + "'") == 1);
}
