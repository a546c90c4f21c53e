// labgate-boardcheck: loads every board file given with lg::board::load and prints a one-line
// summary or the loader's error. Run over boards/*/board.toml at build time: a broken board
// file fails the build.
#include <filesystem>
#include <iostream>
#include <string>

#include "labgate/common/board.hpp"

namespace {

/// Extra checks that need the file's location: the folder names the board, and a cross
/// toolchain file exists for non-native boards.
std::string check_layout(const std::filesystem::path& file, const lg::board::Board& b) {
  const std::string folder = file.parent_path().filename().string();
  if (!folder.empty() && folder != "." && folder != b.name)
    return "name \"" + b.name + "\" differs from its folder \"" + folder + "\"";
  if (b.toolchain != "native") {
    const auto dir = std::filesystem::absolute(file).parent_path().parent_path().parent_path() / "toolchains";
    const auto tc = dir / (b.toolchain + ".cmake");
    if (std::filesystem::is_directory(dir) && !std::filesystem::exists(tc))
      return "toolchain: \"" + b.toolchain + "\" has no file " + tc.string();
  }
  return {};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: labgate-boardcheck BOARD.toml...\n";
    return 2;
  }
  int failures = 0;
  for (int i = 1; i < argc; ++i) {
    const std::filesystem::path file(argv[i]);
    auto b = lg::board::load(file);
    if (!b) {
      const std::string msg = b.error().reason;  // the loader usually names the file already
      std::cerr << "boardcheck: " << (msg.find(file.string()) == std::string::npos ? file.string() + ": " : "")
                << msg << "\n";
      ++failures;
      continue;
    }
    if (const std::string why = check_layout(file, *b); !why.empty()) {
      std::cerr << "boardcheck: " << file.string() << ": " << why << "\n";
      ++failures;
      continue;
    }
    std::cout << "board " << b->name << ": " << b->arch << ", " << lg::board::to_string(b->reader) << " reader, "
              << b->outputs.size() << " output(s) on " << b->relay_coils << " coils";
    if (b->meter) std::cout << ", " << lg::board::to_string(b->meter->model) << " meter";
    std::cout << "\n";
  }
  return failures == 0 ? 0 : 1;
}
