#include "access/swipe_plan.hpp"

namespace lg::terminal {

using proto::Decision;
using proto::Reason;

SwipePlan plan_swipe(const DecisionResult& decided, const CardUid& card,
                     const std::optional<CardUid>& open_session_card, bool pulse) {
  SwipePlan p;
  p.result = decided;
  if (pulse) {
    p.action = decided.granted() ? SwipeAction::pulse : SwipeAction::deny;
    return p;
  }
  if (!open_session_card) {
    p.action = decided.granted() ? SwipeAction::start : SwipeAction::deny;
    return p;
  }
  if (*open_session_card == card) {
    // The holder may always end their own session, whatever the cache says now.
    p.action = SwipeAction::end;
    p.end_reason = proto::EndReason::swipe_out;
    p.result.decision = Decision::granted;
    p.result.reason = Reason::swipe_out;
    p.result.max_end_ms.reset();
    p.result.max_duration_ms.reset();
    return p;
  }
  if (decided.granted() && decided.reason == Reason::admin) {
    p.action = SwipeAction::end;
    p.end_reason = proto::EndReason::admin;
    p.result.max_end_ms.reset();
    p.result.max_duration_ms.reset();
    return p;
  }
  p.action = SwipeAction::deny;
  p.result.decision = Decision::denied;
  p.result.reason = Reason::in_use;
  p.result.booking.clear();
  p.result.max_end_ms.reset();
  p.result.max_duration_ms.reset();
  return p;
}

}  // namespace lg::terminal
