// Shared helpers for terminal unit tests.
#pragma once

#include <atomic>
#include <filesystem>
#include <string>
#include <unistd.h>

namespace lg::terminal::test {

/// A fresh directory under the build tree, removed when the object dies.
class TempDir {
 public:
  explicit TempDir(const std::string& tag) {
    static std::atomic<int> n{0};
    path_ = std::filesystem::path(LABGATE_BINARY_DIR) / "test-tmp" /
            ("terminal-" + tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

}  // namespace lg::terminal::test
