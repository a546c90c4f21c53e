// The sync store on PostgreSQL (bundles live in the terminals table; the inputs are read from
// the directory, qualification and booking tables in one REPEATABLE READ snapshot).
#pragma once

#include "server/core/pg_db.hpp"
#include "server/sync/store.hpp"

namespace lg::server::sync {

class PgStore final : public Store {
 public:
  explicit PgStore(PgDb& db) : db_(db) {}
  Result<Inputs> inputs(const Terminal& t, int64_t now_ms) override;
  Result<StoredSync> stored(const std::string& terminal) override;
  Status save(const std::string& terminal, const StoredSync& s) override;

 private:
  PgDb& db_;
};

}  // namespace lg::server::sync
