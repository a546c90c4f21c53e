// The ledger service and store on both backends (pg.* runs them on PostgreSQL): budgets and
// top-ups, charges posted once (the rest to arrears, paid off by the next top-up), holds posted,
// released and expired, idempotency keys, refusals that change nothing, and the invariant check.
#include <doctest/doctest.h>

#include <thread>

#include "server/ledger/service.hpp"
#include "tests/server/test_support.hpp"

using namespace lg;
using namespace lg::server;
using namespace lg::server::ledger;
using namespace lg::server::test;

namespace {

constexpr int64_t T0 = 1'780'000'000'000;

struct Fixture {
  TempDir dir;
  std::unique_ptr<TestStore> store = open_store(dir);
  Stores s = store->stores();
  Service ledger{s.uow, s.ledger, "CNY"};

  Fixture() {
    Account rev;
    rev.id = "rev-l";
    rev.kind = AccountKind::lab_revenue;
    rev.name = "XRD lab revenue";
    rev.lab = "l";
    REQUIRE(ledger.open_account(rev, T0));
  }
  Account open(std::string id, AccountKind k) {
    Account a;
    a.id = std::move(id);
    a.kind = k;
    a.name = a.id;
    a.group = "g1";
    a.owner = "pi";
    a.organisation = "ACME";
    auto r = ledger.open_account(a, T0);
    REQUIRE_MESSAGE(r, r.error().message());
    return *r;
  }
  Account get(const std::string& id) {
    auto a = s.ledger.account(id);
    REQUIRE(a);
    REQUIRE(*a);
    return **a;
  }
  int64_t balance(const std::string& id) { return balance_of(get(id).balance); }
  void holds() {
    auto c = ledger.check();
    REQUIRE(c);
    for (const auto& v : c->violations) FAIL_CHECK(v);
  }
};

}  // namespace

TEST_CASE("a grant gets its budget, a member's charge posts once, and the ledger balances") {
  Fixture f;
  f.open("grant-1", AccountKind::grant);
  auto b = f.ledger.raise_budget("grant-1", "NSFC-2026-001", 500000, "finance-amy", T0);
  REQUIRE(b);
  CHECK(f.balance("grant-1") == 500000);
  CHECK(f.get("grant-1").budget_fen == 500000);
  CHECK(f.balance("finance") == -500000);
  // the budget document again: nothing moves
  auto again = f.ledger.raise_budget("grant-1", "NSFC-2026-001", 500000, "finance-amy", T0);
  REQUIRE(again);
  CHECK(again->replayed);
  CHECK(f.get("grant-1").budget_fen == 500000);

  CHECK(f.ledger.charge_refusal("grant-1", "alice", T0).value().find("not an approved member") != std::string::npos);
  REQUIRE(f.ledger.approve_member("grant-1", "alice", "pi", T0));
  CHECK(f.ledger.charge_refusal("grant-1", "alice", T0).value().empty());

  auto c = f.ledger.post_charge(ChargePosting{"ch-1", "grant-1", "rev-l", 36000, "XRD 3 h", "system"}, T0 + 1);
  REQUIRE(c);
  CHECK_FALSE(c->replayed);
  REQUIRE(c->transfers.size() == 1);
  CHECK(c->transfers[0].kind == TransferKind::charge);
  CHECK(f.balance("grant-1") == 464000);
  CHECK(f.balance("rev-l") == 36000);
  // posted again (a retry, a rerun of a settlement): nothing moves
  auto twice = f.ledger.post_charge(ChargePosting{"ch-1", "grant-1", "rev-l", 36000, "XRD 3 h", "system"}, T0 + 2);
  REQUIRE(twice);
  CHECK(twice->replayed);
  CHECK(f.balance("grant-1") == 464000);
  f.holds();
}

TEST_CASE("a deposit used down goes into arrears, is blocked, and a top-up pays it off") {
  Fixture f;
  f.open("dep-acme", AccountKind::deposit);
  REQUIRE(f.ledger.top_up("dep-acme", "R-0001", 10000, "finance-amy", "receipt", T0));
  CHECK(f.ledger.blocked("dep-acme", T0).value().empty());
  auto c = f.ledger.post_charge(ChargePosting{"ch-9", "dep-acme", "rev-l", 25000, "", "system"}, T0 + 1);
  REQUIRE(c);
  REQUIRE(c->transfers.size() == 2);
  CHECK(c->transfers[0].amount_fen == 10000);
  CHECK(c->transfers[1].kind == TransferKind::arrears);
  CHECK(c->transfers[1].amount_fen == 15000);
  CHECK(f.balance("dep-acme") == 0);
  CHECK(f.balance("dep-acme.arrears") == -15000);
  CHECK(f.balance("rev-l") == 25000);
  CHECK(f.ledger.blocked("dep-acme", T0 + 1).value().find("owes 150.00") != std::string::npos);
  // the same receipt twice moves money once
  auto t = f.ledger.top_up("dep-acme", "R-0002", 20000, "finance-amy", "", T0 + 2);
  REQUIRE(t);
  REQUIRE(t->transfers.size() == 2);
  CHECK(t->transfers[1].kind == TransferKind::settle);
  CHECK(t->transfers[1].amount_fen == 15000);
  auto t2 = f.ledger.top_up("dep-acme", "R-0002", 20000, "finance-amy", "", T0 + 3);
  REQUIRE(t2);
  CHECK(t2->replayed);
  CHECK(f.balance("dep-acme") == 5000);
  CHECK(f.balance("dep-acme.arrears") == 0);
  CHECK(f.ledger.blocked("dep-acme", T0 + 3).value().empty());
  // a receipt number reused for another amount is refused and changes nothing
  auto bad = f.ledger.top_up("dep-acme", "R-0002", 99999, "finance-amy", "", T0 + 4);
  REQUIRE_FALSE(bad);
  CHECK(is(bad.error(), Errc::conflict));
  CHECK(f.balance("dep-acme") == 5000);
  f.holds();
}

TEST_CASE("a hold reserves funds: refused beyond them, posted in part with the rest released, expired on time") {
  Fixture f;
  f.open("dep-acme", AccountKind::deposit);
  REQUIRE(f.ledger.top_up("dep-acme", "R-1", 10000, "fin", "", T0));
  TransferRequest r{"hold:bk-1", "dep-acme", "rev-l", 12000, TransferKind::hold, "bk-1", "", "system", T0 + 3'600'000};
  auto refused = f.ledger.hold(r, T0);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().message().find("insufficient_funds") != std::string::npos);
  r.amount_fen = 8000;
  auto h = f.ledger.hold(r, T0);
  REQUIRE(h);
  const std::string hold_id = h->transfers[0].id;
  CHECK(available_of(f.get("dep-acme").balance) == 2000);
  // a second hold beyond what is left is refused
  TransferRequest r2 = r;
  r2.key = "hold:bk-2";
  r2.amount_fen = 2001;
  CHECK_FALSE(f.ledger.hold(r2, T0));
  // used 60 of the 80 held
  auto p = f.ledger.post_hold(hold_id, 6000, "ch-1", "system", T0 + 10);
  REQUIRE(p);
  CHECK(f.balance("dep-acme") == 4000);
  CHECK(f.get("dep-acme").balance.debits_pending == 0);
  CHECK(f.balance("rev-l") == 6000);
  // posted again: a replay; released after posting: refused
  auto p2 = f.ledger.post_hold(hold_id, 6000, "ch-1", "system", T0 + 11);
  REQUIRE(p2);
  CHECK(p2->replayed);
  auto rel = f.ledger.release_hold(hold_id, "system", T0 + 12);
  REQUIRE_FALSE(rel);
  CHECK(is(rel.error(), Errc::conflict));
  // a hold that times out gives its funds back
  r.key = "hold:bk-3";
  r.amount_fen = 3000;
  r.timeout_ms = T0 + 100;
  REQUIRE(f.ledger.hold(r, T0 + 20));
  CHECK(available_of(f.get("dep-acme").balance) == 1000);
  CHECK(f.ledger.expire_holds(T0 + 99).value() == 0);
  CHECK(f.ledger.expire_holds(T0 + 100).value() == 1);
  CHECK(f.ledger.expire_holds(T0 + 101).value() == 0);
  CHECK(available_of(f.get("dep-acme").balance) == 4000);
  f.holds();
}

TEST_CASE("using more than was held posts the hold in full and charges the rest, into arrears if need be") {
  Fixture f;
  f.open("dep-acme", AccountKind::deposit);
  REQUIRE(f.ledger.top_up("dep-acme", "R-1", 10000, "fin", "", T0));
  auto h = f.ledger.hold(TransferRequest{"hold:bk-1", "dep-acme", "rev-l", 9000, TransferKind::hold, "bk-1", "", "s",
                                         T0 + 1000},
                         T0);
  REQUIRE(h);
  auto p = f.ledger.post_hold(h->transfers[0].id, 14000, "ch-7", "system", T0 + 10);
  REQUIRE(p);
  REQUIRE(p->transfers.size() == 3);  // post 9000, charge 1000, arrears 4000
  CHECK(p->transfers[0].amount_fen == 9000);
  CHECK(p->transfers[1].amount_fen == 1000);
  CHECK(p->transfers[2].amount_fen == 4000);
  CHECK(f.balance("rev-l") == 14000);
  CHECK(f.balance("dep-acme.arrears") == -4000);
  f.holds();
}

TEST_CASE("refusals change nothing: unknown accounts, other currencies, generic transfers of special kinds") {
  Fixture f;
  f.open("dep-acme", AccountKind::deposit);
  REQUIRE(f.ledger.top_up("dep-acme", "R-1", 10000, "fin", "", T0));
  auto before = f.ledger.check().value().transfers;
  CHECK_FALSE(f.ledger.transfer(TransferRequest{"x1", "dep-acme", "nowhere", 10, TransferKind::correction}, T0));
  CHECK_FALSE(f.ledger.transfer(TransferRequest{"x2", "dep-acme", "rev-l", 10, TransferKind::charge}, T0));
  CHECK_FALSE(f.ledger.transfer(TransferRequest{"", "dep-acme", "rev-l", 10, TransferKind::correction}, T0));
  CHECK_FALSE(f.ledger.transfer(TransferRequest{"x3", "dep-acme", "rev-l", 10001, TransferKind::correction}, T0));
  CHECK_FALSE(f.ledger.top_up("rev-l", "R-2", 10, "fin", "", T0));  // not a deposit
  Account usd;
  usd.id = "dep-usd";
  usd.kind = AccountKind::deposit;
  usd.name = "USD";
  usd.currency = "USD";
  usd.organisation = "ACME";
  REQUIRE(f.ledger.open_account(usd, T0));
  CHECK_FALSE(f.ledger.transfer(TransferRequest{"x4", "dep-acme", "dep-usd", 10, TransferKind::correction}, T0));
  CHECK(f.ledger.check().value().transfers == before);
  CHECK(f.balance("dep-acme") == 10000);
  // a correction is a new transfer
  auto fix = f.ledger.transfer(TransferRequest{"corr:1", "rev-l", "dep-acme", 1, TransferKind::correction}, T0);
  CHECK_FALSE(fix);  // rev-l has nothing to give back
  REQUIRE(f.ledger.post_charge(ChargePosting{"ch-1", "dep-acme", "rev-l", 500, "", "s"}, T0));
  REQUIRE(f.ledger.transfer(TransferRequest{"corr:1", "rev-l", "dep-acme", 100, TransferKind::correction, "ch-1",
                                            "overcharged 1 yuan", "admin"},
                            T0));
  CHECK(f.balance("dep-acme") == 9600);
  f.holds();
}

TEST_CASE("an overdraft cannot be lowered below what the account uses of it") {
  Fixture f;
  Account line = f.open("line-g1", AccountKind::credit);
  line.overdraft_fen = 50000;
  REQUIRE(f.ledger.change_account(line, T0));
  REQUIRE(f.ledger.post_charge(ChargePosting{"ch-1", "line-g1", "rev-l", 30000, "", "s"}, T0));
  CHECK(f.balance("line-g1") == -30000);
  line.overdraft_fen = 20000;
  auto r = f.ledger.change_account(line, T0);
  REQUIRE_FALSE(r);
  CHECK(r.error().message().find("cannot be set lower") != std::string::npos);
  line.overdraft_fen = 30000;
  REQUIRE(f.ledger.change_account(line, T0));
  f.holds();
}

TEST_CASE("concurrent charges to one prepaid account: every one posted once, the ledger balances") {
  TempDir dir;
  auto store = open_store(dir, 4);
  Stores s = store->stores();
  Service ledger{s.uow, s.ledger, "CNY"};
  Account dep;
  dep.id = "dep";
  dep.kind = AccountKind::deposit;
  dep.name = "dep";
  dep.organisation = "ACME";
  REQUIRE(ledger.open_account(dep, T0));
  Account rev;
  rev.id = "rev";
  rev.kind = AccountKind::lab_revenue;
  rev.name = "rev";
  rev.lab = "l";
  REQUIRE(ledger.open_account(rev, T0));
  REQUIRE(ledger.top_up("dep", "R-1", 100000, "fin", "", T0));
  constexpr int kThreads = 4;
  constexpr int kEach = 40;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        // each charge twice (a retry racing the first), from two threads
        const std::string id = "ch-" + std::to_string((t / 2) * kEach + i);
        if (!ledger.post_charge(ChargePosting{id, "dep", "rev", 1000, "", "s"}, T0 + i)) failures++;
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(failures.load() == 0);
  // 2 * 40 distinct charges of 10 yuan: 80000 fen, within the deposit
  auto d = s.ledger.account("dep");
  REQUIRE(d);
  CHECK(balance_of((*d)->balance) == 20000);
  auto c = ledger.check();
  REQUIRE(c);
  CHECK(c->violations.empty());
}

TEST_CASE("a batch of charges posts as each would alone, writes each account once, and skips those posted") {
  Fixture f;
  f.open("grant-1", AccountKind::grant);
  f.open("dep-acme", AccountKind::deposit);
  REQUIRE(f.ledger.raise_budget("grant-1", "B1", 10000, "fin", T0));
  REQUIRE(f.ledger.top_up("dep-acme", "R1", 500, "fin", "", T0));
  REQUIRE(f.ledger.post_charge(ChargePosting{"ch-0", "grant-1", "rev-l", 1000, "", "s"}, T0));
  std::vector<ChargePosting> batch{{"ch-0", "grant-1", "rev-l", 1000, "", "s"},   // posted before: left alone
                                   {"ch-1", "grant-1", "rev-l", 6000, "", "s"},
                                   {"ch-2", "grant-1", "rev-l", 4000, "", "s"},   // 3000 left: 1000 to arrears
                                   {"ch-3", "dep-acme", "rev-l", 700, "", "s"},   // 500 paid, 200 owed
                                   {"ch-4", "dep-acme", "rev-l", 0, "", "s"}};
  auto r = f.ledger.post_charges(batch, T0 + 1);
  REQUIRE(r);
  CHECK(r->replayed);
  CHECK(r->transfers.size() == 5);  // ch-1, ch-2 paid + owed, ch-3 paid + owed
  CHECK(f.balance("grant-1") == 0);
  CHECK(f.balance("grant-1.arrears") == -1000);
  CHECK(f.balance("dep-acme") == 0);
  CHECK(f.balance("dep-acme.arrears") == -200);
  CHECK(f.balance("rev-l") == 11700);
  // the same batch again moves nothing
  auto again = f.ledger.post_charges(batch, T0 + 2);
  REQUIRE(again);
  CHECK(again->transfers.empty());
  CHECK(f.balance("rev-l") == 11700);
  f.holds();
}
