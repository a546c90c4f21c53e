#include "access/recovery.hpp"

#include <algorithm>

namespace lg::terminal {

using proto::Reason;

namespace {
/// The earlier of two limits, where empty means none.
std::optional<int64_t> earlier(std::optional<int64_t> a, std::optional<int64_t> b) {
  if (!a) return b;
  if (!b) return a;
  return std::min(*a, *b);
}
}  // namespace

RecoveryVerdict recovery_verdict(const DecisionResult& now_decision, std::optional<int64_t> stored_max_end_ms,
                                 std::optional<int64_t> stored_max_duration_ms, int64_t elapsed_ms, int64_t now_ms) {
  RecoveryVerdict v;
  if (stored_max_end_ms && now_ms >= *stored_max_end_ms) return v;  // its time ran out meanwhile
  if (stored_max_duration_ms && elapsed_ms >= *stored_max_duration_ms) return v;
  if (now_decision.granted()) {
    v.keep = true;
    if (now_decision.reason == Reason::booked) {
      v.max_end_ms = now_decision.max_end_ms;
      v.max_duration_ms = now_decision.max_duration_ms;
    } else {
      // never extend a non-booking limit by recovering
      v.max_end_ms = earlier(now_decision.max_end_ms, stored_max_end_ms);
      v.max_duration_ms = earlier(now_decision.max_duration_ms, stored_max_duration_ms);
    }
    return v;
  }
  if (now_decision.reason == Reason::no_booking && stored_max_end_ms) {
    v.keep = true;  // booking ended but still within its grace period
    v.max_end_ms = stored_max_end_ms;
    v.max_duration_ms = stored_max_duration_ms;
  }
  return v;
}

}  // namespace lg::terminal
