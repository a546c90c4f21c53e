#include "server/core/sheet.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <system_error>

#include <xlsxwriter.h>

namespace lg::server::sheet {

namespace {

std::string csv_field(const Cell& c) {
  if (const auto* i = std::get_if<int64_t>(&c)) return std::to_string(*i);
  const std::string& s = std::get<std::string>(c);
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char ch : s) {
    if (ch == '"') out += '"';
    out += ch;
  }
  return out + "\"";
}

}  // namespace

std::string to_csv(const Sheet& s) {
  std::string out = "\xEF\xBB\xBF";
  for (std::size_t i = 0; i < s.headers.size(); ++i) out += (i ? "," : "") + csv_field(s.headers[i]);
  out += "\r\n";
  for (const auto& row : s.rows) {
    for (std::size_t i = 0; i < row.size(); ++i) out += (i ? "," : "") + csv_field(row[i]);
    out += "\r\n";
  }
  return out;
}

Result<std::string> to_xlsx(const Sheet& s) {
  // libxlsxwriter writes a file; a private temporary one is read back and removed.
  const char* tmpdir = std::getenv("TMPDIR");
  std::string path = std::string(tmpdir && *tmpdir ? tmpdir : "/tmp") + "/labgate-sheet-XXXXXX";
  const int fd = mkstemp(path.data());
  if (fd < 0) return Error::from(std::make_error_code(std::errc::io_error), "sheet: cannot make a temporary file in " + path);
  ::close(fd);
  struct Remove {
    std::string p;
    ~Remove() { std::remove(p.c_str()); }
  } remove{path};
  lxw_workbook* wb = workbook_new(path.c_str());
  if (!wb) return Error::from(std::make_error_code(std::errc::io_error), "sheet: libxlsxwriter could not start a workbook");
  const std::string name = s.name.empty() ? "Sheet1" : s.name.substr(0, 31);
  lxw_worksheet* ws = workbook_add_worksheet(wb, name.c_str());
  lxw_format* bold = workbook_add_format(wb);
  format_set_bold(bold);
  for (std::size_t c = 0; c < s.headers.size(); ++c)
    worksheet_write_string(ws, 0, static_cast<lxw_col_t>(c), s.headers[c].c_str(), bold);
  lxw_row_t r = 1;
  for (const auto& row : s.rows) {
    for (std::size_t c = 0; c < row.size(); ++c) {
      const auto col = static_cast<lxw_col_t>(c);
      // Integers (fen, counts) are exact in a double up to 2^53 fen (90 trillion yuan).
      if (const auto* i = std::get_if<int64_t>(&row[c])) worksheet_write_number(ws, r, col, static_cast<double>(*i), nullptr);
      else worksheet_write_string(ws, r, col, std::get<std::string>(row[c]).c_str(), nullptr);
    }
    ++r;
  }
  if (workbook_close(wb) != LXW_NO_ERROR) return Error::from(std::make_error_code(std::errc::io_error), "sheet: libxlsxwriter could not write the workbook");
  std::ifstream in(path, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  if (!in.good() && !in.eof()) return Error::from(std::make_error_code(std::errc::io_error), "sheet: cannot read the workbook back");
  return bytes.str();
}

}  // namespace lg::server::sheet
