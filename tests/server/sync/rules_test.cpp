#include <doctest/doctest.h>

#include "server/sync/rules.hpp"

using namespace lg;
using namespace lg::server;

namespace {
const int64_t kNow = 1'767'225'600'000;  // 2026-01-01T00:00:00Z
const int64_t kDay = 24LL * 3600 * 1000;

sync::Inputs inputs() {
  sync::Inputs in;
  in.terminal = "t-xrd-01";
  in.resource = "xrd";
  in.instrument = Instrument{"xrd", "XRD", "lab", InstrumentKind::instrument, "", true};
  in.users = {
      User{"alice", "Alice", UserCategory::internal_student, "", false},
      User{"bob", "Bob", UserCategory::external_academic, "", false},
      User{"root", "Root", UserCategory::internal_staff, "", true},
      User{"dave", "Dave", UserCategory::internal_student, "", false},
      User{"erin", "Erin", UserCategory::internal_staff, "", false},
      User{"frank", "Frank", UserCategory::enterprise, "", false},
  };
  in.cards = {
      Card{"04AA", "alice", true}, Card{"04AB", "alice", true}, Card{"04BB", "bob", true},
      Card{"04CC", "root", true},  Card{"04DD", "dave", true},  Card{"04EE", "erin", true},
      Card{"04A0", "alice", false}, Card{"04FF", "frank", true},
  };
  in.qualifications = {
      Qualification{"alice", "xrd", 0, std::nullopt},
      Qualification{"bob", "xrd", kNow + kDay, kNow + 30 * kDay},  // not yet valid: still sent
      Qualification{"dave", "xrd", 0, kNow - 1},                    // just expired: sent with its end
      Qualification{"frank", "xrd", 0, kNow - 31 * kDay},           // expired long ago: not sent
      Qualification{"erin", "sem", 0, std::nullopt},                // other instrument
  };
  in.bookings = {
      Booking{"b-past", "xrd", "alice", kNow - 3 * kDay, kNow - 2 * kDay},
      Booking{"b-yesterday", "xrd", "alice", kNow - kDay / 2, kNow - kDay / 4},
      Booking{"b-tomorrow", "xrd", "bob", kNow + kDay, kNow + kDay + 3'600'000},
      Booking{"b-far", "xrd", "bob", kNow + 8 * kDay, kNow + 8 * kDay + 1},
      Booking{"b-sem", "sem", "erin", kNow, kNow + 1},
  };
  return in;
}
}  // namespace

TEST_CASE("bundle grants: qualified users' active cards plus admin cards long-expired and foreign excluded") {
  auto b = sync::build(inputs(), kNow, 7);
  CHECK(b.terminal == "t-xrd-01");
  CHECK(b.version == 7);
  CHECK(b.issued_ms == kNow);
  CHECK(b.resource == "xrd");
  CHECK(b.policy.require_booking);

  std::vector<std::string> cards;
  for (const auto& g : b.grants) cards.push_back(g.card);
  CHECK(cards == std::vector<std::string>{"04AA", "04AB", "04BB", "04CC", "04DD"});  // sorted
  const auto& dave = b.grants[4];
  CHECK(dave.user == "dave");
  CHECK(dave.valid_until_ms == kNow - 1);  // the terminal answers not_valid_now

  const auto& bob = b.grants[2];
  CHECK(bob.user == "bob");
  CHECK(bob.category == "external_academic");
  CHECK_FALSE(bob.admin);
  CHECK(bob.valid_from_ms == kNow + kDay);
  CHECK(bob.valid_until_ms == kNow + 30 * kDay);

  const auto& root = b.grants[3];
  CHECK(root.admin);
  CHECK(root.user == "root");
  CHECK_FALSE(root.valid_until_ms.has_value());
}

TEST_CASE("bundle bookings: only this resource from now - 1 day to now + 7 days sorted by start") {
  auto b = sync::build(inputs(), kNow, 1);
  std::vector<std::string> ids;
  for (const auto& s : b.bookings) ids.push_back(s.id);
  CHECK(ids == std::vector<std::string>{"b-yesterday", "b-tomorrow"});
  CHECK(b.bookings[1].user == "bob");
  CHECK(b.bookings[1].end_ms - b.bookings[1].start_ms == 3'600'000);
}

TEST_CASE("an unknown resource yields a bundle without grants except admins") {
  auto in = inputs();
  in.instrument.reset();
  auto b = sync::build(in, kNow, 1);
  REQUIRE(b.grants.size() == 1);
  CHECK(b.grants[0].admin);
  CHECK_FALSE(b.policy.require_booking);
}

TEST_CASE("content hash ignores version and issue time but sees every grant change") {
  auto a = sync::build(inputs(), kNow, 1);
  auto b = sync::build(inputs(), kNow + 1000, 2);
  CHECK(sync::content_hash(a) == sync::content_hash(b));
  auto in = inputs();
  in.cards.push_back(Card{"04FF", "alice", true});
  auto c = sync::build(in, kNow, 1);
  CHECK(sync::content_hash(a) != sync::content_hash(c));
}

TEST_CASE("bundle policy carries the instrument's access policy, protocol defaults when unknown") {
  auto in = inputs();
  in.instrument->early_start_s = 0;
  in.instrument->grace_after_end_s = 2;
  in.instrument->offline_grace_s = 60;
  in.instrument->max_session_s = 7200;
  auto b = sync::build(in, kNow, 1);
  CHECK(b.policy.require_booking);
  CHECK(b.policy.early_start_s == 0);
  CHECK(b.policy.grace_after_end_s == 2);
  CHECK(b.policy.offline_grace_s == 60);
  CHECK(b.policy.max_session_s == 7200);
  // it survives the wire form the terminal decodes
  auto decoded = proto::decode_sync(proto::encode(b));
  REQUIRE(decoded);
  CHECK(decoded->policy == b.policy);

  // an instrument created without policy fields decides like the protocol defaults
  auto plain = inputs();
  plain.instrument->require_booking = false;
  CHECK(sync::build(plain, kNow, 1).policy == proto::Policy{});
  auto unknown = inputs();
  unknown.instrument.reset();
  CHECK(sync::build(unknown, kNow, 1).policy == proto::Policy{});
}

TEST_CASE("content hash sees a policy change") {
  auto a = sync::build(inputs(), kNow, 1);
  for (int field = 0; field < 4; ++field) {
    auto in = inputs();
    if (field == 0) in.instrument->early_start_s += 1;
    if (field == 1) in.instrument->grace_after_end_s += 1;
    if (field == 2) in.instrument->offline_grace_s += 1;
    if (field == 3) in.instrument->max_session_s += 1;
    CAPTURE(field);
    CHECK(sync::content_hash(a) != sync::content_hash(sync::build(in, kNow, 1)));
  }
}

TEST_CASE("bundle denials: lost and revoked cards and suspended or departed holders are refused with their reason") {
  auto in = inputs();
  Card lost{"04A1", "alice", false, CardStatus::lost};
  lost.ended_ms = kNow - kDay;
  Card revoked{"04B1", "bob", false, CardStatus::revoked};
  revoked.ended_ms = kNow - kDay;
  Card replaced{"04A2", "alice", false, CardStatus::replaced};  // history: neither granted nor denied
  replaced.ended_ms = kNow - kDay;
  Card reissued{"04DD", "dave", false, CardStatus::lost};  // dave's old row; the uid is active for dave again
  reissued.ended_ms = kNow - kDay;
  Card stranger{"04E1", "erin", false, CardStatus::lost};  // erin is not qualified here: unknown
  stranger.ended_ms = kNow - kDay;
  in.cards.insert(in.cards.end(), {lost, revoked, replaced, reissued, stranger});
  in.users[1].status = UserStatus::suspended;  // bob

  auto b = sync::build(in, kNow, 8);
  std::vector<std::string> granted;
  for (const auto& g : b.grants) granted.push_back(g.card);
  CHECK(granted == std::vector<std::string>{"04AA", "04AB", "04CC", "04DD"});  // bob's 04BB no longer
  REQUIRE(b.denials.size() == 3);
  CHECK(b.denials[0] == proto::Denial{"04A1", "alice", proto::Reason::card_revoked});
  CHECK(b.denials[1] == proto::Denial{"04B1", "bob", proto::Reason::card_revoked});
  CHECK(b.denials[2] == proto::Denial{"04BB", "bob", proto::Reason::user_suspended});
  CHECK(b.status == proto::ResourceStatus::normal);
  // A change of status is a change of content: the terminal gets a new version.
  CHECK(sync::content_hash(b) != sync::content_hash(sync::build(inputs(), kNow, 8)));
}

TEST_CASE("bundle: the instrument's status and a temporary card's end date go to the terminal") {
  auto in = inputs();
  in.instrument->status = proto::ResourceStatus::maintenance;
  in.cards[0].valid_until_ms = kNow + kDay;       // alice's 04AA: temporary, qualification without end
  in.cards[2].valid_until_ms = kNow + 40 * kDay;  // bob's 04BB: ends after his qualification (30 d)
  auto b = sync::build(in, kNow, 9);
  CHECK(b.status == proto::ResourceStatus::maintenance);
  REQUIRE(b.grants.size() == 5);
  CHECK(b.grants[0].card == "04AA");
  CHECK(b.grants[0].valid_until_ms == kNow + kDay);
  CHECK(b.grants[1].card == "04AB");
  CHECK_FALSE(b.grants[1].valid_until_ms.has_value());
  CHECK(b.grants[2].card == "04BB");
  CHECK(b.grants[2].valid_until_ms == kNow + 30 * kDay);
}
