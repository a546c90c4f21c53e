// Private data directories.
#include <doctest/doctest.h>

#include <filesystem>
#include <unistd.h>

#include "labgate/common/files.hpp"

namespace fs = std::filesystem;

TEST_CASE("ensure_private_dir creates 0700 and tightens a directory others may enter") {
  const fs::path root = fs::temp_directory_path() / ("labgate-files-" + std::to_string(::getpid()));
  fs::remove_all(root);
  const fs::path fresh = root / "a" / "b";
  auto made = lg::files::ensure_private_dir(fresh);
  REQUIRE(made);
  CHECK_FALSE(*made);
  CHECK(fs::status(fresh).permissions() == fs::perms::owner_all);

  const fs::path loose = root / "loose";
  fs::create_directories(loose);
  fs::permissions(loose, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                             fs::perms::others_read | fs::perms::others_exec);
  auto tightened = lg::files::ensure_private_dir(loose);
  REQUIRE(tightened);
  CHECK(*tightened);
  CHECK(fs::status(loose).permissions() == fs::perms::owner_all);
  CHECK_FALSE(*lg::files::ensure_private_dir(loose));  // already private: nothing to say

  const fs::path file = root / "file";
  { FILE* f = std::fopen(file.c_str(), "w"); REQUIRE(f); std::fclose(f); }
  CHECK_FALSE(lg::files::ensure_private_dir(file));
  fs::remove_all(root);
}
