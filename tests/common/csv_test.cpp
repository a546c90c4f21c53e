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
  // RFC 3629 (found by the fuzz target csv: labgatectl sent such text on as UTF-8 and the JSON
  // library threw): no surrogates, no overlong 3- or 4-byte forms, nothing above U+10FFFF.
  CHECK_FALSE(csv::valid_utf8("\xED\xBB\xBF"));      // U+DEFF, a surrogate
  CHECK_FALSE(csv::valid_utf8("\xED\xA0\x80"));      // U+D800
  CHECK_FALSE(csv::valid_utf8("\xE0\x80\xAF"));      // overlong '/'
  CHECK_FALSE(csv::valid_utf8("\xF0\x80\x80\xAF"));  // overlong '/'
  CHECK_FALSE(csv::valid_utf8("\xF4\x90\x80\x80"));  // U+110000
  CHECK_FALSE(csv::valid_utf8("\xF5\x80\x80\x80"));
  CHECK(csv::valid_utf8("\xED\x9F\xBF"));            // U+D7FF, the last before the surrogates
  CHECK(csv::valid_utf8("\xEE\x80\x80"));            // U+E000, the first after them
  CHECK(csv::valid_utf8("\xF0\x9F\x98\x80"));        // U+1F600
  CHECK(csv::valid_utf8("\xF4\x8F\xBF\xBF"));        // U+10FFFF
}
