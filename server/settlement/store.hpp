// The settlement store: postings, closed months, statements and their parts, reconciliations. It
// reads the charges (billing), the instruments' labs (directory) and the members' accounts
// (ledger); it decides nothing: settlement::Service applies the rules in one unit of work.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "labgate/common/result.hpp"
#include "server/settlement/model.hpp"
#include "server/settlement/rules.hpp"

namespace lg::server::settlement {

/// Which postings to list; "" / nullopt = any.
struct PostingFilter {
  std::optional<PostingState> state{};
  std::string account;
  std::string instrument;
  std::string user;
  std::string month;
};

/// One row of a reconciliation as stored.
struct ReconciliationRow {
  std::string reconciliation;
  MatchResult result;
};

class Store {
 public:
  virtual ~Store() = default;
  /// Charges created at or after created_from_ms that have no posting yet, oldest end first, at
  /// most limit, with their instrument's lab and unit.
  virtual Result<std::vector<ChargeFacts>> untaken(int64_t created_from_ms, int32_t limit) = 0;
  /// The accounts the user may charge (active memberships of payer accounts), with the default
  /// flag; `now_ms` decides whether each is usable (not closed, not ended).
  virtual Result<std::vector<Choice>> choices(const std::string& user, int64_t now_ms) = 0;
  /// Stores a new posting; conflict when the charge has one.
  virtual Status add_posting(const Posting& p) = 0;
  /// One posting; nullopt when the charge has none.
  virtual Result<std::optional<Posting>> posting(const std::string& charge) = 0;
  /// Stores a changed posting (amount, account, state, month, times, reason); not_found if none.
  virtual Status update_posting(const Posting& p) = 0;
  /// Postings in review whose window ended at or before due_ms and that have an account and a
  /// revenue account, oldest end first, at most limit.
  virtual Result<std::vector<Posting>> due(int64_t due_ms, int32_t limit) = 0;
  /// Postings matching the filter, newest end first, at most limit.
  virtual Result<std::vector<Posting>> postings(const PostingFilter& f, int32_t limit) = 0;
  /// The closed months.
  virtual Result<std::set<std::string>> closed_months() = 0;
  /// The totals of a month's confirmed postings by (account, revenue, currency): one aggregate.
  virtual Result<std::vector<MonthTotal>> month_totals(const std::string& month) = 0;
  /// Closes a month: its record, its statements and their parts, in the caller's unit of work;
  /// conflict when the month is closed already.
  virtual Status close_month(const MonthClose& m, const std::vector<Statement>& statements,
                             const std::vector<StatementPart>& parts) = 0;
  /// Closed months, newest first.
  virtual Result<std::vector<MonthClose>> months() = 0;
  /// Statements of a month ("" = any) and account ("" = any), by id, at most limit.
  virtual Result<std::vector<Statement>> statements(const std::string& month, const std::string& account,
                                                    int32_t limit) = 0;
  /// The statements with these ids (unknown ids are left out).
  virtual Result<std::vector<Statement>> statements_by_id(const std::vector<std::string>& ids) = 0;
  /// The parts of a month's statements, by statement then revenue.
  virtual Result<std::vector<StatementPart>> parts(const std::string& month) = 0;
  /// Marks a statement paid by a finance record.
  virtual Status mark_paid(const std::string& statement, const std::string& ref, int64_t now_ms) = 0;
  /// Stores a reconciliation and its rows.
  virtual Status add_reconciliation(const std::string& id, const std::string& by, int64_t now_ms,
                                    const std::vector<MatchResult>& rows) = 0;
  /// The rows of a reconciliation, in file order.
  virtual Result<std::vector<MatchResult>> reconciliation(const std::string& id) = 0;
};

}  // namespace lg::server::settlement
