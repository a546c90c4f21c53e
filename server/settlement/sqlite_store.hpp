// The settlement store on SQLite.
#pragma once

#include <span>

#include "server/core/sqlite_db.hpp"
#include "server/settlement/store.hpp"

namespace lg::server::settlement {

/// The settlement area's numbered migrations (after billing's and the ledger's: it reads them).
std::span<const db::Migration> migrations();

class SqliteStore final : public Store {
 public:
  explicit SqliteStore(SqliteDb& db) : db_(db) {}
  Result<std::vector<ChargeFacts>> untaken(int64_t created_from_ms, int32_t limit) override;
  Result<std::vector<Choice>> choices(const std::string& user, int64_t now_ms) override;
  Status add_posting(const Posting& p) override;
  Result<std::optional<Posting>> posting(const std::string& charge) override;
  Status update_posting(const Posting& p) override;
  Result<std::vector<Posting>> due(int64_t due_ms, int32_t limit) override;
  Result<std::vector<Posting>> postings(const PostingFilter& f, int32_t limit) override;
  Result<std::set<std::string>> closed_months() override;
  Result<std::vector<MonthTotal>> month_totals(const std::string& month) override;
  Status close_month(const MonthClose& m, const std::vector<Statement>& statements,
                     const std::vector<StatementPart>& parts) override;
  Result<std::vector<MonthClose>> months() override;
  Result<std::vector<Statement>> statements(const std::string& month, const std::string& account,
                                            int32_t limit) override;
  Result<std::vector<Statement>> statements_by_id(const std::vector<std::string>& ids) override;
  Result<std::vector<StatementPart>> parts(const std::string& month) override;
  Status mark_paid(const std::string& statement, const std::string& ref, int64_t now_ms) override;
  Status add_reconciliation(const std::string& id, const std::string& by, int64_t now_ms,
                            const std::vector<MatchResult>& rows) override;
  Result<std::vector<MatchResult>> reconciliation(const std::string& id) override;

 private:
  Result<std::vector<Posting>> postings_where(const std::string& where, const std::function<void(db::Statement&)>& bind);
  Result<std::vector<Statement>> statements_where(const std::string& where,
                                                  const std::function<void(db::Statement&)>& bind);
  SqliteDb& db_;
};

}  // namespace lg::server::settlement
