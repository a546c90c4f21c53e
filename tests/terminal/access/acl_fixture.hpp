// Shared data of the access/ unit tests: a sample ACL and decision inputs.
#pragma once

#include <cstdint>
#include <string>

#include "access/decision.hpp"
#include "labgate/common/card_uid.hpp"

namespace lg::terminal::test {

using lg::board::FailMode;
using lg::proto::Decision;
using lg::proto::Reason;


constexpr int64_t T0 = 1'800'000'000'000;  // some instant, ms
constexpr int64_t S = 1000;
constexpr int64_t H = 3600 * S;

/// The card key of the sample ACL (a terminal derives its own: LinkKeys::card).
inline const std::string kCardKey = std::string(32, 'k');

/// A card as the sample ACL names it: its keyed digest (the bundle carries no uid).
inline std::string card(const std::string& text) {
  return lg::proto::card_digest(kCardKey, lg::CardUid::parse(text).value());
}

inline AclSnapshot sample_acl() {
  AclSnapshot a;
  a.card_form = lg::proto::CardForm::hmac_sha256_128;
  a.card_key = kCardKey;
  a.version = 7;
  a.resource = "inst-xrd";
  a.policy.require_booking = false;
  a.policy.early_start_s = 900;
  a.policy.grace_after_end_s = 300;
  a.policy.offline_grace_s = 86400;
  a.policy.max_session_s = 0;
  a.grants.push_back({card("04A1B2C3"), "u01", "internal", false, T0 - 24 * H, T0 + 24 * H});
  a.grants.push_back({card("0AD0"), "admin1", "internal", true, 0, std::nullopt});
  a.grants.push_back({card("0BBB"), "u02", "external", false, T0 - H, std::nullopt});
  a.bookings.push_back({"b1", "u01", T0 + H, T0 + 3 * H});
  a.bookings.push_back({"b2", "u02", T0 + 4 * H, T0 + 5 * H});
  return a;
}

/// A card uid from test text (must be valid).
inline lg::CardUid uid(const std::string& text) { return lg::CardUid::parse(text).value(); }

inline DecisionInput online(const AclSnapshot& a, const std::string& card, int64_t now) {
  return DecisionInput{&a, Link::online, T0, FailMode::closed, now, uid(card)};
}


}  // namespace lg::terminal::test
