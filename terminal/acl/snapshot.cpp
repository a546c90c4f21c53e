#include "acl/snapshot.hpp"

namespace lg::terminal {

AclSnapshot AclSnapshot::from_bundle(const proto::SyncBundle& b) {
  AclSnapshot s;
  s.version = b.version;
  s.resource = b.resource;
  s.policy = b.policy;
  s.grants = b.grants;  // decode_sync_bundle gave the canonical card form (CardUid)
  s.bookings = b.bookings;
  s.status = b.status;
  s.denials = b.denials;
  return s;
}

const proto::Grant* AclSnapshot::find_grant(const CardUid& card) const {
  for (const auto& g : grants)
    if (g.card == card.str()) return &g;
  return nullptr;
}

const proto::Denial* AclSnapshot::find_denial(const CardUid& card) const {
  for (const auto& d : denials)
    if (d.card == card.str()) return &d;
  return nullptr;
}

}  // namespace lg::terminal
