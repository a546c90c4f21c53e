// The audit store on SQLite.
#pragma once

#include <span>

#include "server/audit/store.hpp"
#include "server/core/sqlite_db.hpp"

namespace lg::server::audit {

/// The audit area's numbered SQLite migrations (no references: it may come last).
std::span<const db::Migration> migrations();

class SqliteStore final : public Store {
 public:
  explicit SqliteStore(SqliteDb& db) : db_(db) {}
  Result<Entry> append(const Context& ctx, const Change& c, int64_t now_ms) override;
  Result<PageOf<Entry>> list(const Filter& f) override;
  Result<std::vector<Entry>> chain(uint64_t after_seq, int64_t limit) override;

 private:
  SqliteDb& db_;
};

}  // namespace lg::server::audit
