// The sync store on SQLite (bundles live in the terminals table; the inputs are read from the
// directory, qualification and booking tables in one read transaction).
#pragma once

#include "server/core/sqlite_db.hpp"
#include "server/sync/store.hpp"

namespace lg::server::sync {

class SqliteStore final : public Store {
 public:
  explicit SqliteStore(SqliteDb& db) : db_(db) {}
  Result<Inputs> inputs(const Terminal& t, int64_t now_ms) override;
  Result<StoredSync> stored(const std::string& terminal) override;
  Status save(const std::string& terminal, const StoredSync& s) override;

 private:
  SqliteDb& db_;
};

}  // namespace lg::server::sync
