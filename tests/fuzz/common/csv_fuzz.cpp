// Fuzz target "csv": the CSV reader of the directory import (common/include/labgate/common/csv.hpp)
// over any bytes, as HR and student systems might export them. What must hold:
// - no crash, no exception: bad input is a Result naming its line;
// - rows start on lines >= 1 that never go backwards, and no row is blank (one empty field);
// - what was read, written out again in RFC 4180 (every field quoted) reads back to the same fields;
// - valid_utf8 agrees with the JSON library's own UTF-8 check, since text it calls UTF-8 is put
//   into JSON as it is (labgatectl import) and text it refuses is converted from GBK.
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "labgate/common/csv.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace csv = lg::csv;

namespace {

/// RFC 4180 with every field quoted and LF line ends.
std::string write(const std::vector<csv::Row>& rows) {
  std::string out;
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < row.fields.size(); ++i) {
      if (i) out += ',';
      out += '"';
      for (char c : row.fields[i]) {
        if (c == '"') out += '"';
        out += c;
      }
      out += '"';
    }
    out += '\n';
  }
  return out;
}

/// Whether the JSON library takes s as a string (it refuses invalid UTF-8 when it writes JSON).
bool json_takes(std::string_view s) {
  try {
    (void)nlohmann::json(std::string(s)).dump();
    return true;
  } catch (const nlohmann::json::exception&) {
    return false;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in = lg::fuzz::text(data, size);

  auto rows = csv::parse(in);
  if (!rows) {
    FUZZ_CHECK(rows.error().reason.rfind("line ", 0) == 0);
  } else {
    std::size_t last = 1;
    for (const auto& row : *rows) {
      FUZZ_CHECK(row.line >= last);
      last = row.line;
      FUZZ_CHECK(!row.fields.empty());
      FUZZ_CHECK(!(row.fields.size() == 1 && row.fields[0].empty()));
    }
    auto again = csv::parse(write(*rows));
    FUZZ_CHECK(again.has_value());
    FUZZ_CHECK(again->size() == rows->size());
    for (std::size_t i = 0; i < rows->size(); ++i) FUZZ_CHECK((*again)[i].fields == (*rows)[i].fields);
  }

  FUZZ_CHECK(csv::valid_utf8(in) == json_takes(in));
  return 0;
}
