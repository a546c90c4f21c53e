#include "decision.hpp"

#include <algorithm>

namespace lg::terminal {

using proto::Decision;
using proto::Reason;

AclSnapshot AclSnapshot::from_bundle(const proto::SyncBundle& b) {
  AclSnapshot s;
  s.version = b.version;
  s.resource = b.resource;
  s.policy = b.policy;
  s.grants = b.grants;  // decode_sync_bundle gave the canonical card form (CardUid)
  s.bookings = b.bookings;
  return s;
}

const proto::Grant* AclSnapshot::find_grant(const std::string& card) const {
  for (const auto& g : grants)
    if (g.card == card) return &g;
  return nullptr;
}

bool cache_fresh(const AclSnapshot& acl, Link link, std::optional<int64_t> last_sync_ms, int64_t now_ms) {
  if (acl.version == 0) return false;
  if (link == Link::online) return true;
  if (!last_sync_ms) return false;
  return now_ms - *last_sync_ms <= acl.policy.offline_grace_s * 1000;
}

bool grant_valid_at(const proto::Grant& g, int64_t now_ms) {
  if (now_ms < g.valid_from_ms) return false;
  if (g.valid_until_ms && now_ms >= *g.valid_until_ms) return false;
  return true;
}

const proto::BookingSlot* covering_booking(const AclSnapshot& acl, const std::string& user, int64_t now_ms) {
  const proto::BookingSlot* best = nullptr;
  const int64_t early = acl.policy.early_start_s * 1000;
  for (const auto& b : acl.bookings) {
    if (b.user != user) continue;
    if (now_ms < b.start_ms - early || now_ms >= b.end_ms) continue;
    if (!best || b.start_ms < best->start_ms) best = &b;
  }
  return best;
}

namespace {

std::optional<int64_t> session_limit(const proto::Policy& p) {
  if (p.max_session_s > 0) return p.max_session_s * 1000;
  return std::nullopt;
}

}  // namespace

DecisionResult decide(const DecisionInput& in) {
  static const AclSnapshot kEmpty{};
  const AclSnapshot& acl = in.acl ? *in.acl : kEmpty;
  DecisionResult r;
  r.mode = in.link == Link::online ? proto::Mode::online : proto::Mode::offline;
  r.acl_version = acl.version;
  const bool fail_open = in.fail_mode == board::FailMode::open;

  auto granted = [&](Reason reason) {
    r.decision = Decision::granted;
    r.reason = reason;
    return r;
  };
  auto denied = [&](Reason reason) {
    r.decision = Decision::denied;
    r.reason = reason;
    return r;
  };

  if (acl.version == 0) {
    // Never synced: the terminal cannot decide at all.
    if (fail_open) return granted(Reason::fail_open);
    return denied(Reason::no_acl);
  }

  const proto::Grant* g = acl.find_grant(in.card);
  if (g) {
    r.user = g->user;
    r.admin = g->admin;
  }

  if (!cache_fresh(acl, in.link, in.last_sync_ms, in.now_ms)) {
    // Offline beyond the grace age: only admin cards are honoured from the cache.
    if (g && g->admin && grant_valid_at(*g, in.now_ms)) return granted(Reason::admin);
    if (fail_open) {
      r.max_duration_ms = session_limit(acl.policy);
      return granted(Reason::fail_open);
    }
    return denied(Reason::cache_expired);
  }

  if (!g) return denied(Reason::unknown_card);
  if (!grant_valid_at(*g, in.now_ms)) return denied(Reason::not_valid_now);
  if (g->admin) return granted(Reason::admin);

  const proto::BookingSlot* b = covering_booking(acl, g->user, in.now_ms);
  if (acl.policy.require_booking) {
    if (!b) return denied(Reason::no_booking);
    r.booking = b->id;
    r.max_end_ms = b->end_ms + acl.policy.grace_after_end_s * 1000;
    return granted(Reason::booked);
  }
  // No booking required: a covering booking is still named so the server can bill against it.
  if (b) r.booking = b->id;
  r.max_duration_ms = session_limit(acl.policy);
  return granted(Reason::qualified);
}

SwipePlan plan_swipe(const DecisionResult& decided, const std::string& card,
                     const std::optional<std::string>& open_session_card, bool pulse) {
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
