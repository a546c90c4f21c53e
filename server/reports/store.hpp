// The reports' store: sums over the charges, aggregated where the data is (memory bounded by
// the number of groups, never by the number of sessions).
#pragma once

#include <cstdint>
#include <vector>

#include "labgate/common/result.hpp"
#include "server/reports/rules.hpp"

namespace lg::server::reports {

class Store {
 public:
  virtual ~Store() = default;
  /// Sums of the charges whose session ended in [from_ms, to_ms) per instrument or per user
  /// (by is GroupBy::instrument or GroupBy::user), each with the directory name ("" when
  /// unknown), sorted by key. Every closed session has exactly one charge, so these are the
  /// usage totals.
  virtual Result<std::vector<report::GroupSum>> usage_groups(report::GroupBy by, int64_t from_ms, int64_t to_ms) = 0;
  /// The sums over all charges whose session ended in [from_ms, to_ms) (key and name "").
  virtual Result<report::GroupSum> usage_total(int64_t from_ms, int64_t to_ms) = 0;
};

}  // namespace lg::server::reports
