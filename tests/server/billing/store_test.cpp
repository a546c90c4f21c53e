// The billing store contract, on both backends (open_store): a fee standard is retired with its
// history and charges nothing afterwards, until a new one is set.
#include <doctest/doctest.h>

#include "tests/server/test_support.hpp"

using namespace lg;
using namespace lg::server;
using namespace lg::server::test;

TEST_CASE("a retired fee standard stays listed, prices nothing, and a new one replaces it") {
  TempDir dir;
  auto store = open_store(dir);
  const int64_t now = ms("2026-03-02T01:00:00Z");
  seed(*store, now);
  auto& b = store->stores().billing;
  const std::string asked[] = {"inst-xrd"};
  auto fees = b.fees(asked);
  REQUIRE(fees);
  REQUIRE(fees->at("inst-xrd"));
  auto before = b.retire_fee_standard("inst-xrd", now + 1000);
  REQUIRE(before);
  CHECK(before->internal_fen_per_hour == 12000);
  CHECK_FALSE(before->retired_ms);
  fees = b.fees(asked);
  REQUIRE(fees);
  CHECK_FALSE(fees->at("inst-xrd"));  // a session ending now is charged nothing (no_fee_standard)
  auto listed = b.fee_standards({});
  REQUIRE(listed);
  REQUIRE(listed->size() == 1);
  CHECK(listed->front().retired_ms == now + 1000);
  auto again = b.retire_fee_standard("inst-xrd", now + 2000);
  REQUIRE_FALSE(again);
  CHECK(is(again.error(), Errc::conflict));
  auto none = b.retire_fee_standard("door-1", now);
  REQUIRE_FALSE(none);
  CHECK(is(none.error(), Errc::not_found));
  REQUIRE(b.put_fee_standard(FeeStandard{"inst-xrd", 15000, 30000, "CNY"}, now + 3000));
  fees = b.fees(asked);
  REQUIRE((fees && fees->at("inst-xrd")));
  CHECK(fees->at("inst-xrd")->internal_fen_per_hour == 15000);
  CHECK_FALSE(b.fee_standards({})->front().retired_ms);
}
