#include <doctest/doctest.h>

#include "drivers/card_source.hpp"

using lg::terminal::LineSplitter;
using V = std::vector<std::string>;

TEST_CASE("LF / CRLF and CR end lines - blanks are skipped - spaces trimmed") {
  LineSplitter s;
  CHECK(s.feed("04A1B2C3\n") == V{"04A1B2C3"});
  CHECK(s.feed("AA\r\nBB\rCC\n\n\r\n") == V{"AA", "BB", "CC"});
  CHECK(s.feed("  DD \t\n") == V{"DD"});
}

TEST_CASE("partial lines are kept until their end arrives") {
  LineSplitter s;
  CHECK(s.feed("04A1").empty());
  CHECK(s.feed("B2C3").empty());
  CHECK(s.feed("\n") == V{"04A1B2C3"});
}

TEST_CASE("STX/ETX framing from serial readers") {
  LineSplitter s;
  CHECK(s.feed("\x02" "04A1B2C3" "\x03") == V{"04A1B2C3"});
  CHECK(s.feed("\x02" "AB" "\x03\r\n") == V{"AB"});
  // Noise before STX is discarded with the new frame.
  CHECK(s.feed("zz\x02" "CD" "\x03") == V{"CD"});
}

TEST_CASE("overlong lines are dropped whole / the next line is fine") {
  LineSplitter s(8);
  CHECK(s.feed("0123456789ABCDEF\nAB\n") == V{"AB"});
  CHECK(s.feed("12345678\n") == V{"12345678"});
}
