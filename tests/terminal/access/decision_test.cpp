#include <doctest/doctest.h>

#include "access/decision.hpp"
#include "terminal/access/acl_fixture.hpp"

using namespace lg::terminal;
using namespace lg::terminal::test;

TEST_CASE("no ACL yet: fail-closed denies no_acl / fail-open grants fail_open") {
  DecisionInput in{nullptr, Link::online, std::nullopt, FailMode::closed, T0, uid("04A1B2C3")};
  auto r = decide(in);
  CHECK(r.decision == Decision::denied);
  CHECK(r.reason == Reason::no_acl);
  CHECK(r.acl_version == 0);
  in.fail_mode = FailMode::open;
  r = decide(in);
  CHECK(r.decision == Decision::granted);
  CHECK(r.reason == Reason::fail_open);
  CHECK(r.mode == lg::proto::Mode::online);
}

TEST_CASE("qualified user is granted online with the ACL version and no end limit") {
  const auto a = sample_acl();
  auto r = decide(online(a, "04A1B2C3", T0));
  CHECK(r.decision == Decision::granted);
  CHECK(r.reason == Reason::qualified);
  CHECK(r.user == "u01");
  CHECK(r.acl_version == 7);
  CHECK(r.mode == lg::proto::Mode::online);
  CHECK_FALSE(r.max_end_ms.has_value());
  CHECK_FALSE(r.max_duration_ms.has_value());
  CHECK(r.booking.empty());
}

TEST_CASE("max_session_s bounds a session without booking: a duration, not a wall-clock instant") {
  auto a = sample_acl();
  a.policy.max_session_s = 7200;
  auto r = decide(online(a, "04A1B2C3", T0));
  REQUIRE(r.max_duration_ms.has_value());
  CHECK(*r.max_duration_ms == 2 * H);
  CHECK_FALSE(r.max_end_ms.has_value());  // a wall-clock step must not move it
}

TEST_CASE("unknown card is denied") {
  const auto a = sample_acl();
  auto r = decide(online(a, "DEADBEEF", T0));
  CHECK(r.decision == Decision::denied);
  CHECK(r.reason == Reason::unknown_card);
  CHECK(r.user.empty());
}

TEST_CASE("qualification validity window is from..until") {
  const auto a = sample_acl();
  CHECK(decide(online(a, "04A1B2C3", T0 - 24 * H)).reason == Reason::qualified);
  CHECK(decide(online(a, "04A1B2C3", T0 - 24 * H - 1)).reason == Reason::not_valid_now);
  CHECK(decide(online(a, "04A1B2C3", T0 + 24 * H - 1)).reason == Reason::qualified);
  auto r = decide(online(a, "04A1B2C3", T0 + 24 * H));
  CHECK(r.decision == Decision::denied);
  CHECK(r.reason == Reason::not_valid_now);
  CHECK(r.user == "u01");
}

TEST_CASE("require_booking: booking window with early start / end exclusive / max end = end + grace") {
  auto a = sample_acl();
  a.policy.require_booking = true;
  SUBCASE("no booking now") {
    auto r = decide(online(a, "04A1B2C3", T0));
    CHECK(r.decision == Decision::denied);
    CHECK(r.reason == Reason::no_booking);
  }
  SUBCASE("early start boundary") {
    CHECK(decide(online(a, "04A1B2C3", T0 + H - 900 * S - 1)).reason == Reason::no_booking);
    auto r = decide(online(a, "04A1B2C3", T0 + H - 900 * S));
    CHECK(r.decision == Decision::granted);
    CHECK(r.reason == Reason::booked);
    CHECK(r.booking == "b1");
    REQUIRE(r.max_end_ms.has_value());
    CHECK(*r.max_end_ms == T0 + 3 * H + 300 * S);
  }
  SUBCASE("booking end is exclusive") {
    CHECK(decide(online(a, "04A1B2C3", T0 + 3 * H - 1)).reason == Reason::booked);
    CHECK(decide(online(a, "04A1B2C3", T0 + 3 * H)).reason == Reason::no_booking);
  }
  SUBCASE("someone else's booking does not count") {
    auto r = decide(online(a, "0BBB", T0 + 2 * H));
    CHECK(r.reason == Reason::no_booking);
  }
  SUBCASE("admin needs no booking") {
    auto r = decide(online(a, "0AD0", T0));
    CHECK(r.decision == Decision::granted);
    CHECK(r.reason == Reason::admin);
    CHECK(r.admin);
    CHECK_FALSE(r.max_end_ms.has_value());
  }
}

TEST_CASE("without require_booking a covering booking is still named") {
  const auto a = sample_acl();
  auto r = decide(online(a, "04A1B2C3", T0 + 2 * H));
  CHECK(r.reason == Reason::qualified);
  CHECK(r.booking == "b1");
}

TEST_CASE("offline: cached grants honoured up to offline_grace_s after the last sync") {
  const auto a = sample_acl();
  DecisionInput in{&a, Link::offline, T0 - 86400 * S, FailMode::closed, T0, uid("04A1B2C3")};
  auto r = decide(in);
  CHECK(r.decision == Decision::granted);
  CHECK(r.reason == Reason::qualified);
  CHECK(r.mode == lg::proto::Mode::offline);

  in.last_sync_ms = T0 - 86400 * S - 1;  // one ms past the grace age
  r = decide(in);
  CHECK(r.decision == Decision::denied);
  CHECK(r.reason == Reason::cache_expired);
  CHECK(r.mode == lg::proto::Mode::offline);
  CHECK(r.acl_version == 7);

  SUBCASE("after the grace age only admin cards") {
    in.card = uid("0AD0");
    r = decide(in);
    CHECK(r.decision == Decision::granted);
    CHECK(r.reason == Reason::admin);
  }
  SUBCASE("fail-open output grants anyone once the cache is expired") {
    in.fail_mode = FailMode::open;
    r = decide(in);
    CHECK(r.decision == Decision::granted);
    CHECK(r.reason == Reason::fail_open);
    CHECK(r.user == "u01");
    in.card = uid("FFFF");
    CHECK(decide(in).reason == Reason::fail_open);
  }
  SUBCASE("offline with no recorded sync time counts as expired") {
    in.last_sync_ms.reset();
    CHECK(decide(in).reason == Reason::cache_expired);
  }
}

TEST_CASE("online ignores the sync age") {
  const auto a = sample_acl();
  DecisionInput in{&a, Link::online, T0 - 100 * 86400 * S, FailMode::closed, T0, uid("04A1B2C3")};
  CHECK(decide(in).reason == Reason::qualified);
}

TEST_CASE("expired admin card is denied") {
  auto a = sample_acl();
  a.grants[1].valid_until_ms = T0 - 1;
  auto r = decide(online(a, "0AD0", T0));
  CHECK(r.decision == Decision::denied);
  CHECK(r.reason == Reason::not_valid_now);
}

TEST_CASE("a swiped card is looked up by its digest, the reader's letter case does not matter") {
  lg::proto::SyncBundle b;
  b.terminal = "t1";
  b.version = 3;
  b.resource = "inst-xrd";
  b.grants.push_back({card("04A1B2C3"), "p-0123456789abcdef0123456789abcdef", "internal", false, 0, std::nullopt});
  auto decoded = lg::proto::decode_sync(lg::proto::encode(b));
  REQUIRE(decoded);
  auto a = AclSnapshot::from_bundle(*decoded, kCardKey);
  CHECK(decide(online(a, "04A1B2C3", T0)).reason == Reason::qualified);
  CHECK(decide(online(a, "04a1b2c3", T0)).reason == Reason::qualified);  // CardUid normalises the swipe
  CHECK(decide(online(a, "04a1b2c3", T0)).user == "p-0123456789abcdef0123456789abcdef");
  // Under another terminal's key the same card is another digest: unknown here.
  auto other = AclSnapshot::from_bundle(*decoded, std::string(32, 'x'));
  CHECK(decide(online(other, "04A1B2C3", T0)).reason == Reason::unknown_card);
}

TEST_CASE("a legacy bundle (cards by uid) decides the same once turned into digests") {
  lg::proto::SyncBundle b;
  b.card_form = lg::proto::CardForm::uid;
  b.terminal = "t1";
  b.version = 3;
  b.resource = "inst-xrd";
  b.grants.push_back({"04a1b2c3", "u01", "internal", false, 0, std::nullopt});
  b.denials.push_back({"0CC1", "u03", Reason::card_revoked});
  auto decoded = lg::proto::decode_sync(lg::proto::encode(b));
  REQUIRE(decoded);
  CHECK(decoded->grants[0].card == "04A1B2C3");  // legacy: canonical uids
  const auto converted = to_digest_form(*decoded, kCardKey);
  CHECK(converted.card_form == lg::proto::CardForm::hmac_sha256_128);
  CHECK(converted.grants[0].card == card("04A1B2C3"));
  CHECK(converted.denials[0].card == card("0CC1"));
  auto a = AclSnapshot::from_bundle(converted, kCardKey);
  CHECK(decide(online(a, "04A1B2C3", T0)).reason == Reason::qualified);
  CHECK(decide(online(a, "0CC1", T0)).reason == Reason::card_revoked);
}


TEST_CASE("a lost or revoked card and a suspended holder's card are denied with their own reason, online and offline") {
  auto a = sample_acl();
  a.denials.push_back({card("0CC1"), "u03", Reason::card_revoked});
  a.denials.push_back({card("0CC2"), "u04", Reason::user_suspended});
  for (const Link link : {Link::online, Link::offline}) {
    auto in = online(a, "0CC1", T0);
    in.link = link;
    in.last_sync_ms = T0 - H;  // offline within the grace age
    auto r = decide(in);
    CHECK(r.decision == Decision::denied);
    CHECK(r.reason == Reason::card_revoked);
    CHECK(r.user == "u03");
    in.card = uid("0CC2");
    r = decide(in);
    CHECK(r.decision == Decision::denied);
    CHECK(r.reason == Reason::user_suspended);
  }
  // A card neither granted nor denied stays unknown.
  CHECK(decide(online(a, "DEADBEEF", T0)).reason == Reason::unknown_card);
}

TEST_CASE("an instrument not in normal status refuses everyone but admins as instrument_unavailable") {
  for (const auto status : {lg::proto::ResourceStatus::maintenance, lg::proto::ResourceStatus::disabled,
                            lg::proto::ResourceStatus::pending_scrap}) {
    auto a = sample_acl();
    a.status = status;
    auto r = decide(online(a, "04A1B2C3", T0));
    CHECK(r.decision == Decision::denied);
    CHECK(r.reason == Reason::instrument_unavailable);
    CHECK(r.user == "u01");
    auto admin = decide(online(a, "0AD0", T0));
    CHECK(admin.decision == Decision::granted);
    CHECK(admin.reason == Reason::admin);
    CHECK(decide(online(a, "DEADBEEF", T0)).reason == Reason::unknown_card);
  }
  auto normal = sample_acl();
  CHECK(decide(online(normal, "04A1B2C3", T0)).decision == Decision::granted);
}

namespace {

/// The sample ACL with u01 at `level` and the staffed hours of a Chinese campus: Monday to
/// Friday 08:00-18:00 in Asia/Shanghai (T0 is Friday 16:00 there).
AclSnapshot levels_acl(lg::proto::Level level) {
  auto a = sample_acl();
  a.grants[0].level = level;
  a.grants[0].valid_until_ms = std::nullopt;
  a.policy.zone = "Asia/Shanghai";
  a.policy.staffed_hours.emplace();
  for (int32_t d = 1; d <= 5; ++d) a.policy.staffed_hours->push_back({d, 8 * 60, 18 * 60});
  return a;
}

}  // namespace

TEST_CASE("levels: an independent user is granted in the staffed hours and denied outside_hours at 23:00 and on Saturday") {
  const auto a = levels_acl(lg::proto::Level::independent);
  CHECK(staffed_at(a.policy, T0));
  CHECK(decide(online(a, "04A1B2C3", T0)).reason == Reason::qualified);            // Friday 16:00
  CHECK(decide(online(a, "04A1B2C3", T0 - 8 * H)).reason == Reason::qualified);    // Friday 08:00, the first minute
  CHECK(decide(online(a, "04A1B2C3", T0 - 8 * H - 1)).reason == Reason::outside_hours);  // 07:59:59
  CHECK(decide(online(a, "04A1B2C3", T0 + 2 * H - 1)).reason == Reason::qualified);  // 17:59:59
  auto r = decide(online(a, "04A1B2C3", T0 + 7 * H));                                // Friday 23:00
  CHECK(r.decision == Decision::denied);
  CHECK(r.reason == Reason::outside_hours);
  CHECK(r.user == "u01");
  CHECK(decide(online(a, "04A1B2C3", T0 + 24 * H)).reason == Reason::outside_hours);  // Saturday 16:00
  // offline within the grace age the same: the bundle carries the hours, the terminal counts them
  DecisionInput off{&a, Link::offline, T0, FailMode::closed, T0 + 7 * H, uid("04A1B2C3")};
  CHECK(decide(off).reason == Reason::outside_hours);
}

TEST_CASE("levels: after_hours is granted at any hour, an admin card too, and a bundle from before levels keeps every hour") {
  const auto a = levels_acl(lg::proto::Level::after_hours);
  CHECK(decide(online(a, "04A1B2C3", T0 + 7 * H)).reason == Reason::qualified);
  CHECK(decide(online(a, "04A1B2C3", T0 + 24 * H)).reason == Reason::qualified);
  CHECK(decide(online(a, "0AD0", T0 + 7 * H)).reason == Reason::admin);
  auto legacy = levels_acl(lg::proto::Level::independent);
  legacy.policy.staffed_hours.reset();
  CHECK(decide(online(legacy, "04A1B2C3", T0 + 7 * H)).reason == Reason::qualified);
}

TEST_CASE("levels: a holiday in closed is not staffed, whatever the weekday") {
  auto a = levels_acl(lg::proto::Level::independent);
  a.policy.closed.push_back({T0 - 2 * H, T0 + H});
  CHECK(decide(online(a, "04A1B2C3", T0 - 2 * H - 1)).reason == Reason::qualified);
  CHECK(decide(online(a, "04A1B2C3", T0 - 2 * H)).reason == Reason::outside_hours);
  CHECK(decide(online(a, "04A1B2C3", T0 + H - 1)).reason == Reason::outside_hours);
  CHECK(decide(online(a, "04A1B2C3", T0 + H)).reason == Reason::qualified);
}

TEST_CASE("levels: a supervised user needs a staffed booking covering now, within the staffed hours") {
  auto a = levels_acl(lg::proto::Level::supervised);
  // b1 covers T0 + 1 h .. T0 + 3 h (Friday 17:00-19:00); not staffed yet
  auto r = decide(online(a, "04A1B2C3", T0 + H));
  CHECK(r.decision == Decision::denied);
  CHECK(r.reason == Reason::needs_staff);
  CHECK(decide(online(a, "04A1B2C3", T0 - 4 * H)).reason == Reason::needs_staff);  // no booking at all
  a.bookings[0].staffed = true;
  r = decide(online(a, "04A1B2C3", T0 + H));
  CHECK(r.decision == Decision::granted);
  CHECK(r.booking == "b1");
  // ... but a staffed booking does not stretch the hours: 18:30 is outside them
  CHECK(decide(online(a, "04A1B2C3", T0 + 2 * H + H / 2)).reason == Reason::outside_hours);
  // with require_booking the staffed booking grants as booked
  a.policy.require_booking = true;
  CHECK(decide(online(a, "04A1B2C3", T0 + H)).reason == Reason::booked);
}
