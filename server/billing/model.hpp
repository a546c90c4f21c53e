// Fee standards and charges: money in integer fen, never floating point. Plain data.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "labgate/common/defaults.hpp"

namespace lg::server {

/// One hourly fee standard per instrument; rates in integer fen per hour.
struct FeeStandard {
  std::string instrument;
  int64_t internal_fen_per_hour = 0;
  int64_t external_fen_per_hour = 0;
  std::string currency{defaults::kCurrency};
  std::optional<int64_t> retired_ms{};  ///< retired (DELETE): kept, charges nothing from then on
};

struct Charge {
  std::string id;
  std::string session;
  std::string instrument;
  std::string user;      ///< "" = unknown user
  std::string category;  ///< "" when the user is unknown
  int64_t rate_fen_per_hour = 0;
  int64_t duration_ms = 0;
  int64_t amount_fen = 0;
  std::string currency;
  std::vector<std::string> flags;  ///< "unknown_user", "no_fee_standard", "overflow"
  int64_t end_ms = 0;
};

}  // namespace lg::server
