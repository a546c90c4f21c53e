// The directory's rules: which user status changes are allowed, and what a card's end means.
// Pure: plain values in, a decision out.
#pragma once

#include <string>

#include "server/directory/model.hpp"

namespace lg::server::directory {

/// Whether a user may go from one status to another:
///   pending   -> active (approved) | left (refused)
///   active    -> suspended | left
///   suspended -> active | left
///   left      -> nothing (a departed user's history stays; a returning person is re-activated
///                by an admin as active only through a new account)
/// Staying in the same status is not a change (false).
bool status_change_allowed(UserStatus from, UserStatus to);

/// The error text for a refused change, naming both statuses.
std::string status_change_refusal(UserStatus from, UserStatus to);

/// Whether a card may be ended with this status (lost, revoked or replaced; not active).
bool is_end_status(CardStatus s);

}  // namespace lg::server::directory
