// One OutputSession per board output: a door pulse and an instrument session on the same board
// keep their own state (the agent drives one OutputSession per output).
#include <doctest/doctest.h>

#include "access/output_session.hpp"
#include "access/swipe_plan.hpp"
#include "support/temp_dir.hpp"
#include "support/terminal_fakes.hpp"
#include "terminal/access/acl_fixture.hpp"

using namespace lg::terminal;
using namespace lg::terminal::test;

TEST_CASE("a door pulse and an instrument session coexist on one board") {
  lg::test::TempDir dir("outputs");
  auto store = Store::open(dir.file("terminal.db"));
  REQUIRE(store.has_value());
  lg::test::FakeCoils coils;
  lg::test::FakeMeter meter;
  lg::test::FakeClock clock;
  lg::test::FakeScheduler sched;
  int committed = 0;
  AccessContext ctx{"inst-xrd", *store, coils, &meter, clock, sched, [&] { ++committed; }};
  const lg::board::Output power{"power", 0, lg::board::OutputKind::instrument_power, lg::board::FailMode::closed, 0};
  const lg::board::Output door{"door", 1, lg::board::OutputKind::door_lock, lg::board::FailMode::closed, 500};
  OutputSession p(power, FailMode::closed, ctx);
  OutputSession d(door, FailMode::closed, ctx);

  const auto acl = sample_acl();
  const auto granted = decide(online(acl, "04A1B2C3", T0));
  REQUIRE(granted.granted());

  // The instrument session opens on coil 0...
  auto in = p.act(plan_swipe(granted, uid("04A1B2C3"), p.holder(), p.momentary()), uid("04A1B2C3"));
  CHECK(in.action == "start");
  CHECK(coils.state[0]);
  // ... and the same card opens the door meanwhile: a pulse on coil 1, the session untouched.
  auto open = d.act(plan_swipe(granted, uid("04A1B2C3"), d.holder(), d.momentary()), uid("04A1B2C3"));
  CHECK(open.action == "pulse");
  CHECK(coils.state[1]);
  REQUIRE(p.session().has_value());
  CHECK_FALSE(d.session().has_value());
  sched.run_all();  // end of the pulse
  CHECK_FALSE(coils.state[1]);
  CHECK(coils.state[0]);
  CHECK(committed == 1);  // the pulse's end asked the uplink to publish
  // The holder swipes out of the instrument; the door is not involved.
  auto out = p.act(plan_swipe(granted, uid("04A1B2C3"), p.holder(), p.momentary()), uid("04A1B2C3"));
  CHECK(out.action == "end");
  CHECK_FALSE(coils.state[0]);
  CHECK(store->open_sessions()->empty());
}
