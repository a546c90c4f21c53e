// The decision engine: a pure function from (cached ACL, link state, time, output fail mode,
// card) to a decision. No I/O, no clocks: every input is a parameter so unit tests drive it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "labgate/common/board.hpp"
#include "labgate/common/protocol.hpp"

namespace lg::terminal {

/// What the terminal knows from the last applied sync bundle (version 0 = never synced).
struct AclSnapshot {
  uint64_t version = 0;
  std::string resource;
  proto::Policy policy;
  std::vector<proto::Grant> grants;
  std::vector<proto::BookingSlot> bookings;

  /// Builds a snapshot from a verified bundle.
  static AclSnapshot from_bundle(const proto::SyncBundle& b);
  /// The grant for a (normalized) card, or nullptr.
  const proto::Grant* find_grant(const std::string& card) const;
};

enum class Link { online, offline };

struct DecisionInput {
  const AclSnapshot* acl = nullptr;     ///< nullptr is treated like version 0 (no ACL)
  Link link = Link::offline;
  std::optional<int64_t> last_sync_ms;  ///< wall ms of the last successful sync, if any
  board::FailMode fail_mode = board::FailMode::closed;
  int64_t now_ms = 0;                   ///< wall clock, UTC ms
  std::string card;                     ///< normalized card uid
};

struct DecisionResult {
  proto::Decision decision = proto::Decision::denied;
  proto::Reason reason = proto::Reason::unknown_card;
  proto::Mode mode = proto::Mode::offline;
  uint64_t acl_version = 0;
  std::string user;                  ///< "" when the card is unknown
  std::string booking;               ///< booking id covering now, or ""
  bool admin = false;                ///< the card holds an admin grant (honoured or not)
  /// The session must end by then (wall ms: a booking's end + grace, an instant); empty = none.
  std::optional<int64_t> max_end_ms;
  /// The session must end after running this long (policy.max_session_s, measured with the
  /// monotonic clock, so a wall-clock step never shortens or stretches it); empty = no limit.
  std::optional<int64_t> max_duration_ms;

  bool granted() const { return decision == proto::Decision::granted; }
};

/// True when cached grants may be used: online, or offline within policy.offline_grace_s of the
/// last sync.
bool cache_fresh(const AclSnapshot& acl, Link link, std::optional<int64_t> last_sync_ms, int64_t now_ms);

/// True when the grant's qualification window [valid_from, valid_until) contains now.
bool grant_valid_at(const proto::Grant& g, int64_t now_ms);

/// The booking of `user` that covers now (start - early_start_s <= now < end), earliest first;
/// nullptr if none.
const proto::BookingSlot* covering_booking(const AclSnapshot& acl, const std::string& user, int64_t now_ms);

/// Decides whether `in.card` may use the resource now. Pure.
DecisionResult decide(const DecisionInput& in);

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
SwipePlan plan_swipe(const DecisionResult& decided, const std::string& card,
                     const std::optional<std::string>& open_session_card, bool pulse);

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
