// The conduct store on SQLite.
#pragma once

#include <span>

#include "server/conduct/store.hpp"
#include "server/core/sqlite_db.hpp"

namespace lg::server::conduct {

/// The conduct area's numbered migrations (after booking's and usage's: it reads their tables).
std::span<const db::Migration> migrations();

class SqliteStore final : public Store {
 public:
  explicit SqliteStore(SqliteDb& db) : db_(db) {}
  Result<std::vector<BookingFacts>> due(int64_t from_ms, int64_t to_ms, int32_t limit) override;
  Status settle(const std::string& booking, int64_t now_ms) override;
  Result<bool> insert(const Event& e) override;
  Status update(const Event& e) override;
  Result<std::optional<Event>> get(const std::string& id) override;
  Result<std::vector<Event>> of_user(const std::string& user) override;
  Result<std::vector<Event>> of_booking(const std::string& booking) override;
  Result<std::vector<Event>> recent(const std::string& instrument, int64_t from_ms, int64_t to_ms,
                                    int32_t limit) override;
  Status add_block(const Block& b) override;
  Result<std::optional<Block>> latest_block(const std::string& user) override;
  Status update_block(const Block& b) override;
  Result<std::vector<Block>> ended_unnotified(int64_t now_ms, int32_t limit) override;
  Result<std::vector<std::string>> site_admins() override;

 private:
  Result<std::vector<Event>> events_where(const std::string& where, const std::function<void(db::Statement&)>& bind);
  SqliteDb& db_;
};

}  // namespace lg::server::conduct
