// Fuzz target "directory_import": the directory import (server/directory/import.hpp) over any CSV
// text, as a dry run against a real SQLite store that holds a unit and a user (so rows both
// create and update). The input is one or more files: a line "=== <kind>" starts a file of that
// kind (named "<kind>.csv"); text before the first such line is a "users" file. What must hold:
// - no crash and no exception: a bad file or row is a Result whose reason starts with the name
//   of the file it is in (the header promises "errors name file and line");
// - a dry run changes nothing: the same import run twice gives the same answer, and no row is
//   listed as changed (rows are listed only with a snapshot, never on a dry run);
// - counts are never negative.
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>
#include <unistd.h>

#include "server/core/backend.hpp"
#include "server/directory/import.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace fs = std::filesystem;
namespace dir = lg::server::directory;

namespace {

constexpr int64_t kNow = 1'767'225'600'000;  // 2026-01-01T00:00:00Z

/// A migrated SQLite store in a folder of this process, removed at exit, with one unit and one user.
struct World {
  fs::path folder = fs::temp_directory_path() / ("labgate-fuzz-import-" + std::to_string(::getpid()));
  std::unique_ptr<lg::server::Backend> backend;

  World() {
    fs::create_directories(folder);
    lg::server::StoreSettings st;
    st.sqlite_path = (folder / "labgate.db").string();
    auto b = lg::server::open_backend(st);
    if (!b) throw std::runtime_error(b.error().message());
    backend = std::move(b).value();
    auto s = backend->stores();
    const std::vector<dir::ImportFile> seed{{"units", "units.csv", "id,name\nu,Physics\n"},
                                            {"users", "users.csv", "id,name,category,unit\nalice,Alice,internal_student,u\n"}};
    auto r = dir::import_csv(s.uow, s.directory, seed, false, kNow);
    if (!r) throw std::runtime_error(r.error().message());
  }
  ~World() {
    backend.reset();
    std::error_code ec;
    fs::remove_all(folder, ec);
  }
};

/// Splits the input into files at lines "=== <kind>".
std::vector<dir::ImportFile> files_of(std::string_view in) {
  std::vector<dir::ImportFile> files{{"users", "users.csv", ""}};
  std::size_t at = 0;
  while (at <= in.size()) {
    std::size_t end = in.find('\n', at);
    if (end == std::string_view::npos) end = in.size();
    const std::string_view line = in.substr(at, end - at);
    if (line.rfind("=== ", 0) == 0) {
      const std::string kind(line.substr(4));
      files.push_back({kind, kind + ".csv", ""});
    } else {
      files.back().text.append(line);
      if (end < in.size()) files.back().text += '\n';
    }
    at = end + 1;
  }
  if (files.size() > 1 && files.front().text.empty()) files.erase(files.begin());
  return files;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static World world;
  auto s = world.backend->stores();
  const auto files = files_of(lg::fuzz::text(data, size));

  auto first = dir::import_csv(s.uow, s.directory, files, true, kNow);
  auto second = dir::import_csv(s.uow, s.directory, files, true, kNow);
  FUZZ_CHECK(first.has_value() == second.has_value());
  if (!first) {
    const std::string& why = first.error().reason;
    bool names_file = false;
    for (const auto& f : files) names_file = names_file || why.rfind(f.name, 0) == 0;
    if (!names_file) std::fprintf(stderr, "error names no file: %s\n", why.c_str());
    FUZZ_CHECK(names_file);
    FUZZ_CHECK(why == second.error().reason);
    return 0;
  }
  FUZZ_CHECK(first->rows.empty());
  FUZZ_CHECK(first->counts == second->counts);
  for (const auto& [kind, by] : first->counts) {
    for (const auto& [what, n] : by) FUZZ_CHECK(n >= 0);
  }
  return 0;
}
