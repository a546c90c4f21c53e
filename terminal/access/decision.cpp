#include "access/decision.hpp"

#include <algorithm>

#include "labgate/common/time.hpp"

namespace lg::terminal {

using proto::Decision;
using proto::Reason;

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

bool staffed_at(const proto::Policy& policy, int64_t now_ms) {
  if (!policy.staffed_hours) return true;
  for (const auto& c : policy.closed)
    if (c.start_ms <= now_ms && now_ms < c.end_ms) return false;
  auto lt = time::local_time(now_ms, policy.zone);
  if (!lt) return false;  // the decoder refused unknown zones; never guess staff into being
  const auto minute = static_cast<int32_t>(lt->ms_of_day / 60000);
  return std::any_of(policy.staffed_hours->begin(), policy.staffed_hours->end(), [&](const proto::WeekSpan& w) {
    return w.day == static_cast<int32_t>(lt->weekday) && w.from_min <= minute && minute < w.to_min;
  });
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

  const std::string card = acl.card_ref(in.card);  // its keyed digest: the bundle names no uid
  const proto::Grant* g = acl.find_grant_ref(card);
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

  if (!g) {
    // A lost or revoked card, or a suspended holder's, is refused with its own reason.
    if (const proto::Denial* d = acl.find_denial_ref(card)) {
      r.user = d->user;
      return denied(d->reason);
    }
    return denied(Reason::unknown_card);
  }
  if (!grant_valid_at(*g, in.now_ms)) return denied(Reason::not_valid_now);
  if (g->admin) return granted(Reason::admin);
  // Under maintenance, disabled or to be scrapped: only admins (who service it) get in.
  if (acl.status != proto::ResourceStatus::normal) return denied(Reason::instrument_unavailable);

  // Levels (docs/TERMINAL.md, "Levels"): below after_hours only while staff are on duty, and a
  // supervised holder only in a booking an admin marked staffed.
  if (g->level != proto::Level::after_hours && !staffed_at(acl.policy, in.now_ms)) return denied(Reason::outside_hours);
  const proto::BookingSlot* b = covering_booking(acl, g->user, in.now_ms);
  if (g->level == proto::Level::supervised && !(b && b->staffed)) return denied(Reason::needs_staff);
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

}  // namespace lg::terminal
