// The rules that refuse signed records a buggy or compromised terminal sends.
#include <doctest/doctest.h>

#include "server/ingest/record_rules.hpp"

using namespace lg;
using namespace lg::server::ingest;

TEST_CASE("check_resource binds every resource-naming record to the terminal's resource") {
  proto::Record r;
  r.seq = 7;
  proto::Access a;
  a.resource = "inst-tem";
  r.body = a;
  auto bad = check_resource(r, "inst-xrd");
  REQUIRE(bad);
  CHECK(bad->reason == "resource_mismatch");
  CHECK(bad->detail == "access seq 7 names resource inst-tem, terminal is enrolled for inst-xrd");
  CHECK_FALSE(check_resource(r, "inst-tem"));
  r.body = proto::MeterSample{"inst-tem", 100, 5};
  CHECK(check_resource(r, "inst-xrd"));
  r.body = proto::Alarm{"relay_fault", "x"};  // names no resource
  CHECK_FALSE(check_resource(r, "inst-xrd"));
}

TEST_CASE("check_duration: ceiling, sign, and agreement with the wall clock when it is trusted") {
  const int64_t h = 3'600'000;
  CHECK_FALSE(check_duration({0, h, h, true}));
  CHECK(check_duration({0, h, -1, false})->reason == "bad_duration");
  CHECK(check_duration({0, 0, 366LL * 24 * h, false}));  // ceiling holds even unsynced
  CHECK_FALSE(check_duration({0, 31LL * 24 * h, 31LL * 24 * h, true}));
  CHECK(check_duration({0, 32LL * 24 * h, 32LL * 24 * h, true}));
  CHECK(check_duration({h, 0, 0, true}));           // end before start
  CHECK_FALSE(check_duration({h, 0, 0, false}));    // ...unless the clock was not synced
  // tolerance: 120 s + 1% of the span
  CHECK(duration_tolerance_ms(h) == 120'000 + 36'000);
  CHECK_FALSE(check_duration({0, h, h + 156'000, true}));
  CHECK(check_duration({0, h, h + 156'001, true}));
  CHECK_FALSE(check_duration({0, h, h - 156'000, true}));
  CHECK(check_duration({0, h, h - 156'001, true}));
  CHECK(check_duration({0, 0, 366LL * 24 * h, true})->detail.find("longer than") != std::string::npos);
}
