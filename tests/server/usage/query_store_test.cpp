// The store's paged queries and report sums, against a real SQLite file.
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
