#include <doctest/doctest.h>

#include "server/reports/rules.hpp"

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

TEST_CASE("from_groups names rows, merges equal keys, sorts by key and totals every group") {
  std::vector<GroupSum> groups{
      {"xrd", "XRD", 2, 5'400'000, 27000},
      {"sem", "", 1, 900'500, 0},        // no directory name: the key
      {"xrd", "XRD", 1, 1000, 100},      // same key again: merged
  };
  auto r = from_groups(groups, GroupBy::instrument);
  REQUIRE(r.rows.size() == 2);
  CHECK(r.rows[0].key == "sem");
  CHECK(r.rows[0].name == "sem");
  CHECK(r.rows[0].seconds == 900);
  CHECK(r.rows[0].hours == "0.25");
  CHECK(r.rows[1].sessions == 3);
  CHECK(r.rows[1].amount_fen == 27100);
  CHECK(r.totals.key == "total");
  CHECK(r.totals.sessions == 4);
  CHECK(r.totals.amount_fen == 27100);
  CHECK(r.totals.hours == hours_string(5'400'000 + 900'500 + 1000));

  auto users = from_groups({{"", "", 1, 1000, 0}, {"bob", "", 1, 1000, 5}, {"alice", "Alice", 1, 1000, 7}},
                           GroupBy::user);
  REQUIRE(users.rows.size() == 3);
  CHECK(users.rows[0].name == "unknown user");
  CHECK(users.rows[1].name == "Alice");
  CHECK(users.rows[2].name == "bob");
  auto months = from_groups({{"2026-02", "", 1, 0, 1}, {"2026-01", "", 2, 0, 2}}, GroupBy::month);
  CHECK(months.rows[0].key == "2026-01");
  CHECK(months.rows[0].name == "2026-01");
}

TEST_CASE("aggregate in memory and from_groups of store sums give the same report") {
  std::vector<UsageItem> items{
      {"xrd", "XRD", "alice", "Alice", 100, 3'600'001, 12000},
      {"xrd", "XRD", "bob", "Bob", 200, 1'799'999, 15000},
      {"sem", "SEM", "", "", 400, 1000, 0},
  };
  auto mem = aggregate(items, GroupBy::user, [](int64_t) { return std::string("2026-01"); });
  auto sums = from_groups({{"alice", "Alice", 1, 3'600'001, 12000}, {"bob", "Bob", 1, 1'799'999, 15000},
                           {"", "", 1, 1000, 0}},
                          GroupBy::user);
  REQUIRE(mem.rows.size() == sums.rows.size());
  for (std::size_t i = 0; i < mem.rows.size(); ++i) {
    CHECK(mem.rows[i].key == sums.rows[i].key);
    CHECK(mem.rows[i].name == sums.rows[i].name);
    CHECK(mem.rows[i].hours == sums.rows[i].hours);
    CHECK(mem.rows[i].amount_fen == sums.rows[i].amount_fen);
  }
  CHECK(mem.totals.hours == sums.totals.hours);
}

TEST_CASE("period_from: one month, from..to of at most 12 months, or the current month") {
  CHECK(*period_from("", "", "", "2026-11") == Period{"2026-11", "2026-11"});
  CHECK(*period_from("2026-02", "", "", "2026-11") == Period{"2026-02", "2026-02"});
  CHECK(*period_from("", "2025-12", "2026-11", "2026-11") == Period{"2025-12", "2026-11"});  // 12 months
  CHECK(*period_from("", "2026-03", "2026-03", "x") == Period{"2026-03", "2026-03"});
  auto too_long = period_from("", "2025-11", "2026-11", "2026-11");
  REQUIRE_FALSE(too_long);
  CHECK(too_long.error().reason.find("13 months, at most 12") != std::string::npos);
  CHECK(period_from("", "2026-11", "2026-10", "").error().reason.find("before from") != std::string::npos);
  CHECK(period_from("", "2026-01", "", "").error().reason.rfind("to:", 0) == 0);
  CHECK(period_from("", "", "2026-01", "").error().reason.rfind("from:", 0) == 0);
  CHECK(period_from("2026-01", "2026-01", "2026-01", "").error().reason.rfind("month:", 0) == 0);
  CHECK_FALSE(period_from("2026-13", "", "", ""));
  CHECK_FALSE(period_from("2026-1", "", "", ""));
  CHECK_FALSE(period_from("1969-12", "", "", ""));
  CHECK_FALSE(period_from("", "2026-01", "2026-1x", ""));
}

TEST_CASE("months_of lists the months of a period across a year end") {
  CHECK(months_of(Period{"2025-11", "2026-02"}) ==
        std::vector<std::string>{"2025-11", "2025-12", "2026-01", "2026-02"});
  CHECK(months_of(Period{"2026-05", "2026-05"}) == std::vector<std::string>{"2026-05"});
  CHECK(months_of(Period{"2025-01", "2025-12"}).size() == 12);
}
