// One table for people to open in a spreadsheet: CSV (RFC 4180, UTF-8 with a byte order mark so
// Excel reads Chinese right) or XLSX (Debian's libxlsxwriter). Money cells are fen as integers and
// yuan as text with two decimals side by side, never floating point.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "labgate/common/result.hpp"

namespace lg::server::sheet {

using Cell = std::variant<std::string, int64_t>;

struct Sheet {
  std::string name;  ///< the worksheet's name (XLSX; at most 31 characters are kept)
  std::vector<std::string> headers;
  std::vector<std::vector<Cell>> rows;
};

/// The sheet as CSV text: a BOM, the header row, the rows; fields quoted when they hold a comma,
/// a quote or a line break; lines end in CRLF.
std::string to_csv(const Sheet& s);

/// The sheet as the bytes of an .xlsx workbook with one worksheet (header row bold), or an error
/// when the library fails (e.g. no room for its temporary file).
Result<std::string> to_xlsx(const Sheet& s);

}  // namespace lg::server::sheet
