// The reports' store on PostgreSQL: read-only queries in their own READ ONLY snapshot, which
// never blocks ingest (MVCC).
#pragma once

#include <cstdint>

#include "server/core/pg_db.hpp"
#include "server/reports/store.hpp"

namespace lg::server::reports {

class PgStore final : public Store {
 public:
  /// hold_ms keeps each report's read transaction open this much longer (0 in production; the
  /// integration test of a long report sets [testing] report_hold_ms).
  explicit PgStore(PgDb& db, int64_t hold_ms = 0) : db_(db), hold_ms_(hold_ms) {}
  Result<std::vector<report::GroupSum>> usage_groups(report::GroupBy by, int64_t from_ms, int64_t to_ms) override;
  Result<report::GroupSum> usage_total(int64_t from_ms, int64_t to_ms) override;

 private:
  void hold() const;
  PgDb& db_;
  int64_t hold_ms_;
};

}  // namespace lg::server::reports
