// The ledger's rules over plain values: funds and floors, the split of a charge into paid and
// owed, the balances a transfer leaves, blocks, who may charge, key reuse, and the invariant check.
#include <doctest/doctest.h>

#include <limits>

#include "server/ledger/rules.hpp"

using namespace lg::server::ledger;

namespace {

Account acct(std::string id, AccountKind k, int64_t credits, int64_t debits = 0) {
  Account a;
  a.id = std::move(id);
  a.kind = k;
  a.name = a.id;
  a.currency = "CNY";
  a.floor_fen = default_floor(k);
  a.balance.credits_posted = credits;
  a.balance.debits_posted = debits;
  return a;
}

}  // namespace

TEST_CASE("a debit may not take an account below its floor less its authorised overdraft") {
  Account dep = acct("dep", AccountKind::deposit, 10000);
  Account rev = acct("rev", AccountKind::lab_revenue, 0);
  std::string rule;
  CHECK(transfer_refusal(dep, rev, 10000, &rule).empty());
  CHECK(!transfer_refusal(dep, rev, 10001, &rule).empty());
  CHECK(rule == "insufficient_funds");
  // holds count: 4000 reserved leaves 6000
  dep.balance.debits_pending = 4000;
  CHECK(headroom(dep) == 6000);
  CHECK(!transfer_refusal(dep, rev, 6001).empty());
  CHECK(transfer_refusal(dep, rev, 6000).empty());
  // a credit line spends its overdraft
  Account line = acct("line", AccountKind::credit, 0);
  line.overdraft_fen = 50000;
  CHECK(headroom(line) == 50000);
  CHECK(transfer_refusal(line, rev, 50000).empty());
  CHECK(!transfer_refusal(line, rev, 50001).empty());
  // finance and arrears have no floor
  Account fin = acct("finance", AccountKind::finance, 0);
  CHECK(headroom(fin) == std::numeric_limits<int64_t>::max());
  CHECK(transfer_refusal(fin, dep, 1'000'000'000).empty());
}

TEST_CASE("a transfer needs a positive amount, two open accounts and one currency") {
  Account a = acct("a", AccountKind::deposit, 100);
  Account b = acct("b", AccountKind::lab_revenue, 0);
  std::string rule;
  CHECK(!transfer_refusal(a, b, 0, &rule).empty());
  CHECK(rule == "amount");
  CHECK(!transfer_refusal(a, a, 10, &rule).empty());
  CHECK(rule == "same_account");
  b.currency = "USD";
  CHECK(!transfer_refusal(a, b, 10, &rule).empty());
  CHECK(rule == "currency");
  b.currency = "CNY";
  b.closed_ms = 5;
  CHECK(!transfer_refusal(a, b, 10, &rule).empty());
  CHECK(rule == "closed");
}

TEST_CASE("a charge beyond the payer's funds goes to its arrears, exactly") {
  Account dep = acct("dep", AccountKind::deposit, 3000);
  auto s = split_charge(dep, 10000);
  CHECK(s.paid == 3000);
  CHECK(s.owed == 7000);
  s = split_charge(dep, 2000);
  CHECK(s.paid == 2000);
  CHECK(s.owed == 0);
  dep.balance.debits_pending = 3000;  // all of it held
  s = split_charge(dep, 500);
  CHECK(s.paid == 0);
  CHECK(s.owed == 500);
  // paying off arrears: min(owed, headroom)
  Account ar = acct("dep.arrears", AccountKind::arrears, 0, 7000);
  Account topped = acct("dep", AccountKind::deposit, 5000);
  CHECK(settle_amount(topped, ar) == 5000);
  topped.balance.credits_posted = 9000;
  CHECK(settle_amount(topped, ar) == 7000);
  Account clear = acct("dep.arrears", AccountKind::arrears, 7000, 7000);
  CHECK(settle_amount(topped, clear) == 0);
}

TEST_CASE("the balances a transfer leaves: holds pend, posts move pending to posted, releases give back") {
  Transfer hold;
  hold.id = "h";
  hold.kind = TransferKind::hold;
  hold.debit = "dep";
  hold.credit = "rev";
  hold.amount_fen = 5000;
  auto after = effect(hold, nullptr, Balance{0, 10000, 0, 0}, Balance{});
  REQUIRE(after);
  CHECK(after->first == Balance{0, 10000, 5000, 0});
  CHECK(after->second == Balance{0, 0, 0, 5000});
  Transfer post = hold;
  post.kind = TransferKind::post;
  post.pending_id = "h";
  post.amount_fen = 3200;
  auto posted = effect(post, &hold, after->first, after->second);
  REQUIRE(posted);
  CHECK(posted->first == Balance{3200, 10000, 0, 0});
  CHECK(posted->second == Balance{0, 3200, 0, 0});
  post.amount_fen = 5001;  // above the hold
  CHECK(!effect(post, &hold, after->first, after->second));
  Transfer release = post;
  release.kind = TransferKind::release;
  release.amount_fen = 0;
  auto released = effect(release, &hold, after->first, after->second);
  REQUIRE(released);
  CHECK(released->first == Balance{0, 10000, 0, 0});
  release.amount_fen = 1;  // a release moves nothing
  CHECK(!effect(release, &hold, after->first, after->second));
  CHECK(!effect(release, nullptr, after->first, after->second));  // a resolution needs its hold
  Transfer other = post;
  other.debit = "elsewhere";
  CHECK(!effect(other, &hold, after->first, after->second));
  // overflow is refused, never wrapped
  Transfer big;
  big.kind = TransferKind::charge;
  big.amount_fen = 10;
  CHECK(!effect(big, nullptr, Balance{std::numeric_limits<int64_t>::max() - 5, 0, 0, 0}, Balance{}));
}

TEST_CASE("a payer is blocked when closed, ended, in arrears or over its limit") {
  Account g = acct("g", AccountKind::grant, 10000);
  CHECK(blocked_reason(g, std::nullopt, 100).empty());
  g.end_ms = 100;
  CHECK(blocked_reason(g, std::nullopt, 99).empty());
  CHECK(blocked_reason(g, std::nullopt, 100).find("ended") != std::string::npos);
  g.end_ms.reset();
  Account ar = acct("g.arrears", AccountKind::arrears, 0, 250);
  CHECK(blocked_reason(g, ar, 1).find("owes 2.50") != std::string::npos);
  ar.balance.credits_posted = 250;
  CHECK(blocked_reason(g, ar, 1).empty());
  g.closed_ms = 1;
  CHECK(blocked_reason(g, std::nullopt, 1).find("closed") != std::string::npos);
}

TEST_CASE("only approved, unrevoked members charge a payer account") {
  Account g = acct("g", AccountKind::grant, 10000);
  std::vector<Member> m{{"g", "alice", "pi", 1, std::nullopt, false}, {"g", "bob", "pi", 1, int64_t{5}, false}};
  CHECK(charge_refusal(g, std::nullopt, m, "alice", 10).empty());
  CHECK(charge_refusal(g, std::nullopt, m, "bob", 10).find("not an approved member") != std::string::npos);
  CHECK(charge_refusal(g, std::nullopt, m, "carol", 10).find("not an approved member") != std::string::npos);
  Account rev = acct("rev", AccountKind::lab_revenue, 0);
  CHECK(charge_refusal(rev, std::nullopt, m, "alice", 10).find("not an account one pays from") != std::string::npos);
}

TEST_CASE("a key used again for another transfer is named, the same one again is not") {
  Transfer a;
  a.key = "top_up:R1";
  a.debit = "finance";
  a.credit = "dep";
  a.amount_fen = 100;
  a.kind = TransferKind::top_up;
  Transfer b = a;
  CHECK(key_mismatch(a, b).empty());
  b.amount_fen = 101;
  CHECK(!key_mismatch(a, b).empty());
}

TEST_CASE("the invariant check finds every kind of violation") {
  std::vector<Account> accounts{acct("a", AccountKind::deposit, 100), acct("b", AccountKind::lab_revenue, 0)};
  accounts[0].balance = Balance{0, 100, 0, 0};
  accounts[1].balance = Balance{0, 0, 0, 0};
  std::map<std::string, Balance> rec{{"a", Balance{0, 100, 0, 0}}, {"finance", Balance{100, 0, 0, 0}}};
  Account fin = acct("finance", AccountKind::finance, 0, 100);
  fin.balance = Balance{100, 0, 0, 0};
  accounts.push_back(fin);
  CHECK(check(accounts, rec, {}).empty());
  // a stored balance that its transfers do not explain
  accounts[1].balance.credits_posted = 5;
  CHECK(check(accounts, rec, {}).size() == 1);
  accounts[1].balance.credits_posted = 0;
  // debits != credits
  rec["b"] = Balance{0, 7, 0, 0};
  accounts[1].balance = rec["b"];
  auto v = check(accounts, rec, {});
  REQUIRE(v.size() == 1);
  CHECK(v[0].find("posted debits") != std::string::npos);
  rec.erase("b");
  accounts[1].balance = Balance{};
  // below the floor
  rec["a"] = Balance{150, 100, 0, 0};
  rec["b"] = Balance{0, 150, 0, 0};
  accounts[0].balance = rec["a"];
  accounts[1].balance = rec["b"];
  v = check(accounts, rec, {});
  REQUIRE(v.size() == 1);
  CHECK(v[0].find("below its floor") != std::string::npos);
  // a charge posted twice, an unknown account
  rec["ghost"] = Balance{};
  v = check(accounts, rec, {"c-1"});
  CHECK(v.size() == 3);
}
