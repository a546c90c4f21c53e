// labgate-swipe: injects card swipes into a terminal, either through its Unix card socket (one
// uid per line, one JSON reply line each) or as STX/ETX-framed ASCII lines on a serial tty.
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "labgate/common/result.hpp"

namespace {

constexpr int kReplyTimeoutMs = 10000;

/// The bytes a serial reader sends for one card: STX, uid, CR LF, ETX.
std::string serial_frame(const std::string& uid) { return "\x02" + uid + "\r\n\x03"; }

/// Writes all of `data` to fd.
lg::Status write_all(int fd, const std::string& data) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return lg::Error::from(std::error_code(errno, std::generic_category()), "write failed");
    }
    done += static_cast<std::size_t>(n);
  }
  return {};
}

/// Reads one '\n'-terminated line (without the newline), waiting at most timeout_ms in total.
/// `buffer` keeps bytes that arrived after the line.
lg::Result<std::string> read_line(int fd, std::string& buffer, int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    const auto nl = buffer.find('\n');
    if (nl != std::string::npos) {
      std::string line = buffer.substr(0, nl);
      buffer.erase(0, nl + 1);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      return line;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0)
      return lg::Error::from(std::make_error_code(std::errc::timed_out),
                             "no reply within " + std::to_string(timeout_ms / 1000) + " s");
    pollfd p{fd, POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0) {
      if (errno == EINTR) continue;
      return lg::Error::from(std::error_code(errno, std::generic_category()), "poll failed");
    }
    if (r == 0) continue;
    char chunk[4096];
    const ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n < 0) {
      if (errno == EINTR) continue;
      return lg::Error::from(std::error_code(errno, std::generic_category()), "read failed");
    }
    if (n == 0) return lg::Error::from(std::make_error_code(std::errc::connection_reset),
                                       "terminal closed the connection");
    buffer.append(chunk, static_cast<std::size_t>(n));
  }
}

/// Connects to a Unix stream socket.
lg::Result<int> connect_unix(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) return lg::Error::invalid("socket path too long: " + path);
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return lg::Error::from(std::error_code(errno, std::generic_category()), "socket failed");
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) {
    const int e = errno;
    ::close(fd);
    return lg::Error::from(std::error_code(e, std::generic_category()), "cannot connect to " + path);
  }
  return fd;
}

void pause_ms(int ms) {
  if (ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

int swipe_socket(const std::string& path, const std::vector<std::string>& cards, int delay_ms) {
  auto fd = connect_unix(path);
  if (!fd) {
    std::cerr << "labgate-swipe: " << fd.error().message() << "\n";
    return 1;
  }
  std::string buffer;
  int rc = 0;
  for (std::size_t i = 0; i < cards.size(); ++i) {
    if (i > 0) pause_ms(delay_ms);
    if (auto st = write_all(*fd, cards[i] + "\n"); !st) {
      std::cerr << "labgate-swipe: card " << cards[i] << ": " << st.error().message() << "\n";
      rc = 1;
      break;
    }
    auto line = read_line(*fd, buffer, kReplyTimeoutMs);
    if (!line) {
      std::cerr << "labgate-swipe: card " << cards[i] << ": " << line.error().message() << "\n";
      rc = 1;
      break;
    }
    std::cout << *line << std::endl;
  }
  ::close(*fd);
  return rc;
}

int swipe_serial(const std::string& device, const std::vector<std::string>& cards, int delay_ms) {
  const int fd = ::open(device.c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) {
    std::cerr << "labgate-swipe: cannot open " << device << ": " << std::strerror(errno) << "\n";
    return 1;
  }
  termios tio{};
  if (::tcgetattr(fd, &tio) == 0) {  // a tty: raw 9600 8N1 like a reader; other files as they are
    ::cfmakeraw(&tio);
    ::cfsetispeed(&tio, B9600);
    ::cfsetospeed(&tio, B9600);
    ::tcsetattr(fd, TCSANOW, &tio);
  }
  int rc = 0;
  for (std::size_t i = 0; i < cards.size(); ++i) {
    if (i > 0) pause_ms(delay_ms);
    if (auto st = write_all(fd, serial_frame(cards[i])); !st) {
      std::cerr << "labgate-swipe: " << device << ": card " << cards[i] << ": " << st.error().message() << "\n";
      rc = 1;
      break;
    }
    ::tcdrain(fd);
    std::cout << "sent " << cards[i] << std::endl;
  }
  ::close(fd);
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  std::string socket_path;
  std::string device;
  std::vector<std::string> cards;
  int delay_ms = 0;
  CLI::App app{"labgate-swipe: inject card swipes into a labgate terminal"};
  auto* sock = app.add_option("--socket", socket_path, "Terminal card socket (Unix stream, JSON reply per card)");
  auto* ser = app.add_option("--serial", device, "Serial device (e.g. a pty) to send STX/ETX-framed uids to");
  sock->excludes(ser);
  app.add_option("--delay-ms", delay_ms, "Pause between cards")->check(CLI::NonNegativeNumber);
  app.add_option("cards", cards, "Card uids")->required();
  try {
    app.parse(argc, argv);
    if (socket_path.empty() && device.empty()) throw CLI::RequiredError("--socket or --serial");
    for (const auto& c : cards) {
      if (c.empty() || c.find_first_of("\r\n\x02\x03") != std::string::npos)
        throw CLI::ValidationError("cards", "card uid must be non-empty and on one line: '" + c + "'");
    }
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;  // --help is 0; any usage error is 2
  }
  std::signal(SIGPIPE, SIG_IGN);
  return socket_path.empty() ? swipe_serial(device, cards, delay_ms) : swipe_socket(socket_path, cards, delay_ms);
}
