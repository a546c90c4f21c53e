#include <doctest/doctest.h>

#include "server/domain/report.hpp"

using namespace lg::server::report;

TEST_CASE("hours_string gives two decimals rounded half up integer only") {
  CHECK(hours_string(0) == "0.00");
  CHECK(hours_string(3'600'000) == "1.00");
  CHECK(hours_string(5'400'000) == "1.50");
  CHECK(hours_string(17'999) == "0.00");  // 0.00499.. h
  CHECK(hours_string(18'000) == "0.01");  // exactly 0.005 h rounds up
  CHECK(hours_string(100LL * 3'600'000 + 35'999) == "100.01");
  CHECK(hours_string(1000000LL * 3'600'000) == "1000000.00");
}

TEST_CASE("aggregate groups by instrument user or month and totals everything") {
  std::vector<UsageItem> items{
      {"xrd", "XRD", "alice", "Alice", 100, 3'600'000, 12000},
      {"xrd", "XRD", "bob", "Bob", 200, 1'800'000, 15000},
      {"sem", "SEM", "alice", "Alice", 300, 900'500, 0},
      {"sem", "SEM", "", "", 400, 1000, 0},
  };
  auto month_of = [](int64_t ms) { return ms < 250 ? std::string("2026-01") : std::string("2026-02"); };

  auto by_inst = aggregate(items, GroupBy::instrument, month_of);
  REQUIRE(by_inst.rows.size() == 2);
  CHECK(by_inst.rows[0].key == "sem");
  CHECK(by_inst.rows[0].name == "SEM");
  CHECK(by_inst.rows[0].sessions == 2);
  CHECK(by_inst.rows[0].seconds == 901);
  CHECK(by_inst.rows[1].key == "xrd");
  CHECK(by_inst.rows[1].sessions == 2);
  CHECK(by_inst.rows[1].seconds == 5400);
  CHECK(by_inst.rows[1].hours == "1.50");
  CHECK(by_inst.rows[1].amount_fen == 27000);
  CHECK(by_inst.totals.sessions == 4);
  CHECK(by_inst.totals.amount_fen == 27000);
  CHECK(by_inst.totals.seconds == (3'600'000 + 1'800'000 + 900'500 + 1000) / 1000);

  auto by_user = aggregate(items, GroupBy::user, month_of);
  REQUIRE(by_user.rows.size() == 3);
  CHECK(by_user.rows[0].key.empty());  // unknown user keeps its own row
  CHECK(by_user.rows[0].name == "unknown user");
  CHECK(by_user.rows[1].key == "alice");
  CHECK(by_user.rows[1].sessions == 2);
  CHECK(by_user.rows[1].amount_fen == 12000);

  auto by_month = aggregate(items, GroupBy::month, month_of);
  REQUIRE(by_month.rows.size() == 2);
  CHECK(by_month.rows[0].key == "2026-01");
  CHECK(by_month.rows[0].sessions == 2);
  CHECK(by_month.rows[1].key == "2026-02");
  CHECK(by_month.rows[1].amount_fen == 0);
}

TEST_CASE("aggregate of nothing is an empty report with zero totals") {
  auto r = aggregate({}, GroupBy::instrument, [](int64_t) { return std::string(); });
  CHECK(r.rows.empty());
  CHECK(r.totals.sessions == 0);
  CHECK(r.totals.hours == "0.00");
}

TEST_CASE("group_by_from accepts exactly the three groupings") {
  CHECK(group_by_from("instrument") == GroupBy::instrument);
  CHECK(group_by_from("user") == GroupBy::user);
  CHECK(group_by_from("month") == GroupBy::month);
  CHECK_FALSE(group_by_from("lab").has_value());
}
