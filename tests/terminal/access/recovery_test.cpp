#include <doctest/doctest.h>

#include "access/recovery.hpp"
#include "terminal/access/acl_fixture.hpp"

using namespace lg::terminal;
using namespace lg::terminal::test;

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
