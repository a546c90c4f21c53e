#include <doctest/doctest.h>

#include "access/swipe_plan.hpp"
#include "terminal/access/acl_fixture.hpp"

using namespace lg::terminal;
using namespace lg::terminal::test;

TEST_CASE("plan_swipe: start / swipe out / in use / admin end / pulse") {
  const auto a = sample_acl();
  const auto granted = decide(online(a, "04A1B2C3", T0));
  const auto stranger = decide(online(a, "0BBB", T0));
  const auto admin = decide(online(a, "0AD0", T0));
  const auto unknown = decide(online(a, "FFFF", T0));

  CHECK(plan_swipe(granted, uid("04A1B2C3"), std::nullopt, false).action == SwipeAction::start);
  CHECK(plan_swipe(unknown, uid("FFFF"), std::nullopt, false).action == SwipeAction::deny);

  auto out = plan_swipe(granted, uid("04A1B2C3"), uid("04A1B2C3"), false);
  CHECK(out.action == SwipeAction::end);
  CHECK(out.end_reason == lg::proto::EndReason::swipe_out);
  CHECK(out.result.reason == Reason::swipe_out);
  CHECK(out.result.decision == Decision::granted);

  // The holder can always leave, even if their grant is no longer valid now.
  auto denied_holder = decide(online(a, "04A1B2C3", T0 + 48 * H));
  REQUIRE(denied_holder.decision == Decision::denied);
  CHECK(plan_swipe(denied_holder, uid("04A1B2C3"), uid("04A1B2C3"), false).action == SwipeAction::end);

  auto busy = plan_swipe(stranger, uid("0BBB"), uid("04A1B2C3"), false);
  CHECK(busy.action == SwipeAction::deny);
  CHECK(busy.result.reason == Reason::in_use);
  CHECK(busy.result.decision == Decision::denied);
  CHECK(busy.result.user == "u02");

  auto adm = plan_swipe(admin, uid("0AD0"), uid("04A1B2C3"), false);
  CHECK(adm.action == SwipeAction::end);
  CHECK(adm.end_reason == lg::proto::EndReason::admin);
  CHECK(adm.result.reason == Reason::admin);

  CHECK(plan_swipe(granted, uid("04A1B2C3"), std::nullopt, true).action == SwipeAction::pulse);
  CHECK(plan_swipe(unknown, uid("FFFF"), std::nullopt, true).action == SwipeAction::deny);
}

