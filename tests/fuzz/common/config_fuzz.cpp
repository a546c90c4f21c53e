// Fuzz target "config": every loader that reads TOML text, over any bytes — the TOML document and
// its accessors (common/config), a board file (common/board: board::load reads a file, so the
// input is written to one), the server's config (server/config) and the terminal's config
// (terminal/terminal_config). What must hold: no crash and no exception (toml++ throws; config.cpp
// must turn that into a Result naming the file, line and column), every error has a reason, and
// a document's accessors answer for every key whatever its type.
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <unistd.h>

#include "labgate/common/board.hpp"
#include "labgate/common/config.hpp"
#include "server/config/server_config.hpp"
#include "terminal/terminal_config.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace fs = std::filesystem;
namespace config = lg::config;

namespace {

/// A folder of this process for the board file, removed at exit.
struct Scratch {
  fs::path dir = fs::temp_directory_path() / ("labgate-fuzz-config-" + std::to_string(::getpid()));
  Scratch() { fs::create_directories(dir); }
  ~Scratch() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

template <class R>
void must_explain(const R& r) {
  if (!r) FUZZ_CHECK(!r.error().reason.empty());
}

/// Calls every accessor on every key of s, and on its tables, down to a depth of 8.
void walk(const config::Section& s, int depth) {
  if (depth > 8) return;
  must_explain(s.reject_unknown({"id", "name"}));
  for (const auto& key : s.keys()) {
    FUZZ_CHECK(s.has(key));
    FUZZ_CHECK(s.path(key).size() >= key.size());
    must_explain(s.string(key));
    must_explain(s.integer(key, -5, 5));
    must_explain(s.boolean(key));
    must_explain(s.number_or(key, 0.0, -1e6, 1e6));
    must_explain(s.one_of(key, {"a", "b"}));
    must_explain(s.strings_or(key));
    (void)s.resolve_path(key);
    if (auto sub = s.optional_section(key); sub && *sub) walk(**sub, depth + 1);
    if (auto list = s.tables(key)) {
      for (const auto& t : *list) walk(t, depth + 1);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Scratch scratch;
  const std::string_view in = lg::fuzz::text(data, size);

  auto doc = config::Document::parse(in, scratch.dir / "fuzz.toml");
  if (!doc) {
    FUZZ_CHECK(doc.error().reason.rfind((scratch.dir / "fuzz.toml").string(), 0) == 0);
  } else {
    walk(doc->root(), 0);
    must_explain(lg::server::load_config(*doc));
  }

  must_explain(lg::terminal::parse_config(in, scratch.dir / "terminal.toml"));

  const fs::path board_file = scratch.dir / "board.toml";
  {
    std::ofstream out(board_file, std::ios::binary | std::ios::trunc);
    out.write(in.data(), static_cast<std::streamsize>(in.size()));
  }
  auto board = lg::board::load(board_file);
  if (board) {
    for (const auto& o : board->outputs) {
      FUZZ_CHECK(o.coil < board->relay_coils);
      FUZZ_CHECK(board->output(o.name) != nullptr);
    }
  } else {
    FUZZ_CHECK(!board.error().reason.empty());
  }
  return 0;
}
