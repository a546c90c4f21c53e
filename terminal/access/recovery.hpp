// Crash recovery rules: whether a session found open at start-up may continue. Pure.
#pragma once

#include <cstdint>
#include <optional>

#include "access/decision.hpp"

namespace lg::terminal {

/// Whether a session found open at start-up may continue: its limits have not run out (stored
/// max end, an instant, against now; stored max duration against the session's elapsed time)
/// and the card's decision now grants, or it is denied only because its booking ended but the
/// stored max end (booking end + grace) is still ahead. Returns the limits to enforce when it
/// may continue: a booked decision brings its own; otherwise a recovered session never gets a
/// later limit than it had.
struct RecoveryVerdict {
  bool keep = false;
  std::optional<int64_t> max_end_ms;
  std::optional<int64_t> max_duration_ms;
};
RecoveryVerdict recovery_verdict(const DecisionResult& now_decision, std::optional<int64_t> stored_max_end_ms,
                                 std::optional<int64_t> stored_max_duration_ms, int64_t elapsed_ms, int64_t now_ms);

}  // namespace lg::terminal
