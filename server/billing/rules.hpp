// The charge rule: what a finished session costs. Integer fen only, never floating point.
// (Charge-once is usage::close_session: a session is closed, and so charged, by one end record.)
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "labgate/common/defaults.hpp"
#include "server/billing/model.hpp"
#include "server/directory/model.hpp"

namespace lg::server::billing {

inline constexpr int64_t kMsPerHour = defaults::kMsPerHour;

/// amount_fen = round-half-up(duration_ms * rate_fen_per_hour / 3'600'000), computed with
/// integer arithmetic only. nullopt when an input is negative or the result overflows int64.
std::optional<int64_t> amount_fen(int64_t duration_ms, int64_t rate_fen_per_hour);

/// The hourly rate that applies to a user of the given category.
int64_t rate_for(const FeeStandard& fee, UserCategory category);

/// What billing knows about a finished session.
struct ChargeInput {
  std::string session;
  std::string instrument;
  int64_t duration_ms = 0;  ///< monotonic duration from the terminal (authoritative)
  int64_t end_ms = 0;
  std::optional<User> user;        ///< empty = unknown user
  std::optional<FeeStandard> fee;  ///< empty = no fee standard for the instrument
  std::string default_currency{defaults::kCurrency};
};

/// Builds the charge for a finished session (id left empty). A session with an unknown user or
/// no fee standard is charged 0 and flagged "unknown_user" / "no_fee_standard", never dropped;
/// a negative duration counts as 0 and is flagged "negative_duration".
Charge make_charge(const ChargeInput& in);

}  // namespace lg::server::billing
