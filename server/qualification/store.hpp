// The qualifications' store.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "labgate/common/result.hpp"
#include "server/core/paging.hpp"
#include "server/qualification/model.hpp"

namespace lg::server::qualification {

class Store {
 public:
  virtual ~Store() = default;
  /// Sets (creates or replaces) a user's qualification on an instrument; unknown_reference when
  /// the user or the instrument is unknown.
  virtual Status put(const Qualification& q, int64_t now_ms) = 0;
  /// All qualifications by (user, instrument), ascending.
  virtual Result<PageOf<Qualification>> list(const Page& p) = 0;
  /// The user's qualification on the instrument, nullopt if none.
  virtual Result<std::optional<Qualification>> get(const std::string& user, const std::string& instrument) = 0;
  /// When the user last used the instrument: the start of their latest session on it (the
  /// terminals' usage sessions), nullopt if never.
  virtual Result<std::optional<int64_t>> last_use(const std::string& user, const std::string& instrument) = 0;
  /// Qualifications whose valid_until is in [from_ms, to_ms), by valid_until.
  virtual Result<std::vector<Qualification>> ending(int64_t from_ms, int64_t to_ms) = 0;
  /// Every qualification on the instrument, by user.
  virtual Result<std::vector<Qualification>> on_instrument(const std::string& instrument) = 0;
};

}  // namespace lg::server::qualification
