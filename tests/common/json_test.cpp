// The strict JSON parser both the protocol and the API use.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "labgate/common/json.hpp"

using lg::json::parse_strict;

TEST_CASE("parse_strict accepts ordinary JSON") {
  auto j = parse_strict(R"({"a":1,"b":{"a":2,"c":[{"a":3},{"a":4}]}})");
  REQUIRE(j);
  CHECK((*j)["b"]["c"][1]["a"] == 4);
}

TEST_CASE("parse_strict refuses a duplicate key at any depth, naming it") {
  auto top = parse_strict(R"({"seq":1,"seq":2})");
  REQUIRE_FALSE(top);
  CHECK(top.error().reason == "duplicate key \"seq\"");
  auto nested = parse_strict(R"({"records":[{"id":"a","kind":"alarm","id":"b"}]})");
  REQUIRE_FALSE(nested);
  CHECK(nested.error().reason == "duplicate key \"id\"");
  // the same key in sibling objects is fine
  CHECK(parse_strict(R"([{"id":1},{"id":2}])"));
  // escapes that decode to the same key are the same key
  CHECK_FALSE(parse_strict(R"({"id":1,"\u0069d":2})"));
}

TEST_CASE("parse_strict refuses invalid JSON and deep nesting") {
  CHECK(parse_strict("{\"a\":").error().reason == "not valid JSON");
  CHECK_FALSE(parse_strict(""));
  std::string deep(40, '[');
  deep += std::string(40, ']');
  auto d = parse_strict(deep);
  REQUIRE_FALSE(d);
  CHECK(d.error().reason.find("nested deeper") != std::string::npos);
  CHECK(parse_strict(std::string(10, '[') + std::string(10, ']')));
}

TEST_CASE("has_control_chars") {
  CHECK(lg::json::has_control_chars(std::string("a\0b", 3)));
  CHECK(lg::json::has_control_chars("a\nb"));
  CHECK(lg::json::has_control_chars("\x7f"));
  CHECK_FALSE(lg::json::has_control_chars("张三 O'Brien"));
}
