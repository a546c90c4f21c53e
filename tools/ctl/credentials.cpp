#include "credentials.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <system_error>

namespace lg::ctl {
namespace fs = std::filesystem;

namespace {

Error os_error(const std::string& what) {
  const int e = errno;
  return Error::from(std::error_code(e, std::generic_category()), what + ": " + std::strerror(e));
}

/// Creates dir and its missing parents mode 0700 (existing ones are left as they are).
Status make_private_dirs(const fs::path& dir) {
  if (dir.empty()) return {};
  std::error_code ec;
  if (fs::is_directory(dir, ec)) return {};
  if (auto s = make_private_dirs(dir.parent_path()); !s) return s;
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return os_error("cannot create " + dir.string());
  return {};
}

// The terminal state to restore if the person presses Ctrl-C while echo is off.
struct termios g_saved;
volatile std::sig_atomic_t g_echo_off = 0;

void restore_and_exit(int sig) {
  if (g_echo_off) ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &g_saved);
  const char nl = '\n';
  (void)!::write(STDERR_FILENO, &nl, 1);
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

}  // namespace

Result<fs::path> token_file_path(const std::string& token_file, const std::string& xdg_config_home,
                                 const std::string& home) {
  if (!token_file.empty()) return fs::path(token_file);
  if (!xdg_config_home.empty()) return fs::path(xdg_config_home) / "labgate" / "token";
  if (!home.empty()) return fs::path(home) / ".config" / "labgate" / "token";
  return Error::invalid("no place for the token file: set LABGATE_TOKEN_FILE, XDG_CONFIG_HOME or HOME");
}

Result<fs::path> token_file_from_env() {
  auto env = [](const char* name) {
    const char* v = std::getenv(name);
    return std::string(v ? v : "");
  };
  return token_file_path(env("LABGATE_TOKEN_FILE"), env("XDG_CONFIG_HOME"), env("HOME"));
}

Status save_token(const fs::path& path, const std::string& token) {
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  if (auto s = make_private_dirs(dir); !s) return s;
  std::string tmp = (dir / ("." + path.filename().string() + ".XXXXXX")).string();
  const int fd = ::mkstemp(tmp.data());  // mode 0600
  if (fd < 0) return os_error("cannot write the token file in " + dir.string());
  const std::string text = token + "\n";
  bool ok = ::fchmod(fd, 0600) == 0 && ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            ::fsync(fd) == 0;
  if (!ok) {
    auto e = os_error("cannot write " + tmp);
    ::close(fd);
    ::unlink(tmp.c_str());
    return e;
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    auto e = os_error("cannot replace " + path.string());
    ::unlink(tmp.c_str());
    return e;
  }
  if (const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY); dfd >= 0) {  // the rename itself is durable
    ::fsync(dfd);
    ::close(dfd);
  }
  return {};
}

Result<std::string> load_token(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (errno == ENOENT) return std::string();
    return os_error("cannot read " + path.string());
  }
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return std::string();
  const auto last = text.find_last_not_of(" \t\r\n");
  return text.substr(first, last - first + 1);
}

Result<bool> remove_token(const fs::path& path) {
  if (::unlink(path.c_str()) == 0) return true;
  if (errno == ENOENT) return false;
  return os_error("cannot remove " + path.string());
}

Result<std::string> read_line(std::istream& in, const std::string& what) {
  std::string line;
  if (!std::getline(in, line)) return Error::invalid("no " + what + " on stdin (one line expected)");
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

bool stdin_is_terminal() { return ::isatty(STDIN_FILENO) == 1; }

Result<std::string> read_secret(const std::string& prompt) {
  if (!stdin_is_terminal()) return read_line(std::cin, prompt.substr(0, prompt.find(':')));
  std::cerr << prompt << std::flush;
  if (::tcgetattr(STDIN_FILENO, &g_saved) != 0) return os_error("cannot read the terminal's settings");
  struct termios quiet = g_saved;
  quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
  quiet.c_lflag |= ECHONL;  // the newline typed still shows
  auto old_int = ::signal(SIGINT, restore_and_exit);
  auto old_term = ::signal(SIGTERM, restore_and_exit);
  g_echo_off = 1;
  if (::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) != 0) {
    g_echo_off = 0;
    ::signal(SIGINT, old_int);
    ::signal(SIGTERM, old_term);
    return os_error("cannot turn off the terminal's echo");
  }
  auto line = read_line(std::cin, prompt.substr(0, prompt.find(':')));
  ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &g_saved);
  g_echo_off = 0;
  ::signal(SIGINT, old_int);
  ::signal(SIGTERM, old_term);
  return line;
}

}  // namespace lg::ctl
