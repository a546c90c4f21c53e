// The billing store on PostgreSQL.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "server/billing/store.hpp"
#include "server/core/pg_db.hpp"

namespace lg::server::billing {

/// Billing's numbered PostgreSQL migrations (after usage's: a charge references its session).
std::span<const db::Migration> pg_migrations();

class PgStore final : public Store {
 public:
  explicit PgStore(PgDb& db) : db_(db) {}
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
  PgDb& db_;
};

/// Row reader the usage area's PostgreSQL store shares (sessions with their charge).
namespace pgrows {
/// Charge columns (table alias c), in the order charge() reads them.
inline constexpr std::string_view kChargeCols =
    "c.id, c.session, c.instrument, c.user_id, c.category, c.rate_fen_per_hour, c.duration_ms, c.amount_fen, "
    "c.currency, c.flags, c.end_ms, c.fee_version, c.lines";
/// The charge in row i from column c.
Charge charge(const pg::Rows& r, int i, int c);
}  // namespace pgrows

}  // namespace lg::server::billing
