// The qualifications' store on PostgreSQL.
#pragma once

#include <span>

#include "server/core/pg.hpp"
#include "server/core/pg_db.hpp"
#include "server/qualification/store.hpp"

namespace lg::server::qualification {

/// The qualifications' numbered PostgreSQL migrations.
std::span<const db::Migration> pg_migrations();

class PgStore final : public Store {
 public:
  explicit PgStore(PgDb& db) : db_(db) {}
  Status put(const Qualification& q, int64_t now_ms) override;
  Result<PageOf<Qualification>> list(const Page& p) override;
  Result<std::optional<Qualification>> get(const std::string& user, const std::string& instrument) override;
  Result<std::vector<Qualification>> on_instrument(const std::string& instrument) override;
  Result<std::optional<int64_t>> last_use(const std::string& user, const std::string& instrument) override;
  Result<std::vector<Qualification>> ending(int64_t from_ms, int64_t to_ms) override;

 private:
  PgDb& db_;
};


/// Row reader other areas' PostgreSQL stores share (same table, same columns).
namespace pgrows {
/// Columns read by qualification(), in its order.
inline constexpr std::string_view kCols = "user_id, instrument, valid_from_ms, valid_until_ms, level, source";
Qualification qualification(const pg::Rows& r, int i);
}  // namespace pgrows

}  // namespace lg::server::qualification
