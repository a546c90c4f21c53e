#include <doctest/doctest.h>

#include "decision.hpp"

using namespace lg::terminal;
using lg::board::FailMode;
using lg::proto::Decision;
using lg::proto::Reason;

namespace {

constexpr int64_t T0 = 1'800'000'000'000;  // some instant, ms
constexpr int64_t S = 1000;
constexpr int64_t H = 3600 * S;

AclSnapshot sample_acl() {
  AclSnapshot a;
  a.version = 7;
  a.resource = "inst-xrd";
  a.policy.require_booking = false;
  a.policy.early_start_s = 900;
  a.policy.grace_after_end_s = 300;
  a.policy.offline_grace_s = 86400;
  a.policy.max_session_s = 0;
  a.grants.push_back({"04A1B2C3", "u01", "internal", false, T0 - 24 * H, T0 + 24 * H});
  a.grants.push_back({"0AD0", "admin1", "internal", true, 0, std::nullopt});
  a.grants.push_back({"0BBB", "u02", "external", false, T0 - H, std::nullopt});
  a.bookings.push_back({"b1", "u01", T0 + H, T0 + 3 * H});
  a.bookings.push_back({"b2", "u02", T0 + 4 * H, T0 + 5 * H});
  return a;
}

DecisionInput online(const AclSnapshot& a, const std::string& card, int64_t now) {
  return DecisionInput{&a, Link::online, T0, FailMode::closed, now, card};
}

}  // namespace

TEST_CASE("no ACL yet: fail-closed denies no_acl / fail-open grants fail_open") {
  DecisionInput in{nullptr, Link::online, std::nullopt, FailMode::closed, T0, "04A1B2C3"};
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
  DecisionInput in{&a, Link::offline, T0 - 86400 * S, FailMode::closed, T0, "04A1B2C3"};
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
    in.card = "0AD0";
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
    in.card = "FFFF";
    CHECK(decide(in).reason == Reason::fail_open);
  }
  SUBCASE("offline with no recorded sync time counts as expired") {
    in.last_sync_ms.reset();
    CHECK(decide(in).reason == Reason::cache_expired);
  }
}

TEST_CASE("online ignores the sync age") {
  const auto a = sample_acl();
  DecisionInput in{&a, Link::online, T0 - 100 * 86400 * S, FailMode::closed, T0, "04A1B2C3"};
  CHECK(decide(in).reason == Reason::qualified);
}

TEST_CASE("expired admin card is denied") {
  auto a = sample_acl();
  a.grants[1].valid_until_ms = T0 - 1;
  auto r = decide(online(a, "0AD0", T0));
  CHECK(r.decision == Decision::denied);
  CHECK(r.reason == Reason::not_valid_now);
}

TEST_CASE("cards in a received bundle are matched case-insensitively (decoding normalises them)") {
  lg::proto::SyncBundle b;
  b.terminal = "t1";
  b.version = 3;
  b.resource = "inst-xrd";
  b.grants.push_back({"04a1b2c3", "u01", "internal", false, 0, std::nullopt});
  auto decoded = lg::proto::decode_sync(lg::proto::encode(b));
  REQUIRE(decoded);
  auto a = AclSnapshot::from_bundle(*decoded);
  CHECK(decide(online(a, "04A1B2C3", T0)).reason == Reason::qualified);
}

TEST_CASE("plan_swipe: start / swipe out / in use / admin end / pulse") {
  const auto a = sample_acl();
  const auto granted = decide(online(a, "04A1B2C3", T0));
  const auto stranger = decide(online(a, "0BBB", T0));
  const auto admin = decide(online(a, "0AD0", T0));
  const auto unknown = decide(online(a, "FFFF", T0));

  CHECK(plan_swipe(granted, "04A1B2C3", std::nullopt, false).action == SwipeAction::start);
  CHECK(plan_swipe(unknown, "FFFF", std::nullopt, false).action == SwipeAction::deny);

  auto out = plan_swipe(granted, "04A1B2C3", std::string("04A1B2C3"), false);
  CHECK(out.action == SwipeAction::end);
  CHECK(out.end_reason == lg::proto::EndReason::swipe_out);
  CHECK(out.result.reason == Reason::swipe_out);
  CHECK(out.result.decision == Decision::granted);

  // The holder can always leave, even if their grant is no longer valid now.
  auto denied_holder = decide(online(a, "04A1B2C3", T0 + 48 * H));
  REQUIRE(denied_holder.decision == Decision::denied);
  CHECK(plan_swipe(denied_holder, "04A1B2C3", std::string("04A1B2C3"), false).action == SwipeAction::end);

  auto busy = plan_swipe(stranger, "0BBB", std::string("04A1B2C3"), false);
  CHECK(busy.action == SwipeAction::deny);
  CHECK(busy.result.reason == Reason::in_use);
  CHECK(busy.result.decision == Decision::denied);
  CHECK(busy.result.user == "u02");

  auto adm = plan_swipe(admin, "0AD0", std::string("04A1B2C3"), false);
  CHECK(adm.action == SwipeAction::end);
  CHECK(adm.end_reason == lg::proto::EndReason::admin);
  CHECK(adm.result.reason == Reason::admin);

  CHECK(plan_swipe(granted, "04A1B2C3", std::nullopt, true).action == SwipeAction::pulse);
  CHECK(plan_swipe(unknown, "FFFF", std::nullopt, true).action == SwipeAction::deny);
}

TEST_CASE("recovery_verdict") {
  const auto a = sample_acl();
  const auto granted = decide(online(a, "04A1B2C3", T0));
  CHECK(recovery_verdict(granted, std::nullopt, std::nullopt, 0, T0).keep);

  auto bk = sample_acl();
  bk.policy.require_booking = true;
  // Booking b1 ended at T0+3H; stored max end is T0+3H+300s; at T0+3H+60s the card decides
  // no_booking but the session is inside its grace period.
  const auto after_end = decide(online(bk, "04A1B2C3", T0 + 3 * H + 60 * S));
  REQUIRE(after_end.reason == Reason::no_booking);
  auto v = recovery_verdict(after_end, T0 + 3 * H + 300 * S, std::nullopt, 0, T0 + 3 * H + 60 * S);
  CHECK(v.keep);
  REQUIRE(v.max_end_ms.has_value());
  CHECK(*v.max_end_ms == T0 + 3 * H + 300 * S);
  // Past the stored end: closed.
  CHECK_FALSE(recovery_verdict(granted, T0 - 1, std::nullopt, 0, T0).keep);
  // Revoked card: closed.
  const auto unknown = decide(online(a, "FFFF", T0));
  CHECK_FALSE(recovery_verdict(unknown, std::nullopt, std::nullopt, 0, T0).keep);
  // A recovered non-booking session never gets a later limit than it had.
  auto lim = sample_acl();
  lim.policy.max_session_s = 3600;
  const auto g2 = decide(online(lim, "04A1B2C3", T0));
  auto v2 = recovery_verdict(g2, std::nullopt, 600 * S, 100 * S, T0);
  CHECK(v2.keep);
  REQUIRE(v2.max_duration_ms.has_value());
  CHECK(*v2.max_duration_ms == 600 * S);
  // Its max duration ran out while it was down (elapsed, not wall time): closed.
  CHECK_FALSE(recovery_verdict(g2, std::nullopt, 600 * S, 600 * S, T0).keep);
}
