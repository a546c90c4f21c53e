#include <doctest/doctest.h>

#include <limits>
#include <utility>

#include "server/billing/rules.hpp"

using namespace lg::server;
using namespace lg::server::billing;

TEST_CASE("amount_fen rounds half up with integer arithmetic") {
  // 1 fen/hour: half an hour is exactly 0.5 fen -> 1; one ms less -> 0.
  CHECK(amount_fen(1'800'000, 1) == 1);
  CHECK(amount_fen(1'799'999, 1) == 0);
  // 12000 fen/h (120 yuan) for 90 minutes = 18000 fen.
  CHECK(amount_fen(90 * 60 * 1000, 12000) == 18000);
  // 12000 fen/h for 1 ms = 0.00333 fen -> 0; for 150 ms = 0.5 fen -> 1.
  CHECK(amount_fen(1, 12000) == 0);
  CHECK(amount_fen(150, 12000) == 1);
  CHECK(amount_fen(149, 12000) == 0);
  // 100 fen/h for 20 minutes = 33.33 -> 33; 50 minutes = 83.33 -> 83; 21 minutes = 35.
  CHECK(amount_fen(20 * 60 * 1000, 100) == 33);
  CHECK(amount_fen(21 * 60 * 1000, 100) == 35);
  // exact halves go up (banker's rounding would give 2 for 2.5)
  CHECK(amount_fen(30 * 60 * 1000, 5) == 3);
  CHECK(amount_fen(30 * 60 * 1000, 7) == 4);
}

TEST_CASE("amount_fen of zero duration or zero rate is zero") {
  CHECK(amount_fen(0, 12000) == 0);
  CHECK(amount_fen(3'600'000, 0) == 0);
}

TEST_CASE("amount_fen handles huge durations exactly and refuses overflow") {
  // 10 years at 1,000,000 fen/hour: exact, no precision loss.
  const int64_t ten_years_ms = 10LL * 365 * 24 * 3'600'000;
  CHECK(amount_fen(ten_years_ms, 1'000'000) == 10LL * 365 * 24 * 1'000'000);
  // the largest duration at 1 fen/hour stays exact
  const int64_t max = std::numeric_limits<int64_t>::max();
  CHECK(amount_fen(max, 1) == max / 3'600'000 + ((max % 3'600'000) >= 1'800'000 ? 1 : 0));
  // overflow is reported, never wrapped
  CHECK_FALSE(amount_fen(max, 10'000'000).has_value());
  CHECK_FALSE(amount_fen(max / 2, 1'000'000'000).has_value());
  CHECK_FALSE(amount_fen(-1, 100).has_value());
  CHECK_FALSE(amount_fen(100, -1).has_value());
}

TEST_CASE("make_charge uses the rate of the user's category") {
  FeeStandard fee{"inst", 12000, 30000, "CNY"};
  ChargeInput in;
  in.session = "s1";
  in.instrument = "inst";
  in.duration_ms = 2 * 3'600'000;
  in.fee = fee;

  in.user = User{"alice", "Alice", UserCategory::internal_student, "", false};
  Charge internal = make_charge(in);
  CHECK(internal.rate_fen_per_hour == 12000);
  CHECK(internal.amount_fen == 24000);
  CHECK(internal.category == "internal_student");
  CHECK(internal.flags.empty());

  in.user = User{"bob", "Bob", UserCategory::external_academic, "", false};
  Charge external = make_charge(in);
  CHECK(external.rate_fen_per_hour == 30000);
  CHECK(external.amount_fen == 60000);
  CHECK(external.category == "external_academic");

  // Students and staff pay the internal rate, everyone from outside the external one.
  using C = UserCategory;
  for (auto [cat, rate] :
       {std::pair{C::internal_student, 12000}, std::pair{C::internal_staff, 12000}, std::pair{C::other_campus, 30000},
        std::pair{C::external_academic, 30000}, std::pair{C::enterprise, 30000}}) {
    in.user = User{"u", "U", cat, "", false};
    INFO(to_string(cat));
    CHECK(make_charge(in).rate_fen_per_hour == rate);
    CHECK(make_charge(in).category == to_string(cat));
  }
}

TEST_CASE("make_charge records unknown user and missing fee standard with amount 0 and a flag") {
  ChargeInput in;
  in.session = "s1";
  in.instrument = "inst";
  in.duration_ms = 3'600'000;
  in.fee = FeeStandard{"inst", 12000, 30000, "CNY"};
  Charge unknown = make_charge(in);
  CHECK(unknown.amount_fen == 0);
  CHECK(unknown.session == "s1");
  CHECK(unknown.flags == std::vector<std::string>{"unknown_user"});

  in.user = User{"alice", "Alice", UserCategory::internal_staff, "", false};
  in.fee.reset();
  in.default_currency = "CNY";
  Charge nofee = make_charge(in);
  CHECK(nofee.amount_fen == 0);
  CHECK(nofee.user == "alice");
  CHECK(nofee.currency == "CNY");
  CHECK(nofee.flags == std::vector<std::string>{"no_fee_standard"});
}

// GCC 12 at -O2 warns that the optional's strings "may be used uninitialized" here (a known false
// positive of inlined std::optional assignment); the values are all set.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
TEST_CASE("make_charge clamps a negative duration to zero and flags it") {
  ChargeInput in;
  in.duration_ms = -5000;
  in.fee = FeeStandard{"inst", 12000, 30000, "CNY"};
  in.user = User{"alice", "Alice", UserCategory::internal_staff, "", false};
  Charge c = make_charge(in);
  CHECK(c.duration_ms == 0);
  CHECK(c.amount_fen == 0);
  CHECK(c.flags == std::vector<std::string>{"negative_duration"});
}
#pragma GCC diagnostic pop
