#include "server/settlement/rules.hpp"

#include <algorithm>
#include <array>

#include "labgate/common/money.hpp"
#include "server/ledger/rules.hpp"

namespace lg::server::settlement {

namespace {
constexpr std::array<const char*, 3> kStates{"review", "confirmed", "posted"};
constexpr std::array<const char*, 6> kOutcomes{"matched",   "amount_mismatch", "unknown_statement",
                                               "already_paid", "duplicate",    "not_closed"};
constexpr int64_t kMsPerHour = 3'600'000;
}  // namespace

const char* to_string(PostingState s) { return kStates[static_cast<std::size_t>(s)]; }
std::optional<PostingState> posting_state_from(std::string_view s) {
  for (std::size_t i = 0; i < kStates.size(); ++i)
    if (s == kStates[i]) return static_cast<PostingState>(i);
  return std::nullopt;
}
const char* to_string(MatchOutcome o) { return kOutcomes[static_cast<std::size_t>(o)]; }
std::optional<MatchOutcome> match_outcome_from(std::string_view s) {
  for (std::size_t i = 0; i < kOutcomes.size(); ++i)
    if (s == kOutcomes[i]) return static_cast<MatchOutcome>(i);
  return std::nullopt;
}

std::string lab_revenue_id(const std::string& lab) { return "rev-" + lab; }
std::string unit_revenue_id(const std::string& unit) { return "unit-" + unit; }

std::string payer_for(const std::vector<Choice>& choices) {
  for (const auto& c : choices)
    if (c.is_default && c.usable) return c.account;
  std::string only;
  int usable = 0;
  for (const auto& c : choices) {
    if (!c.usable) continue;
    ++usable;
    only = c.account;
  }
  return usable == 1 ? only : std::string();
}

Posting take_in(const ChargeFacts& c, const std::string& payer, const Policy& p, int64_t now_ms) {
  Posting x;
  x.charge = c.charge;
  x.user = c.user;
  x.instrument = c.instrument;
  x.category = c.category;
  x.currency = c.currency;
  x.charged_fen = c.amount_fen;
  x.amount_fen = c.amount_fen;
  x.account = payer;
  x.revenue = c.lab.empty() ? std::string() : lab_revenue_id(c.lab);
  x.state = PostingState::review;
  x.end_ms = c.end_ms;
  const int64_t window = p.review_hours * kMsPerHour;
  x.review_until_ms = std::max(c.end_ms, now_ms) + window;
  return x;
}

std::string adjustment_refusal(const Posting& p, int64_t amount_fen, const std::string& reason) {
  if (p.state != PostingState::review)
    return std::string("the charge is ") + to_string(p.state) + ": only a charge in review is adjusted";
  if (reason.empty()) return "reason: an adjustment says why";
  if (amount_fen < 0) return "amount_fen: a charge is never negative";
  if (amount_fen > p.charged_fen * 10 + 1'000'000)
    return "amount_fen: " + money::format(amount_fen) + " is far above the charge (" + money::format(p.charged_fen) + ")";
  return "";
}

bool confirmable(const Posting& p, int64_t now_ms, bool early) {
  if (p.state != PostingState::review || p.account.empty() || p.revenue.empty()) return false;
  return early || p.review_until_ms <= now_ms;
}

bool charged_at_once(ledger::AccountKind payer) { return payer == ledger::AccountKind::deposit; }

std::string month_for(const std::string& end_month, const std::set<std::string>& closed,
                      const std::function<std::string(const std::string&)>& next) {
  std::string m = end_month;
  for (int guard = 0; closed.count(m) && guard < 1200; ++guard) m = next(m);
  return m;
}

std::string settle_refusal(const std::string& month, int64_t month_end_ms, bool closed, int64_t now_ms) {
  if (closed) return "month " + month + " is settled and closed already";
  if (now_ms < month_end_ms) return "month " + month + " has not ended yet";
  return "";
}

MonthPlan plan_month(const std::string& month, const std::vector<MonthTotal>& totals,
                     const std::map<std::string, std::string>& project_codes, int64_t now_ms) {
  MonthPlan plan;
  std::map<std::string, Statement> by_account;
  for (const auto& t : totals) {
    if (t.charges == 0) continue;
    Statement& s = by_account[t.account];
    s.id = t.account + ":" + month;
    s.account = t.account;
    s.month = month;
    s.currency = t.currency;
    if (auto it = project_codes.find(t.account); it != project_codes.end()) s.project_code = it->second;
    s.total_fen += t.total_fen;
    s.charges += t.charges;
    s.closed_ms = now_ms;
    plan.parts.push_back(StatementPart{s.id, t.revenue, t.total_fen, t.charges});
    plan.charges += t.charges;
    plan.total_fen += t.total_fen;
  }
  for (auto& [a, s] : by_account) plan.statements.push_back(std::move(s));
  std::sort(plan.parts.begin(), plan.parts.end(), [](const StatementPart& x, const StatementPart& y) {
    return x.statement != y.statement ? x.statement < y.statement : x.revenue < y.revenue;
  });
  return plan;
}

std::vector<MatchResult> reconcile_rows(const std::vector<FinanceRow>& rows, const std::vector<Statement>& statements) {
  std::map<std::string, const Statement*> by_id;
  for (const auto& s : statements) by_id[s.id] = &s;
  std::set<std::string> seen;
  std::vector<MatchResult> out;
  for (const auto& r : rows) {
    MatchResult m;
    m.row = r;
    m.statement = r.statement;
    auto it = by_id.find(r.statement);
    if (it == by_id.end()) {
      m.outcome = MatchOutcome::unknown_statement;
      m.detail = "no statement " + r.statement;
    } else {
      const Statement& s = *it->second;
      m.expected_fen = s.total_fen;
      if (seen.count(s.id)) {
        m.outcome = MatchOutcome::duplicate;
        m.detail = "statement " + s.id + " is named by an earlier row of this file";
      } else if (s.paid_ms) {
        m.outcome = MatchOutcome::already_paid;
        m.detail = "statement " + s.id + " was matched before (" + s.paid_ref + ")";
      } else if (s.closed_ms == 0) {
        m.outcome = MatchOutcome::not_closed;
        m.detail = "statement " + s.id + " is not closed";
      } else if (s.total_fen != r.amount_fen) {
        m.outcome = MatchOutcome::amount_mismatch;
        m.detail = "finance booked " + money::format(r.amount_fen) + ", the statement says " + money::format(s.total_fen);
      } else {
        m.outcome = MatchOutcome::matched;
      }
      if (m.outcome != MatchOutcome::duplicate) seen.insert(s.id);
    }
    out.push_back(std::move(m));
  }
  return out;
}

std::vector<Share> allocate(int64_t collected, const std::string& unit_account, const AllocationRule& rule) {
  std::vector<Share> out;
  if (collected <= 0) return out;
  // collected * bp / 10000 without overflow: collected < 2^63 / 10000 for any real ledger, but
  // split it anyway (q * bp + r * bp / 10000).
  auto share = [&](int64_t bp) { return (collected / 10000) * bp + (collected % 10000) * bp / 10000; };
  if (const int64_t u = share(rule.unit_bp); u > 0 && !unit_account.empty()) out.push_back(Share{unit_account, u});
  if (const int64_t p = share(rule.platform_bp); p > 0) out.push_back(Share{kPlatformAccount, p});
  return out;
}

std::string rule_problem(const AllocationRule& r) {
  if (r.unit_bp < 0 || r.unit_bp > 10000) return "allocation.unit_bp: must be in 0..10000";
  if (r.platform_bp < 0 || r.platform_bp > 10000) return "allocation.platform_bp: must be in 0..10000";
  if (r.unit_bp + r.platform_bp > 10000) return "allocation: unit_bp + platform_bp must be at most 10000";
  return "";
}

}  // namespace lg::server::settlement
