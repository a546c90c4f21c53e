#include <cmath>
#include <limits>

#include <doctest/doctest.h>

#include "access/metering.hpp"

using namespace lg::terminal;

TEST_CASE("elapsed time is the monotonic difference plus any carried base") {
  SessionClock c{10'000, 0, "boot-a"};
  CHECK(elapsed_ms(c, 10'000) == 0);
  CHECK(elapsed_ms(c, 70'500) == 60'500);
  CHECK(elapsed_ms(c, 9'000) == 0);  // never negative
  c.elapsed_base_ms = 5'000;
  CHECK(elapsed_ms(c, 11'000) == 6'000);
}

TEST_CASE("rebase: same boot keeps the original anchor") {
  SessionClock c{10'000, 0, "boot-a"};
  auto r = rebase(c, "boot-a", 500'000, {1'000'000, false}, 60'000, {1'400'000, false});
  CHECK(r.clock == c);
  CHECK_FALSE(r.gap_from_ms.has_value());
  CHECK(elapsed_ms(r.clock, 500'000) == 490'000);
}

TEST_CASE("rebase: after a reboot / checkpoint elapsed + wall gap / new anchor") {
  SessionClock c{10'000, 0, "boot-a"};
  // checkpoint at wall 1'000'000 with 60 s elapsed; now wall 1'030'000, steady restarted at 2'000
  auto r = rebase(c, "boot-b", 2'000, {1'000'000, true}, 60'000, {1'030'000, true});
  CHECK(r.clock.boot_id == "boot-b");
  CHECK(r.clock.steady_anchor_ms == 2'000);
  CHECK(r.clock.elapsed_base_ms == 90'000);
  CHECK_FALSE(r.gap_from_ms.has_value());
  CHECK(elapsed_ms(r.clock, 12'000) == 100'000);
  // Wall clock stepped backwards: the gap does not subtract.
  auto back = rebase(c, "boot-b", 2'000, {1'000'000, true}, 60'000, {900'000, true});
  CHECK(back.clock.elapsed_base_ms == 60'000);
}

// Finding 1 of docs/SIMULATION.md (seeds 28, 47): a board without a working RTC reboots with its
// wall clock hours ahead and unsynced; the "gap" read from it was billed.
TEST_CASE("rebase: an unsynced wall clock after a reboot bills no clock error") {
  SessionClock c{10'000, 0, "boot-a"};
  // Checkpoint synced at 1'000'000 (60 s elapsed); the board comes up 2 h ahead, unsynced.
  const int64_t two_hours = 7'200'000;
  auto r = rebase(c, "boot-b", 2'000, {1'000'000, true}, 60'000, {1'030'000 + two_hours, false});
  CHECK(r.clock.elapsed_base_ms == 60'000);  // the gap is not counted from an unsynced clock
  REQUIRE(r.gap_from_ms.has_value());
  CHECK(*r.gap_from_ms == 1'000'000);
  // NTP answers 50 s later (steady 52'000): the true wall time is 1'080'000, so the reboot began
  // 30 s after the checkpoint's wall time... the anchor's wall time is 1'030'000: a 30 s gap.
  CHECK(settle_gap(r.clock, *r.gap_from_ms, 1'080'000, 52'000) == 30'000);
  // An unsynced checkpoint: the gap cannot be measured at all, whatever the clock says now.
  auto lost = rebase(c, "boot-b", 2'000, {1'000'000 - two_hours, false}, 60'000, {1'030'000, true});
  CHECK(lost.clock.elapsed_base_ms == 60'000);
  CHECK_FALSE(lost.gap_from_ms.has_value());
}

TEST_CASE("kwh_to_wh rounds and rejects garbage") {
  CHECK(kwh_to_wh(0.0) == 0);
  CHECK(kwh_to_wh(1.2345) == 1235);
  CHECK(kwh_to_wh(12.3444) == 12344);
  CHECK_FALSE(kwh_to_wh(-0.5).has_value());
  CHECK_FALSE(kwh_to_wh(std::numeric_limits<double>::quiet_NaN()).has_value());
  CHECK_FALSE(kwh_to_wh(std::numeric_limits<double>::infinity()).has_value());
}

TEST_CASE("energy is the counter difference - reset and unavailable are flagged") {
  auto ok = energy_between(1.0, 1.25);
  REQUIRE(ok.energy_wh.has_value());
  CHECK(*ok.energy_wh == 250);
  CHECK(ok.flags.empty());

  auto zero = energy_between(1.0, 1.0);
  CHECK(zero.energy_wh == 0);

  auto reset = energy_between(1.0, 0.02);
  CHECK_FALSE(reset.energy_wh.has_value());
  CHECK(reset.flags == std::vector<std::string>{"meter_reset"});

  auto missing_end = energy_between(1.0, std::nullopt);
  CHECK_FALSE(missing_end.energy_wh.has_value());
  CHECK(missing_end.flags == std::vector<std::string>{"meter_unavailable"});
  CHECK(energy_between(std::nullopt, 0.005).flags == std::vector<std::string>{"meter_unavailable"});
}

TEST_CASE("energy is subtracted at the meter's resolution and rounded once") {
  // 1.4 Wh -> 2.6 Wh is 1.2 Wh: one rounding gives 1; rounding each reading first gave 3 - 1 = 2.
  CHECK(*energy_between(0.0014, 0.0026).energy_wh == 1);
  CHECK(kwh_to_wh(0.0026).value() - kwh_to_wh(0.0014).value() == 2);
  // 0.5 Wh -> 1.4 Wh is 0.9 Wh: 1 Wh, where per-reading rounding said 0.
  CHECK(*energy_between(0.0005, 0.0014).energy_wh == 1);
  CHECK(kwh_to_wh(0.0014).value() - kwh_to_wh(0.0005).value() == 0);
  // 1499.6 Wh -> 2500.4 Wh is 1000.8 Wh: 1001; per-reading rounding said 2500 - 1500 = 1000.
  CHECK(*energy_between(1.4996, 2.5004).energy_wh == 1001);
  CHECK(kwh_to_wh(2.5004).value() - kwh_to_wh(1.4996).value() == 1000);
  // float32 readings as an SDM120 reports them, widened exactly to double
  const float start = 12345.678f;  // exactly 12345.677734375 kWh
  const float end = 12346.912f;    // exactly 12346.912109375 kWh
  CHECK(*energy_between(static_cast<double>(start), static_cast<double>(end)).energy_wh == 1234);  // 1234.375 Wh
  CHECK_FALSE(valid_kwh(-1.0));
  CHECK_FALSE(valid_kwh(std::numeric_limits<double>::quiet_NaN()));
  CHECK(valid_kwh(0.0) == 0.0);
}
