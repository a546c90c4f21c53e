// For tests that read the bundles the server published: a published bundle names cards by keyed
// digest and users by pseudonym (docs/PROTOCOL.md "Cards and users in the bundle"). reveal()
// turns one back into the directory's view -- digests of the directory's cards into their uids
// (recomputed with the terminal's card key), pseudonyms into user ids (the table the server
// keeps for ingest) -- sorted by uid as sync::build() sorts, so a test can state what it expects
// in uids and ids. A digest or pseudonym it cannot map is left as it is (and fails the test's check).
#pragma once

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "labgate/common/card_uid.hpp"
#include "labgate/common/protocol.hpp"
#include "tests/server/test_support.hpp"

namespace lg::server::test {

inline proto::SyncBundle reveal(TestStore& store, const crypto::PrivateKey& server_key, const std::string& site,
                                proto::SyncBundle b) {
  REQUIRE(b.card_form == proto::CardForm::hmac_sha256_128);
  auto t = store.terminal(b.terminal);
  REQUIRE(t);
  REQUIRE(t->has_value());
  auto pub = crypto::PublicKey::from_pem((*t)->public_key);
  REQUIRE(pub);
  const std::string card_key = proto::link_keys(server_key, *pub, site, b.terminal)->card;
  std::map<std::string, std::string> uids;  // digest -> uid
  Page page;
  page.limit = defaults::kMaxPageSize;
  auto cards = store.cards(page);
  REQUIRE(cards);
  for (const auto& c : *cards) uids[proto::card_digest(card_key, *CardUid::parse(c.uid))] = c.uid;
  std::vector<std::string> pseudonyms;
  for (const auto& g : b.grants) pseudonyms.push_back(g.user);
  for (const auto& d : b.denials) pseudonyms.push_back(d.user);
  for (const auto& s : b.bookings) pseudonyms.push_back(s.user);
  auto users = store.stores().usage.pseudonym_users(b.terminal, pseudonyms);
  REQUIRE(users);
  auto uid = [&](std::string& card) {
    if (auto it = uids.find(card); it != uids.end()) card = it->second;
  };
  auto user = [&](std::string& u) {
    if (auto it = users->find(u); it != users->end()) u = it->second;
  };
  for (auto& g : b.grants) uid(g.card), user(g.user);
  for (auto& d : b.denials) uid(d.card), user(d.user);
  for (auto& s : b.bookings) user(s.user);
  std::sort(b.grants.begin(), b.grants.end(), [](const auto& x, const auto& y) { return x.card < y.card; });
  std::sort(b.denials.begin(), b.denials.end(), [](const auto& x, const auto& y) { return x.card < y.card; });
  b.card_form = proto::CardForm::uid;
  return b;
}

}  // namespace lg::server::test
