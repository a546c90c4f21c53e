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
  Status put_fee_standard(const FeeStandard& f, int64_t now_ms, const std::string& who = "import") override;
  Result<PageOf<FeeStandard>> fee_standards(const Page& p) override;
  Result<FeeStandard> retire_fee_standard(const std::string& instrument, int64_t now_ms) override;
  Result<std::map<std::string, std::optional<FeeStandard>>> fees(std::span<const std::string> instruments) override;
  Result<std::vector<std::string>> insert_charges(std::span<const Charge> charges, int64_t now_ms) override;
  Result<PageOf<Charge>> charges(int64_t from_ms, int64_t to_ms, const Page& p = {}) override;
  Result<FeeVersion> create_version(const FeeVersion& v, const FeeStep& step) override;
  Result<std::optional<FeeVersion>> version(const std::string& id) override;
  Result<std::vector<FeeVersion>> versions(const std::string& instrument) override;
  Result<std::vector<FeeStep>> steps(const std::string& version) override;
  Status update_draft(const FeeVersion& v, const FeeStep& step) override;
  Status move(const std::string& id, FeeState from, FeeState to, std::optional<int64_t> effective_from_ms,
              const FeeStep& step) override;
  Result<std::map<std::string, std::vector<FeeVersion>>> published(std::span<const std::string> instruments) override;

 private:
  SqliteDb& db_;
};

namespace rows {
/// Charge columns (table alias c), in the order charge() reads them.
inline constexpr std::string_view kChargeCols =
    "c.id, c.session, c.instrument, c.user, c.category, c.rate_fen_per_hour, c.duration_ms, c.amount_fen, "
    "c.currency, c.flags, c.end_ms, c.fee_version, c.lines";
Charge charge(db::Statement& r, int c);
}  // namespace rows

}  // namespace lg::server::billing
