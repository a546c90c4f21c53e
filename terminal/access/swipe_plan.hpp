// What a swipe does on an output: a decision combined with the output's kind and the session
// open on it. Pure.
#pragma once

#include <optional>

#include "labgate/common/card_uid.hpp"
#include "labgate/common/protocol.hpp"

#include "access/decision.hpp"

namespace lg::terminal {

/// What a swipe does given the output and the session currently open on it.
enum class SwipeAction {
  start,     ///< open a session (latching output)
  end,       ///< end the open session (holder swiped out, or admin card)
  pulse,     ///< momentary output: pulse the coil
  deny,      ///< nothing switches
};

struct SwipePlan {
  SwipeAction action = SwipeAction::deny;
  DecisionResult result;  ///< what gets recorded in the Access record
  proto::EndReason end_reason = proto::EndReason::swipe_out;  ///< when action == end
};

/// Combines a decision with the output state. `open_session_card` is the card holding the open
/// session on a latching output (nullopt when none); `pulse` is true for momentary outputs.
/// Rules: the holder's card always ends its own session (reason swipe_out); an admin card that
/// is granted ends someone else's session (end reason admin); any other card is denied in_use.
SwipePlan plan_swipe(const DecisionResult& decided, const CardUid& card,
                     const std::optional<CardUid>& open_session_card, bool pulse);

}  // namespace lg::terminal
