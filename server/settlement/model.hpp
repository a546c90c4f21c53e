// Settlement (结算), reconciliation (平账) and allocation (拨款), issue 11. Plain data.
//
// A charge (billing) is taken in as a posting: it names the account that pays (the user's
// default account, or the only one they may charge) and the revenue account of the instrument's
// lab, and waits out a review window in which the instrument's admins may adjust it with a reason.
// Confirmed, it belongs to a month: the month it ended in (site zone), or, when that month is
// closed already, the first open month after it. A prepaid (deposit) payer is charged at once; grant
// and credit payers are charged by the monthly settlement, one ledger transfer per (payer, lab
// revenue) and month, and a statement per account and month, locked when the month closes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lg::server::settlement {

enum class PostingState {
  review,     ///< in its review window (or waiting for an account)
  confirmed,  ///< confirmed; charged by its month's settlement
  posted,     ///< charged to the ledger (prepaid at confirmation, or its month settled)
};

const char* to_string(PostingState s);
std::optional<PostingState> posting_state_from(std::string_view s);

/// What settlement knows of a charge when it takes it in.
struct ChargeFacts {
  std::string charge;
  std::string user;
  std::string instrument;
  std::string lab;   ///< the instrument's lab ("" unknown)
  std::string unit;  ///< the lab's unit
  std::string category;
  std::string currency;
  int64_t amount_fen = 0;
  int64_t end_ms = 0;
};

/// One charge on its way to the ledger.
struct Posting {
  std::string charge;
  std::string user;
  std::string instrument;
  std::string category;
  std::string currency;
  int64_t charged_fen = 0;  ///< as the fee standard priced it
  int64_t amount_fen = 0;   ///< what is charged (after an adjustment)
  std::string account;      ///< the payer ("" = none found yet: it stays in review)
  std::string revenue;      ///< the lab's revenue account
  PostingState state = PostingState::review;
  int64_t end_ms = 0;
  std::string month;        ///< "YYYY-MM" once confirmed
  int64_t review_until_ms = 0;
  std::string adjusted_by;
  std::string reason;       ///< why it was adjusted
  std::optional<int64_t> confirmed_ms{};
  std::optional<int64_t> posted_ms{};
};

/// One account's statement of a month (monthly payers).
struct Statement {
  std::string id;  ///< "<account>:<YYYY-MM>"
  std::string account;
  std::string month;
  std::string currency;
  std::string project_code;
  int64_t total_fen = 0;
  int64_t charges = 0;
  int64_t closed_ms = 0;
  std::optional<int64_t> paid_ms{};
  std::string paid_ref;  ///< the finance record that matched it
};

/// One part of a statement: what it owes one lab's revenue account (a voucher line).
struct StatementPart {
  std::string statement;
  std::string revenue;
  int64_t total_fen = 0;
  int64_t charges = 0;
};

/// A closed month.
struct MonthClose {
  std::string month;
  int64_t closed_ms = 0;
  std::string by;
  int64_t charges = 0;
  int64_t total_fen = 0;
  int64_t statements = 0;
};

/// One total of a month's confirmed monthly postings (what GROUP BY gives).
struct MonthTotal {
  std::string account;
  std::string revenue;
  std::string currency;
  int64_t charges = 0;
  int64_t total_fen = 0;
};

/// One row of the finance system's records (平账 input).
struct FinanceRow {
  int64_t line = 0;
  std::string ref;        ///< the finance voucher / transfer number
  std::string statement;  ///< the statement id it pays (or "<project_code>:<month>")
  int64_t amount_fen = 0;
};

enum class MatchOutcome { matched, amount_mismatch, unknown_statement, already_paid, duplicate, not_closed };
const char* to_string(MatchOutcome o);
std::optional<MatchOutcome> match_outcome_from(std::string_view s);

struct MatchResult {
  FinanceRow row;
  MatchOutcome outcome = MatchOutcome::unknown_statement;
  std::string statement;  ///< the statement it names, when found
  int64_t expected_fen = 0;
  std::string detail;
};

/// Allocation rule (拨款): shares of a lab's collected revenue, in basis points (1/100 of a per
/// cent); what is left stays with the lab (its maintenance fund).
struct AllocationRule {
  int64_t unit_bp = 3000;      ///< to the unit's revenue account
  int64_t platform_bp = 1000;  ///< to the platform
};

/// Settlement settings ([settlement] in the server config).
struct Policy {
  int64_t review_hours = 72;  ///< how long an instrument admin may adjust a charge
  int32_t settle_day = 3;     ///< the server settles last month on this day of the month (0 = by hand only)
  AllocationRule allocation{};
};

}  // namespace lg::server::settlement
