// Money is integer fen; formatting and parsing never pass through floating point.
#include <doctest/doctest.h>

#include <cstdint>
#include <limits>

#include "labgate/common/money.hpp"

using namespace lg::money;

TEST_CASE("format fen as yuan") {
  CHECK(format(0) == "0.00");
  CHECK(format(5) == "0.05");
  CHECK(format(123450) == "1234.50");
  CHECK(format(-250) == "-2.50");
  CHECK(format(std::numeric_limits<int64_t>::min()) == "-92233720368547758.08");
}

TEST_CASE("parse yuan to fen") {
  CHECK(*parse("1234.5") == 123450);
  CHECK(*parse("0.07") == 7);
  CHECK(*parse("12") == 1200);
  CHECK(*parse("-3.10") == -310);
  CHECK_FALSE(parse("1.234"));
  CHECK_FALSE(parse("1e3"));
  CHECK_FALSE(parse("."));
  CHECK_FALSE(parse(""));
  CHECK_FALSE(parse("99999999999999999999"));
}
