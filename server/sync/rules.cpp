#include "server/sync/rules.hpp"

#include <algorithm>
#include <map>

#include "labgate/common/card_uid.hpp"
#include "labgate/common/crypto.hpp"
#include "server/booking/rules.hpp"
#include "server/qualification/rules.hpp"

namespace lg::server::sync {

proto::SyncBundle build(const Inputs& in, int64_t now_ms, uint64_t version) {
  proto::SyncBundle b;
  b.card_form = proto::CardForm::uid;  // the directory's view; make_private() turns it into the wire form
  b.terminal = in.terminal;
  b.version = version;
  b.issued_ms = now_ms;
  b.resource = in.resource;
  if (in.instrument) {
    b.policy.require_booking = in.instrument->require_booking;
    b.policy.early_start_s = in.instrument->early_start_s;
    b.policy.grace_after_end_s = in.instrument->grace_after_end_s;
    b.policy.offline_grace_s = in.instrument->offline_grace_s;
    b.policy.max_session_s = in.instrument->max_session_s;
    b.status = in.instrument->status;
  }

  std::map<std::string, const User*> users;
  for (const auto& u : in.users) users[u.id] = &u;

  // user -> qualification on this resource as it holds with its lapse, unless it ended long ago
  const BookingPolicy policy = in.booking_policy ? *in.booking_policy : booking::default_policy(in.resource);
  std::map<std::string, Qualification> held;
  if (in.instrument) {
    for (const auto& q : in.qualifications) {
      if (q.instrument != in.resource) continue;
      const auto used = in.last_use.find(q.user);
      auto lapse = qualification::lapses_at(q, used == in.last_use.end() ? std::nullopt : std::optional{used->second},
                                            policy.lapse_months, in.zone);
      const Qualification eff = qualification::with_lapse(q, lapse ? *lapse : std::optional<int64_t>{now_ms});
      if (eff.valid_until_ms && *eff.valid_until_ms <= now_ms - kRecentlyExpiredMs) continue;
      held[q.user] = eff;
    }
  }
  std::map<std::string, const Qualification*> quals;
  for (const auto& [user, q] : held) quals[user] = &q;
  bool restricted = false;  // some grant's level keeps to the staffed hours

  std::map<std::string, proto::Grant> grants;    // by card
  std::map<std::string, proto::Denial> denials;  // by card
  for (const auto& c : in.cards) {
    auto uit = users.find(c.user);
    if (uit == users.end()) continue;
    const User& u = *uit->second;
    const auto q = quals.find(u.id);
    if (!u.admin && q == quals.end()) continue;  // neither admin nor qualified here: unknown to this terminal
    if (!c.active) {
      // Reported lost or revoked (the store gives recent ones only): refused with its reason.
      if (c.status == CardStatus::lost || c.status == CardStatus::revoked)
        denials[c.uid] = proto::Denial{c.uid, u.id, proto::Reason::card_revoked};
      continue;
    }
    if (u.status != UserStatus::active) {
      denials[c.uid] = proto::Denial{c.uid, u.id, proto::Reason::user_suspended};
      continue;
    }
    proto::Grant g;
    g.card = c.uid;  // stored canonical (CardUid at the API edge)
    g.user = u.id;
    g.category = to_string(u.category);
    if (u.admin) {
      g.admin = true;
    } else {
      g.valid_from_ms = q->second->valid_from_ms;
      g.valid_until_ms = q->second->valid_until_ms;
      g.level = static_cast<proto::Level>(q->second->level);
      static_assert(static_cast<int>(proto::Level::supervised) == static_cast<int>(QualificationLevel::supervised) &&
                    static_cast<int>(proto::Level::after_hours) == static_cast<int>(QualificationLevel::after_hours));
      if (g.level != proto::Level::after_hours) restricted = true;
    }
    // A temporary card ends its grant at its own end date, whichever comes first.
    if (c.valid_until_ms && (!g.valid_until_ms || *c.valid_until_ms < *g.valid_until_ms))
      g.valid_until_ms = c.valid_until_ms;
    grants[g.card] = std::move(g);
  }
  for (auto& [card, g] : grants) b.grants.push_back(std::move(g));
  for (auto& [card, d] : denials) {
    if (!grants.count(card)) b.denials.push_back(std::move(d));  // a uid issued again opens for its new holder
  }

  if (restricted) {
    b.policy.zone = in.zone;
    const WeekHours staffed = booking::staffed_hours(policy);
    b.policy.staffed_hours.emplace();
    for (int d = 0; d < 7; ++d)
      for (const DaySpan& s : staffed.days[d]) b.policy.staffed_hours->push_back(proto::WeekSpan{d + 1, s.from_min, s.to_min});
    const int64_t until = now_ms + b.policy.offline_grace_s * 1000 + kClosuresAheadMs;
    for (const Closure& c : in.closures) {
      if (c.kind == ClosureKind::maintenance) continue;  // maintenance closes the instrument, not the staff's hours
      if (!c.instrument.empty() && c.instrument != in.resource) continue;
      if (!booking::overlaps(c.start_ms, c.end_ms, now_ms - kBookingsBeforeMs, until)) continue;
      b.policy.closed.push_back(proto::Span{c.start_ms, c.end_ms});
    }
    std::sort(b.policy.closed.begin(), b.policy.closed.end(),
              [](const auto& x, const auto& y) { return x.start_ms != y.start_ms ? x.start_ms < y.start_ms : x.end_ms < y.end_ms; });
  }

  const int64_t from = now_ms - kBookingsBeforeMs;
  const int64_t to = now_ms + kBookingsAfterMs;
  for (const auto& bk : in.bookings) {
    if (bk.instrument != in.resource) continue;
    if (bk.status != BookingStatus::active) continue;  // a cancelled booking opens nothing
    if (!booking::overlaps(bk.start_ms, bk.end_ms, from, to)) continue;
    b.bookings.push_back(proto::BookingSlot{bk.id, bk.user, bk.start_ms, bk.end_ms, bk.staffed});
  }
  std::sort(b.bookings.begin(), b.bookings.end(), [](const auto& x, const auto& y) {
    return x.start_ms != y.start_ms ? x.start_ms < y.start_ms : x.id < y.id;
  });
  return b;
}

proto::SyncBundle make_private(proto::SyncBundle b, const SubjectKeys& keys, std::vector<Pseudonym>& issued) {
  std::map<std::string, std::string> users;  // directory id -> pseudonym
  auto pseudonym = [&](const std::string& user) -> std::string {
    auto [it, added] = users.try_emplace(user);
    if (added) it->second = proto::user_pseudonym(keys.pseudonym, user);
    return it->second;
  };
  auto digest = [&](const std::string& uid) {
    auto card = CardUid::parse(uid);
    // Bundle cards are canonical uids (CardUid at every edge); a row that is not would match no
    // swipe either way, so it gets a digest of its text.
    return card ? proto::card_digest(keys.card, *card) : proto::card_digest(keys.card, CardUid{});
  };
  for (auto& g : b.grants) {
    g.card = digest(g.card);
    g.user = pseudonym(g.user);
  }
  for (auto& d : b.denials) {
    d.card = digest(d.card);
    d.user = pseudonym(d.user);
  }
  for (auto& s : b.bookings) s.user = pseudonym(s.user);
  std::sort(b.grants.begin(), b.grants.end(), [](const auto& x, const auto& y) { return x.card < y.card; });
  std::sort(b.denials.begin(), b.denials.end(), [](const auto& x, const auto& y) { return x.card < y.card; });
  b.card_form = proto::CardForm::hmac_sha256_128;
  issued.clear();
  for (const auto& [user, p] : users) issued.push_back(Pseudonym{p, user});
  std::sort(issued.begin(), issued.end(), [](const auto& x, const auto& y) { return x.pseudonym < y.pseudonym; });
  return b;
}

std::string content_hash(const proto::SyncBundle& bundle) {
  proto::SyncBundle copy = bundle;
  copy.version = 0;
  copy.issued_ms = 0;
  return crypto::sha256_hex(proto::encode(copy));
}

}  // namespace lg::server::sync
