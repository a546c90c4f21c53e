#include <doctest/doctest.h>

#include "labgate/common/csv.hpp"

using namespace lg;

TEST_CASE("csv: BOM, quotes, doubled quotes, CRLF, blank lines and a newline inside quotes keep line numbers") {
  const std::string text =
      "\xEF\xBB\xBFid,name\r\n"
      "u1,\"Li, Wei\"\r\n"
      "\r\n"
      "u2,\"say \"\"hi\"\"\"\n"
      "u3,\"two\nlines\"\n"
      "u4,张伟\n";
  auto rows = csv::parse(text);
  REQUIRE_MESSAGE(rows, rows.error().reason);
  REQUIRE(rows->size() == 5);
  CHECK((*rows)[0].fields == std::vector<std::string>{"id", "name"});
  CHECK((*rows)[1].fields == std::vector<std::string>{"u1", "Li, Wei"});
  CHECK((*rows)[2].line == 4);
  CHECK((*rows)[2].fields[1] == "say \"hi\"");
  CHECK((*rows)[3].line == 5);
  CHECK((*rows)[3].fields[1] == "two\nlines");
  CHECK((*rows)[4].line == 7);
  CHECK((*rows)[4].fields[1] == "张伟");
  CHECK(csv::parse("a,\"open\nb,c\n").error().reason == "line 1: unterminated quoted field");
  CHECK(csv::parse("a,b\n\"x\"y,z\n").error().reason == "line 2: text after a closing quote");
  CHECK(csv::parse("a,b,\n")->front().fields == std::vector<std::string>{"a", "b", ""});
}

TEST_CASE("csv: valid_utf8 tells UTF-8 from GBK bytes") {
  CHECK(csv::valid_utf8("plain ascii"));
  CHECK(csv::valid_utf8("张伟"));
  CHECK_FALSE(csv::valid_utf8("\xD5\xC5\xCE\xB0"));  // 张伟 in GBK
  CHECK_FALSE(csv::valid_utf8("\xC0\xAF"));          // overlong
  CHECK_FALSE(csv::valid_utf8("\xE5\xBC"));          // truncated
}
