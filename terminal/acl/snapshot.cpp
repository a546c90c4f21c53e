#include "acl/snapshot.hpp"

namespace lg::terminal {

AclSnapshot AclSnapshot::from_bundle(const proto::SyncBundle& b, std::string card_key) {
  AclSnapshot s;
  s.version = b.version;
  s.resource = b.resource;
  s.policy = b.policy;
  s.grants = b.grants;  // decode_sync checked the form of every card
  s.bookings = b.bookings;
  s.status = b.status;
  s.denials = b.denials;
  s.card_form = b.card_form;
  s.card_key = std::move(card_key);
  return s;
}

std::string AclSnapshot::card_ref(const CardUid& card) const {
  if (card_form == proto::CardForm::uid) return card.str();
  return proto::card_digest(card_key, card);
}

const proto::Grant* AclSnapshot::find_grant_ref(std::string_view ref) const {
  for (const auto& g : grants)
    if (g.card == ref) return &g;
  return nullptr;
}

const proto::Denial* AclSnapshot::find_denial_ref(std::string_view ref) const {
  for (const auto& d : denials)
    if (d.card == ref) return &d;
  return nullptr;
}

proto::SyncBundle to_digest_form(proto::SyncBundle b, std::string_view card_key) {
  if (b.card_form != proto::CardForm::uid) return b;
  auto digest = [&](const std::string& uid) {
    const auto card = CardUid::parse(uid);  // canonical already (decode_sync); anything else matches nothing
    return proto::card_digest(card_key, card ? *card : CardUid{});
  };
  for (auto& g : b.grants) g.card = digest(g.card);
  for (auto& d : b.denials) d.card = digest(d.card);
  b.card_form = proto::CardForm::hmac_sha256_128;
  return b;
}

}  // namespace lg::terminal
