// The decision engine: a pure function from (cached ACL, link state, time, output fail mode,
// card) to a decision. No I/O, no clocks: every input is a parameter so unit tests drive it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "labgate/common/board.hpp"
#include "labgate/common/card_uid.hpp"
#include "labgate/common/protocol.hpp"

#include "acl/snapshot.hpp"

namespace lg::terminal {

enum class Link { online, offline };

struct DecisionInput {
  const AclSnapshot* acl = nullptr;     ///< nullptr is treated like version 0 (no ACL)
  Link link = Link::offline;
  std::optional<int64_t> last_sync_ms;  ///< wall ms of the last successful sync, if any
  board::FailMode fail_mode = board::FailMode::closed;
  int64_t now_ms = 0;                   ///< wall clock, UTC ms
  CardUid card;
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

/// True when staff are on duty at now_ms by the policy: no staffed_hours (a bundle from before
/// levels) means always; a closed span (holiday, blackout) means not; else now's local weekday
/// and minute in policy.zone fall in one of the spans. Pure but for the time zone database.
bool staffed_at(const proto::Policy& policy, int64_t now_ms);

/// Decides whether `in.card` may use the resource now. Pure.
DecisionResult decide(const DecisionInput& in);

}  // namespace lg::terminal
