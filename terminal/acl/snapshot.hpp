// The cached authorizations: what the terminal knows from the last applied sync bundle. A plain
// value; the access loop holds the current one and replaces it whole when a newer bundle is
// applied (acl/bundle_cache.hpp).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "labgate/common/card_uid.hpp"
#include "labgate/common/protocol.hpp"

namespace lg::terminal {

/// What the terminal knows from the last applied sync bundle (version 0 = never synced).
/// Grants and denials name cards by their keyed digest (card_form hmac_sha256_128, under
/// card_key); users are the bundle's pseudonyms. A snapshot with card_form uid (tests, a cache
/// not yet converted) compares uids.
struct AclSnapshot {
  uint64_t version = 0;
  std::string resource;
  proto::Policy policy;
  std::vector<proto::Grant> grants;
  std::vector<proto::BookingSlot> bookings;
  proto::ResourceStatus status = proto::ResourceStatus::normal;
  std::vector<proto::Denial> denials;
  proto::CardForm card_form = proto::CardForm::uid;
  std::string card_key;  ///< LinkKeys::card of this terminal (not stored: derived at start-up)

  /// Builds a snapshot from a verified bundle (in digest form) and the terminal's card key.
  static AclSnapshot from_bundle(const proto::SyncBundle& b, std::string card_key);
  /// How this snapshot names a card: its digest under card_key, or its uid (card_form uid).
  std::string card_ref(const CardUid& card) const;
  /// The grant for a card named as card_ref() names it, or nullptr.
  const proto::Grant* find_grant_ref(std::string_view ref) const;
  /// The denial for a card named as card_ref() names it (lost, revoked, holder suspended), or nullptr.
  const proto::Denial* find_denial_ref(std::string_view ref) const;
  /// The grant for a card, or nullptr.
  const proto::Grant* find_grant(const CardUid& card) const { return find_grant_ref(card_ref(card)); }
  /// The denial for a card (lost, revoked, holder suspended), or nullptr.
  const proto::Denial* find_denial(const CardUid& card) const { return find_denial_ref(card_ref(card)); }
};

/// Turns a bundle that names cards by uid (a server from before card digests) into digest form
/// under card_key: every grant's and denial's card becomes proto::card_digest(card_key, uid).
/// Users are left as they are (only the server can make pseudonyms). A bundle already in digest
/// form is returned unchanged.
proto::SyncBundle to_digest_form(proto::SyncBundle b, std::string_view card_key);

}  // namespace lg::terminal
