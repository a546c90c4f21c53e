#include "labgate/common/files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>

namespace lg::files {

Result<bool> ensure_private_dir(const std::filesystem::path& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::create_directories(dir, ec)) {
    fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace, ec);
    if (ec) return Error::from(ec, "cannot set the mode of " + dir.string());
    return false;
  }
  if (ec) return Error::from(ec, "cannot create " + dir.string());
  const auto st = fs::status(dir, ec);
  if (ec) return Error::from(ec, "cannot inspect " + dir.string());
  if (!fs::is_directory(st)) return Error::invalid(dir.string() + " is not a directory");
  const auto others = fs::perms::group_all | fs::perms::others_all;
  if ((st.permissions() & others) == fs::perms::none) return false;
  fs::permissions(dir, others, fs::perm_options::remove, ec);
  if (ec) return Error::from(ec, "cannot restrict " + dir.string() + " to its owner");
  return true;
}

Status write_atomic(const std::filesystem::path& path, std::string_view text, unsigned mode) {
  const auto errno_error = [](const std::string& what) {
    return Error::from(std::error_code(errno, std::generic_category()), what);
  };
  const std::string tmp = path.string() + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, static_cast<mode_t>(mode));
  if (fd < 0) return errno_error("cannot create " + tmp);
  ::fchmod(fd, static_cast<mode_t>(mode));  // the umask must not widen or narrow what was asked
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const Error e = errno_error("cannot write " + tmp);
      ::close(fd);
      return e;
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) {
    const Error e = errno_error("cannot sync " + tmp);
    ::close(fd);
    return e;
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return errno_error("cannot rename " + tmp + " to " + path.string());
  const std::string dir = path.has_parent_path() ? path.parent_path().string() : ".";
  if (const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return {};
}

Result<std::string> read_text(const std::filesystem::path& path, std::size_t max_bytes) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) return Error::from(ec, "cannot read " + path.string());
  if (size > max_bytes) return Error::invalid(path.string() + " is larger than " + std::to_string(max_bytes) + " bytes");
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error::invalid("cannot read " + path.string());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace lg::files
