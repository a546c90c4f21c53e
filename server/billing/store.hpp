// The billing store: fee standards and charges.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

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
  /// Retires an instrument's fee standard: it stays (listed with its retirement) and charges
  /// nothing from then on; a new one set later replaces it. not_found when the instrument has
  /// none, conflict when it is retired already. Returns it as stored before.
  virtual Result<FeeStandard> retire_fee_standard(const std::string& instrument, int64_t now_ms) = 0;
  /// The fee standards of the given instruments, in one read: every asked instrument is a key,
  /// nullopt when it has none (repeats are asked once).
  virtual Result<std::map<std::string, std::optional<FeeStandard>>> fees(std::span<const std::string> instruments) = 0;
  /// Stores charges (ids set), in one write; returns the ids of those stored. At most one charge
  /// per session is ever stored: one for a session that already has a charge is not stored
  /// (a guard behind the close-once rule, not the rule itself).
  virtual Result<std::vector<std::string>> insert_charges(std::span<const Charge> charges, int64_t now_ms) = 0;
  /// Charges whose session ended in [from_ms, to_ms), by (end_ms, id) ascending.
  virtual Result<PageOf<Charge>> charges(int64_t from_ms, int64_t to_ms, const Page& p = {}) = 0;
};

}  // namespace lg::server::billing
