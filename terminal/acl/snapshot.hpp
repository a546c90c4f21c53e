// The cached authorizations: what the terminal knows from the last applied sync bundle. A plain
// value; the access loop holds the current one and replaces it whole when a newer bundle is
// applied (acl/bundle_cache.hpp).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "labgate/common/card_uid.hpp"
#include "labgate/common/protocol.hpp"

namespace lg::terminal {

/// What the terminal knows from the last applied sync bundle (version 0 = never synced).
struct AclSnapshot {
  uint64_t version = 0;
  std::string resource;
  proto::Policy policy;
  std::vector<proto::Grant> grants;
  std::vector<proto::BookingSlot> bookings;
  proto::ResourceStatus status = proto::ResourceStatus::normal;
  std::vector<proto::Denial> denials;

  /// Builds a snapshot from a verified bundle.
  static AclSnapshot from_bundle(const proto::SyncBundle& b);
  /// The grant for a card, or nullptr.
  const proto::Grant* find_grant(const CardUid& card) const;
  /// The denial for a card (lost, revoked, holder suspended), or nullptr.
  const proto::Denial* find_denial(const CardUid& card) const;
};

}  // namespace lg::terminal
