// Settlement rules: pure functions over plain values (no store, no clock).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "server/ledger/model.hpp"
#include "server/settlement/model.hpp"

namespace lg::server::settlement {

/// The id of a lab's revenue account.
std::string lab_revenue_id(const std::string& lab);
/// The id of a unit's revenue account.
std::string unit_revenue_id(const std::string& unit);
/// The platform account's id.
inline constexpr const char* kPlatformAccount = "platform";

/// One account a user may charge, as payer_for sees it.
struct Choice {
  std::string account;
  bool is_default = false;
  bool usable = true;  ///< a payer account not closed or ended
};

/// The account a user's charge goes to: their default account if usable, else the only usable
/// one, else "" (the posting waits in review for an admin to name one).
std::string payer_for(const std::vector<Choice>& choices);

/// A new posting for a charge: amount as charged, the payer, the lab's revenue account, review
/// until end + review window (never before now: a charge that arrives late gets its full window).
Posting take_in(const ChargeFacts& c, const std::string& payer, const Policy& p, int64_t now_ms);

/// Why an adjustment (new amount with a reason) is refused, or "": only in review, a reason, a
/// non-negative amount no larger than 10 times the charged amount plus 10,000 yuan (a typo guard).
std::string adjustment_refusal(const Posting& p, int64_t amount_fen, const std::string& reason);

/// Whether the posting may be confirmed now: in review, with an account, the window over (or
/// early = an admin confirms it before).
bool confirmable(const Posting& p, int64_t now_ms, bool early);

/// Whether a payer of this kind is charged at confirmation (prepaid deposit) rather than monthly.
bool charged_at_once(ledger::AccountKind payer);

/// The month a confirmed posting belongs to: the month it ended in, or when that month is closed,
/// the first month after it that is not. Months are "YYYY-MM"; next() gives the following month.
std::string month_for(const std::string& end_month, const std::set<std::string>& closed,
                      const std::function<std::string(const std::string&)>& next);

/// Why month M may not be settled at now, or "": it must have ended (month_end <= now) and not be
/// closed already.
std::string settle_refusal(const std::string& month, int64_t month_end_ms, bool closed, int64_t now_ms);

/// The statements and parts of a month from its totals (sorted by account, then revenue).
struct MonthPlan {
  std::vector<Statement> statements;
  std::vector<StatementPart> parts;
  int64_t charges = 0;
  int64_t total_fen = 0;
};
MonthPlan plan_month(const std::string& month, const std::vector<MonthTotal>& totals,
                     const std::map<std::string, std::string>& project_codes, int64_t now_ms);

/// Matches the finance system's rows to statements: a row naming a closed, unpaid statement with
/// its exact total is matched (and marks it paid); otherwise the outcome says why not. A statement
/// named twice in one file is matched once and the later rows are duplicates.
std::vector<MatchResult> reconcile_rows(const std::vector<FinanceRow>& rows, const std::vector<Statement>& statements);

/// One allocation transfer of a lab's revenue.
struct Share {
  std::string to;
  int64_t amount_fen = 0;
};
/// The shares of `collected` (floor of the basis points; the rest stays with the lab): to the
/// unit's revenue account and to the platform. Nothing for a share of 0.
std::vector<Share> allocate(int64_t collected, const std::string& unit_account, const AllocationRule& rule);

/// What is wrong with an allocation rule, or "": shares of 0..10000 bp summing to at most 10000.
std::string rule_problem(const AllocationRule& r);

}  // namespace lg::server::settlement
