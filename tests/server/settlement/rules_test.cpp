// Settlement rules over plain values: the payer of a charge, the review window, adjustments,
// the month a confirmed charge belongs to, the month plan, reconciliation outcomes, allocation.
#include <doctest/doctest.h>

#include "labgate/common/time.hpp"
#include "server/settlement/rules.hpp"

using namespace lg;
using namespace lg::server::settlement;

TEST_CASE("a charge goes to the default account, else the only usable one, else waits for one") {
  CHECK(payer_for({}).empty());
  CHECK(payer_for({{"g1", false, true}}) == "g1");
  CHECK(payer_for({{"g1", false, true}, {"g2", false, true}}).empty());
  CHECK(payer_for({{"g1", false, true}, {"g2", true, true}}) == "g2");
  CHECK(payer_for({{"g1", false, true}, {"g2", true, false}}) == "g1");  // the default has ended
  CHECK(payer_for({{"g1", false, false}}).empty());
}

TEST_CASE("a posting starts in review for the window, counted from when it arrives if late") {
  Policy p;
  p.review_hours = 72;
  ChargeFacts c{"ch", "alice", "xrd", "lab-1", "u", "internal_student", "CNY", 1234, 1'000'000};
  Posting x = take_in(c, "g1", p, 500);
  CHECK(x.state == PostingState::review);
  CHECK(x.revenue == "rev-lab-1");
  CHECK(x.review_until_ms == 1'000'000 + 72 * 3'600'000LL);
  CHECK(x.amount_fen == 1234);
  Posting late = take_in(c, "g1", p, 9'000'000);
  CHECK(late.review_until_ms == 9'000'000 + 72 * 3'600'000LL);
  CHECK_FALSE(confirmable(x, x.review_until_ms - 1, false));
  CHECK(confirmable(x, x.review_until_ms, false));
  CHECK(confirmable(x, 0, true));
  x.account.clear();
  CHECK_FALSE(confirmable(x, x.review_until_ms, true));
}

TEST_CASE("an adjustment needs review, a reason and a sane amount") {
  Posting p;
  p.charged_fen = 10000;
  CHECK(adjustment_refusal(p, 5000, "broke down after 10 min").empty());
  CHECK(!adjustment_refusal(p, 5000, "").empty());
  CHECK(!adjustment_refusal(p, -1, "x").empty());
  CHECK(!adjustment_refusal(p, 10000 * 10 + 1'000'001, "x").empty());
  p.state = PostingState::confirmed;
  CHECK(adjustment_refusal(p, 5000, "x").find("only a charge in review") != std::string::npos);
}

TEST_CASE("a confirmed charge belongs to its month, or the first open month after a closed one") {
  auto next = [](const std::string& m) { return *time::next_month(m); };
  CHECK(month_for("2026-10", {}, next) == "2026-10");
  CHECK(month_for("2026-10", {"2026-10"}, next) == "2026-11");
  CHECK(month_for("2026-12", {"2026-12", "2027-01"}, next) == "2027-02");
  CHECK(settle_refusal("2026-10", 100, false, 99).find("not ended") != std::string::npos);
  CHECK(settle_refusal("2026-10", 100, true, 200).find("closed already") != std::string::npos);
  CHECK(settle_refusal("2026-10", 100, false, 100).empty());
  CHECK(charged_at_once(lg::server::ledger::AccountKind::deposit));
  CHECK_FALSE(charged_at_once(lg::server::ledger::AccountKind::grant));
}

TEST_CASE("a month plan makes a statement per account with a part per lab, totals exact") {
  std::vector<MonthTotal> t{{"g1", "rev-a", "CNY", 3, 300}, {"g1", "rev-b", "CNY", 1, 50}, {"g2", "rev-a", "CNY", 2, 7}};
  auto plan = plan_month("2026-10", t, {{"g1", "P-001"}}, 42);
  REQUIRE(plan.statements.size() == 2);
  CHECK(plan.statements[0].id == "g1:2026-10");
  CHECK(plan.statements[0].total_fen == 350);
  CHECK(plan.statements[0].charges == 4);
  CHECK(plan.statements[0].project_code == "P-001");
  CHECK(plan.statements[1].total_fen == 7);
  CHECK(plan.parts.size() == 3);
  CHECK(plan.total_fen == 357);
  CHECK(plan.charges == 6);
}

TEST_CASE("reconciliation: matched, amount mismatch, unknown, duplicate, already paid") {
  std::vector<Statement> st(3);
  st[0].id = "g1:2026-10";
  st[0].total_fen = 350;
  st[0].closed_ms = 1;
  st[1].id = "g2:2026-10";
  st[1].total_fen = 7;
  st[1].closed_ms = 1;
  st[2].id = "g3:2026-10";
  st[2].total_fen = 9;
  st[2].closed_ms = 1;
  st[2].paid_ms = 5;
  std::vector<FinanceRow> rows{{2, "V1", "g1:2026-10", 350}, {3, "V2", "g2:2026-10", 70}, {4, "V3", "nope", 1},
                               {5, "V4", "g1:2026-10", 350}, {6, "V5", "g3:2026-10", 9}};
  auto m = reconcile_rows(rows, st);
  REQUIRE(m.size() == 5);
  CHECK(m[0].outcome == MatchOutcome::matched);
  CHECK(m[1].outcome == MatchOutcome::amount_mismatch);
  CHECK(m[1].detail.find("0.70") != std::string::npos);
  CHECK(m[2].outcome == MatchOutcome::unknown_statement);
  CHECK(m[3].outcome == MatchOutcome::duplicate);
  CHECK(m[4].outcome == MatchOutcome::already_paid);
}

TEST_CASE("allocation gives floor shares and the lab keeps the rest, never more than collected") {
  AllocationRule r;
  r.unit_bp = 3000;
  r.platform_bp = 1000;
  auto s = allocate(10001, "unit-u", r);
  REQUIRE(s.size() == 2);
  CHECK(s[0].to == "unit-u");
  CHECK(s[0].amount_fen == 3000);
  CHECK(s[1].to == "platform");
  CHECK(s[1].amount_fen == 1000);
  CHECK(allocate(0, "unit-u", r).empty());
  CHECK(allocate(3, "unit-u", r).empty());  // 0.9 and 0.3 fen: nothing
  const int64_t big = 4'000'000'000'000'000'000;
  auto b = allocate(big, "unit-u", r);
  CHECK(b[0].amount_fen == big / 10 * 3);
  CHECK(rule_problem(r).empty());
  r.platform_bp = 8000;
  CHECK(!rule_problem(r).empty());
}
