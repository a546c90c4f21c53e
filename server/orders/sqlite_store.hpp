// The sample orders' store on SQLite.
#pragma once

#include <span>

#include "server/core/sqlite_db.hpp"
#include "server/orders/store.hpp"

namespace lg::server::orders {

/// The orders' numbered migrations (after usage's: an order links a usage session by id).
std::span<const db::Migration> migrations();

class SqliteStore final : public Store {
 public:
  explicit SqliteStore(SqliteDb& db) : db_(db) {}
  Status insert(const Order& o) override;
  Result<std::optional<Order>> get(const std::string& id) override;
  Result<PageOf<Order>> list(const Filter& f) override;
  Status update(const Order& o) override;
  Status add_event(const Event& e) override;
  Result<std::vector<Event>> events(const std::string& order) override;
  Status add_attachment(const Attachment& a) override;
  Result<std::vector<Attachment>> attachments(const std::string& order) override;
  Result<std::optional<Attachment>> attachment(const std::string& order, const std::string& id) override;
  Result<std::optional<LinkedSession>> session(const std::string& id) override;

 private:
  /// Reads the fee lines of o (by line number).
  Status load_fee_lines(Order& o);
  SqliteDb& db_;
};

}  // namespace lg::server::orders
