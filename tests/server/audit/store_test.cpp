// The audit store contract, on both backends (open_store): append links entries, list filters
// and pages newest first, chain reads in order, an append in a failed unit of work leaves
// nothing, and the table refuses UPDATE and DELETE.
#include <doctest/doctest.h>

#include <array>
#include <thread>
#include <vector>

#include "server/audit/record.hpp"
#include "server/audit/rules.hpp"
#include "tests/server/test_support.hpp"

using namespace lg;
using namespace lg::server;
using namespace lg::server::test;

namespace {

audit::Change change(std::string entity, std::string id, std::string after) {
  return audit::Change{"create", std::move(entity), std::move(id), "", std::move(after)};
}

}  // namespace

TEST_CASE("audit store appends a linked chain and lists it filtered, newest first") {
  TempDir dir;
  auto store = open_store(dir);
  auto& a = store->stores().audit;
  const audit::Context admin{"admin-token", "10.0.0.5", "req-1"};
  const audit::Context job{"system:settle", "local", ""};
  const int64_t t0 = ms("2026-03-02T01:00:00Z");
  auto e1 = a.append(admin, change("booking", "b1", R"({"id":"b1"})"), t0);
  REQUIRE(e1);
  CHECK(e1->seq == 1);
  CHECK(e1->prev_hash == audit::kGenesis);
  auto e2 = a.append(job, change("fee_standard", "inst-xrd", R"({"instrument":"inst-xrd"})"), t0 + 1000);
  REQUIRE(e2);
  CHECK(e2->seq == 2);
  CHECK(e2->prev_hash == e1->hash);
  auto e3 = a.append(admin, change("booking", "b2", R"({"id":"b2"})"), t0 + 2000);
  REQUIRE(e3);

  auto all = a.chain(0, 100);
  REQUIRE(all);
  REQUIRE(all->size() == 3);
  CHECK((*all)[0].hash == e1->hash);
  CHECK((*all)[1].actor == "system:settle");
  CHECK((*all)[2].request_id == "req-1");
  CHECK((*all)[2].source == "10.0.0.5");
  CHECK_FALSE(audit::verify(*all));
  auto rest = a.chain(2, 100);
  REQUIRE(rest);
  REQUIRE(rest->size() == 1);
  CHECK((*rest)[0].seq == 3);

  audit::Filter f;
  auto l = a.list(f);
  REQUIRE(l);
  REQUIRE(l->size() == 3);
  CHECK(l->rows[0].seq == 3);  // newest first
  f.entity = "booking";
  l = a.list(f);
  REQUIRE(l);
  REQUIRE(l->size() == 2);
  f.entity_id = "b1";
  l = a.list(f);
  REQUIRE(l);
  REQUIRE(l->size() == 1);
  CHECK(l->rows[0].after == R"({"id":"b1"})");
  audit::Filter by_actor;
  by_actor.actor = "system:settle";
  l = a.list(by_actor);
  REQUIRE(l);
  REQUIRE(l->size() == 1);
  CHECK(l->rows[0].entity == "fee_standard");
  audit::Filter by_time;
  by_time.from_ms = t0 + 1000;
  by_time.to_ms = t0 + 2000;
  l = a.list(by_time);
  REQUIRE(l);
  REQUIRE(l->size() == 1);
  CHECK(l->rows[0].seq == 2);

  // one row per page, following the key
  audit::Filter paged;
  paged.page.limit = 1;
  std::vector<uint64_t> seen;
  for (;;) {
    auto p = a.list(paged);
    REQUIRE(p);
    for (const auto& e : *p) seen.push_back(e.seq);
    if (!p->more()) break;
    paged.page.after = p->next;
  }
  CHECK(seen == std::vector<uint64_t>{3, 2, 1});
}

TEST_CASE("audit record: a failing write appends nothing, a good one appends in the same unit of work") {
  TempDir dir;
  auto store = open_store(dir);
  seed(*store);
  auto s = store->stores();
  const audit::Context ctx{"admin-token", "local", "req-x"};
  // the write succeeds, then fails: its row and the entry are both gone
  Status bad = audit::record(s.uow, s.audit, ctx, 1, [&]() -> Result<std::optional<audit::Change>> {
    LG_TRY(s.billing.put_fee_standard(FeeStandard{"door-1", 1, 2, "CNY"}, 1));
    return Error::invalid("refused after the write");
  });
  CHECK_FALSE(bad);
  // an append that happened before the failure inside the same unit of work is rolled back too
  Status late = s.uow.run([&]() -> Status {
    auto e = s.audit.append(ctx, change("fee_standard", "door-1", "{}"), 1);
    if (!e) return e.error();
    return Error::invalid("refused after the append");
  });
  CHECK_FALSE(late);
  auto none = s.audit.chain(0, 10);
  REQUIRE(none);
  CHECK(none->empty());
  std::array<std::string, 1> door{"door-1"};
  auto fees = s.billing.fees(door);
  REQUIRE(fees);
  CHECK_FALSE((*fees)["door-1"]);

  // nothing changed: nothing appended
  REQUIRE(audit::record(s.uow, s.audit, ctx, 2, [] { return audit::unchanged(); }));
  // a write and its entry, committed together
  REQUIRE(audit::record(s.uow, s.audit, ctx, 3, [&]() -> Result<std::optional<audit::Change>> {
    LG_TRY(s.billing.put_fee_standard(FeeStandard{"door-1", 1, 2, "CNY"}, 3));
    return audit::changed(change("fee_standard", "door-1", R"({"instrument":"door-1"})"));
  }));
  auto one = s.audit.chain(0, 10);
  REQUIRE(one);
  REQUIRE(one->size() == 1);
  CHECK(one->front().seq == 1);  // the rolled-back appends left no gap
  CHECK(one->front().request_id == "req-x");
  // nested in an outer unit of work that fails: gone with it
  Status outer = s.uow.run([&]() -> Status {
    LG_TRY(audit::record(s.uow, s.audit, ctx, 4, [&] { return audit::changed(change("booking", "b9", "{}")); }));
    return Error::invalid("outer fails");
  });
  CHECK_FALSE(outer);
  auto still = s.audit.chain(0, 10);
  REQUIRE(still);
  CHECK(still->size() == 1);
}

TEST_CASE("audit log refuses UPDATE and DELETE") {
  TempDir dir;
  auto store = open_store(dir);
  auto& a = store->stores().audit;
  REQUIRE(a.append(audit::Context{"admin-token", "local", "r"}, change("booking", "b1", "{}"), 1));
  CHECK_FALSE(store->exec("UPDATE audit_log SET after = '{\"forged\":1}' WHERE seq = 1"));
  CHECK_FALSE(store->exec("DELETE FROM audit_log WHERE seq = 1"));
  auto all = a.chain(0, 10);
  REQUIRE(all);
  REQUIRE(all->size() == 1);
  CHECK(all->front().after == "{}");
  CHECK_FALSE(audit::verify(*all));
}

TEST_CASE("audit appends from concurrent writers keep one gapless chain") {
  TempDir dir;
  constexpr int kThreads = 4;
  constexpr int kEach = 15;
  auto store = open_store(dir, kThreads);
  auto s = store->stores();
  std::vector<std::thread> threads;
  std::array<int, kThreads> failures{};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const audit::Context ctx{"system:test-" + std::to_string(t), "local", ""};
      for (int i = 0; i < kEach; ++i) {
        auto st = audit::record(s.uow, s.audit, ctx, i, [&] {
          return audit::changed(change("booking", std::to_string(t) + "-" + std::to_string(i), "{}"));
        });
        if (!st) ++failures[static_cast<std::size_t>(t)];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int f : failures) CHECK(f == 0);
  auto all = s.audit.chain(0, 1000);
  REQUIRE(all);
  CHECK(all->size() == kThreads * kEach);
  CHECK_FALSE(audit::verify(*all));
}
