// CSV as HR and student systems export it (RFC 4180): fields separated by commas, optionally
// quoted with "..." (a quote inside doubled), rows ended by LF or CRLF, a UTF-8 byte order mark
// at the start ignored. Pure: text in, rows out, with the line each row starts on.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "labgate/common/result.hpp"

namespace lg::csv {

struct Row {
  std::size_t line = 0;  ///< 1-based line of the file the row starts on
  std::vector<std::string> fields;
};

/// Parses the whole text. Blank lines are skipped. An unterminated quote or a character after a
/// closing quote is an error naming its line. The text must be UTF-8 (not checked here).
Result<std::vector<Row>> parse(std::string_view text);

/// True if text is valid UTF-8 (so a file that is not can be taken as GBK/GB18030).
bool valid_utf8(std::string_view text);

}  // namespace lg::csv
