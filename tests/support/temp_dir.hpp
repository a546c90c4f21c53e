// A fresh directory for one test, under the build tree (so a failed run leaves its files where
// the developer looks), removed when the object dies.
#pragma once

#include <atomic>
#include <filesystem>
#include <string>
#include <system_error>
#include <unistd.h>

namespace lg::test {

class TempDir {
 public:
  /// tag names the test in the directory name: test-tmp/<tag>-<pid>-<n>.
  explicit TempDir(const std::string& tag = "t") {
    static std::atomic<int> n{0};
    path_ = std::filesystem::path(LABGATE_BINARY_DIR) / "test-tmp" /
            (tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  /// The path of a file in the directory.
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

}  // namespace lg::test
