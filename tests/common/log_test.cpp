// Log lines are for operators: a value from a request or payload never forges a line.
#include <doctest/doctest.h>

#include <cstdio>
#include <string>
#include <unistd.h>

#include "labgate/common/log.hpp"

using lg::log::escape;

TEST_CASE("escape keeps printable ASCII and valid UTF-8 as they are") {
  CHECK(escape("GET /api/users -> 200") == "GET /api/users -> 200");
  CHECK(escape("张三 (化学学院)") == "张三 (化学学院)");
  CHECK(escape("") == "");
}

TEST_CASE("escape turns line breaks, NUL and other controls into visible escapes") {
  CHECK(escape("a\nb") == "a\\nb");
  CHECK(escape("a\r\nERROR forged") == "a\\r\\nERROR forged");
  CHECK(escape(std::string("a\0b", 3)) == "a\\x00b");
  CHECK(escape("tab\there") == "tab\\there");
  CHECK(escape("\x1b[31mred") == "\\x1b[31mred");
  CHECK(escape("del\x7f") == "del\\x7f");
  // a backslash is doubled so an escape in the input cannot pose as one of ours
  CHECK(escape("a\\nb") == "a\\\\nb");
}

TEST_CASE("escape hexes bytes outside valid UTF-8 and C1 controls") {
  CHECK(escape("\xff") == "\\xff");
  CHECK(escape("\xe5\xbc") == "\\xe5\\xbc");             // truncated sequence
  CHECK(escape("\xc0\xaf") == "\\xc0\\xaf");             // overlong '/'
  CHECK(escape("\xed\xa0\x80") == "\\xed\\xa0\\x80");    // surrogate
  CHECK(escape("\xc2\x85next") == "\\xc2\\x85next");     // NEL, a C1 line break
  CHECK(escape("\xc2\xa9") == "\xc2\xa9");               // (c) is fine
}

TEST_CASE("a logged message with %0A decoded into it stays on one line") {
  char path[] = "/tmp/lg-log-XXXXXX";
  const int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  const int saved = dup(2);
  REQUIRE(dup2(fd, 2) >= 0);
  lg::log::set_level(lg::log::Level::info);
  lg::log::info("http", "GET /x\n2026-01-01T00:00:00.000Z ERROR server: forged\0tail");
  lg::log::info("http", std::string("GET /y\0z", 8));
  std::fflush(stderr);
  dup2(saved, 2);
  close(saved);
  std::FILE* f = std::fopen(path, "rb");
  REQUIRE(f);
  std::string text;
  char buf[512];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) text.append(buf, n);
  std::fclose(f);
  close(fd);
  unlink(path);
  int lines = 0;
  for (char c : text) lines += c == '\n';
  CHECK(lines == 2);
  CHECK(text.find('\0') == std::string::npos);
  CHECK(text.find("GET /x\\n2026-01-01T00:00:00.000Z ERROR server: forged") != std::string::npos);
  CHECK(text.find("GET /y\\x00z") != std::string::npos);
}
