// The billing store on SQLite.
#pragma once

#include <span>

#include "server/billing/store.hpp"
#include "server/core/sqlite_db.hpp"

namespace lg::server::billing {

/// Billing's numbered migrations (after usage's: a charge references its session).
std::span<const db::Migration> migrations();

class SqliteStore final : public Store {
 public:
  explicit SqliteStore(SqliteDb& db) : db_(db) {}
  Status put_fee_standard(const FeeStandard& f, int64_t now_ms) override;
  Result<PageOf<FeeStandard>> fee_standards(const Page& p) override;
  Result<FeeStandard> retire_fee_standard(const std::string& instrument, int64_t now_ms) override;
  Result<std::map<std::string, std::optional<FeeStandard>>> fees(std::span<const std::string> instruments) override;
  Result<std::vector<std::string>> insert_charges(std::span<const Charge> charges, int64_t now_ms) override;
  Result<PageOf<Charge>> charges(int64_t from_ms, int64_t to_ms, const Page& p = {}) override;

 private:
  SqliteDb& db_;
};

namespace rows {
/// Charge columns (table alias c), in the order charge() reads them.
inline constexpr std::string_view kChargeCols =
    "c.id, c.session, c.instrument, c.user, c.category, c.rate_fen_per_hour, c.duration_ms, c.amount_fen, "
    "c.currency, c.flags, c.end_ms";
Charge charge(db::Statement& r, int c);
}  // namespace rows

}  // namespace lg::server::billing
