// The shared defaults and the hours display rule (common/include/labgate/common/defaults.hpp).
#include <doctest/doctest.h>

#include "labgate/common/defaults.hpp"
#include "labgate/common/money.hpp"

using namespace lg::defaults;

TEST_CASE("defaults: one value each, and the old names follow them") {
  CHECK(kTimeZone == "Asia/Shanghai");
  CHECK(kCurrency == "CNY");
  CHECK(lg::money::kDefaultCurrency == kCurrency);
  CHECK(kPageSize == 100);
  CHECK(kMaxPageSize == 10'000);
  CHECK(kPageSize <= kMaxPageSize);
}

TEST_CASE("hours shown to people: hundredths of an hour, rounded half up") {
  static_assert(centi_hours(5'400'000) == 150);
  CHECK(centi_hours(0) == 0);
  CHECK(centi_hours(17'999) == 0);
  CHECK(centi_hours(18'000) == 1);
  CHECK(centi_hours(3'599'000) == 100);
  CHECK(centi_hours(-3'600'000) == -100);
  CHECK(centi_hours(-18'000) == -1);
  CHECK(hours_text(5'400'000) == "1.50");
  CHECK(hours_text(0) == "0.00");
  CHECK(hours_text(18'000) == "0.01");
  CHECK(hours_text(-900'000) == "-0.25");
  CHECK(hours_text(-1) == "0.00");
  CHECK(hours_text(INT64_MIN) == "-2562047788015.22");  // no overflow at the edge
}
