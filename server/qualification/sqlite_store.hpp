// The qualifications' store on SQLite.
#pragma once

#include <span>

#include "server/core/sqlite_db.hpp"
#include "server/qualification/store.hpp"

namespace lg::server::qualification {

/// The qualifications' numbered migrations.
std::span<const db::Migration> migrations();

class SqliteStore final : public Store {
 public:
  explicit SqliteStore(SqliteDb& db) : db_(db) {}
  Status put(const Qualification& q, int64_t now_ms) override;
  Result<PageOf<Qualification>> list(const Page& p) override;
  Result<std::optional<Qualification>> get(const std::string& user, const std::string& instrument) override;
  Result<std::vector<Qualification>> on_instrument(const std::string& instrument) override;
  Result<std::optional<int64_t>> last_use(const std::string& user, const std::string& instrument) override;
  Result<std::vector<Qualification>> ending(int64_t from_ms, int64_t to_ms) override;

 private:
  SqliteDb& db_;
};

/// Row reader other areas' SQLite stores share (same table, same columns).
namespace rows {
/// Columns read by qualification(), in its order.
inline constexpr std::string_view kCols = "user, instrument, valid_from_ms, valid_until_ms, level, source";
Qualification qualification(db::Statement& r);
}  // namespace rows

}  // namespace lg::server::qualification
