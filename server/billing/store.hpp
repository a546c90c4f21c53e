// The billing store: fee standards and charges.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "labgate/common/result.hpp"
#include "server/billing/model.hpp"
#include "server/core/paging.hpp"

namespace lg::server::billing {

class Store {
 public:
  virtual ~Store() = default;
  /// Sets (creates or replaces) the instrument's hourly fee standard; unknown_reference when
  /// the instrument is unknown.
  virtual Status put_fee_standard(const FeeStandard& f, int64_t now_ms) = 0;
  /// Fee standards by (instrument), ascending.
  virtual Result<PageOf<FeeStandard>> fee_standards(const Page& p) = 0;
  /// The instrument's fee standard, nullopt if none.
  virtual Result<std::optional<FeeStandard>> fee(const std::string& instrument) = 0;
  /// Stores a charge (id set). At most one charge per session is ever stored: a second one for
  /// the same session is not stored and the call returns false (a guard behind the close-once
  /// rule, not the rule itself).
  virtual Result<bool> insert_charge(const Charge& c, int64_t now_ms) = 0;
  /// Charges whose session ended in [from_ms, to_ms), by (end_ms, id) ascending.
  virtual Result<PageOf<Charge>> charges(int64_t from_ms, int64_t to_ms, const Page& p = {}) = 0;
};

}  // namespace lg::server::billing
