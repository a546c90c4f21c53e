// labgate-modbus-sim: a Modbus slave simulating a relay board (coils) and an Eastron energy
// meter (input registers) over Modbus TCP (several clients at once) or RTU on a pty.
// The model lives in register_model.*; this file is the libmodbus loop around it.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pty.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <modbus/modbus.h>

#include "register_model.hpp"

namespace {

using lg::sim::MeterKind;
using lg::sim::RegisterModel;
using Clock = RegisterModel::Clock;

volatile std::sig_atomic_t g_stop = 0;

void on_signal(int) { g_stop = 1; }

struct Settings {
  std::optional<int> tcp_port;
  std::string host = "127.0.0.1";
  std::string rtu_link;
  int unit = 1;
  int coils = 8;
  std::string meter = "sdm120";
  std::string profile = "0:0,1:1200,60:800";
  double idle_w = 5.0;
  double voltage = 230.0;
  double initial_kwh = 0.0;
  std::string state_file;
  std::string port_file;
  int fail_writes = 0;
  bool verbose = false;
};

/// Writes `text` to `path` atomically (temporary file in the same directory, then rename).
lg::Status write_atomically(const std::filesystem::path& path, const std::string& text) {
  const std::filesystem::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!out) return lg::Error::invalid("cannot write " + tmp.string());
    out << text << '\n';
    if (!out.flush()) return lg::Error::invalid("cannot write " + tmp.string());
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return lg::Error::from(ec, "cannot rename " + tmp.string() + " to " + path.string());
  return {};
}

struct ModbusDeleter {
  void operator()(modbus_t* ctx) const { modbus_free(ctx); }
};
struct MappingDeleter {
  void operator()(modbus_mapping_t* m) const { modbus_mapping_free(m); }
};

/// The slave: model + libmodbus mapping, answering one request at a time.
class Slave {
 public:
  Slave(const Settings& s, MeterKind meter, RegisterModel model, modbus_mapping_t* mapping)
      : settings_(s), meter_(meter), model_(std::move(model)), mapping_(mapping),
        fail_writes_left_(s.fail_writes) {}

  /// Receives one request on ctx's current socket and answers it. Returns modbus_receive's rc.
  int serve_one(modbus_t* ctx) {
    uint8_t query[MODBUS_TCP_MAX_ADU_LENGTH];
    const int rc = modbus_receive(ctx, query);
    if (rc <= 0) return rc;  // 0: request for another unit; -1: error or closed
    const int header = modbus_get_header_length(ctx);
    const uint8_t function = query[header];
    const bool coil_write = function == MODBUS_FC_WRITE_SINGLE_COIL || function == MODBUS_FC_WRITE_MULTIPLE_COILS;
    const auto now = Clock::now();
    if (coil_write && fail_writes_left_ > 0) {
      --fail_writes_left_;
      if (settings_.verbose) std::cerr << "modbus-sim: injected busy exception on a coil write\n";
      modbus_reply_exception(ctx, query, MODBUS_EXCEPTION_SLAVE_OR_SERVER_BUSY);
      return rc;
    }
    model_.fill_input_registers(meter_, mapping_->tab_input_registers,
                                static_cast<std::size_t>(mapping_->nb_input_registers), now);
    if (modbus_reply(ctx, query, rc, mapping_) < 0) {
      if (settings_.verbose) std::cerr << "modbus-sim: reply failed: " << modbus_strerror(errno) << "\n";
      return rc;
    }
    if (coil_write) {
      for (uint16_t i = 0; i < model_.coil_count(); ++i) model_.set_coil(i, mapping_->tab_bits[i] != 0, now);
      // Count only writes libmodbus accepted: it answers an out-of-range address with an
      // exception and leaves the table as it was.
      const unsigned addr = (static_cast<unsigned>(query[header + 1]) << 8) | query[header + 2];
      const unsigned count = function == MODBUS_FC_WRITE_SINGLE_COIL
                                 ? 1u
                                 : (static_cast<unsigned>(query[header + 3]) << 8) | query[header + 4];
      if (count >= 1 && addr + count <= model_.coil_count()) model_.count_write();
      if (settings_.verbose) std::cerr << "modbus-sim: " << model_.state_json(now) << "\n";
      write_state(now);
    }
    return rc;
  }

  /// Called about every 200 ms: rewrites the state file once a second while powered.
  void tick() {
    const auto now = Clock::now();
    model_.advance(now);
    if (model_.powered() && now - last_state_ >= std::chrono::seconds(1)) write_state(now);
  }

  /// Writes the state file (if configured).
  void write_state(Clock::time_point now) {
    last_state_ = now;
    if (settings_.state_file.empty()) return;
    const lg::Status st = write_atomically(settings_.state_file, model_.state_json(now));
    if (!st) std::cerr << "modbus-sim: " << st.error().message() << "\n";
  }

 private:
  const Settings& settings_;
  MeterKind meter_;
  RegisterModel model_;
  modbus_mapping_t* mapping_;
  int fail_writes_left_;
  Clock::time_point last_state_{};
};

/// Opens a listening TCP socket on host:port (port 0 = any free port); returns fd and bound port.
int listen_tcp(const std::string& host, int port, int& bound_port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  const int yes = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1)
    throw std::runtime_error("--host: not an IPv4 address: " + host);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0)
    throw std::runtime_error("bind " + host + ":" + std::to_string(port) + ": " + std::strerror(errno));
  if (::listen(fd, 16) < 0) throw std::runtime_error(std::string("listen: ") + std::strerror(errno));
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  bound_port = ntohs(addr.sin_port);
  return fd;
}

/// Modbus TCP: a select() loop over the listening socket and every connected client.
int serve_tcp(const Settings& s, Slave& slave) {
  int port = 0;
  const int listener = listen_tcp(s.host, *s.tcp_port, port);
  std::unique_ptr<modbus_t, ModbusDeleter> ctx(modbus_new_tcp(s.host.c_str(), port));
  if (!ctx) throw std::runtime_error(std::string("modbus_new_tcp: ") + modbus_strerror(errno));
  modbus_set_slave(ctx.get(), s.unit);
  if (!s.port_file.empty()) {
    const lg::Status st = write_atomically(s.port_file, std::to_string(port));
    if (!st) throw std::runtime_error(st.error().message());
  }
  std::cout << "ready tcp=" << port << std::endl;

  std::set<int> clients;
  while (!g_stop) {
    fd_set fds;
    FD_ZERO(&fds);
    FD_SET(listener, &fds);
    int max_fd = listener;
    for (int c : clients) {
      FD_SET(c, &fds);
      max_fd = std::max(max_fd, c);
    }
    timeval tv{0, 200000};
    const int n = ::select(max_fd + 1, &fds, nullptr, nullptr, &tv);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error(std::string("select: ") + std::strerror(errno));
    }
    if (n > 0 && FD_ISSET(listener, &fds)) {
      const int c = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
      if (c >= 0) {
        clients.insert(c);
        if (s.verbose) std::cerr << "modbus-sim: client " << c << " connected\n";
      }
    }
    for (auto it = clients.begin(); n > 0 && it != clients.end();) {
      const int c = *it;
      if (!FD_ISSET(c, &fds)) {
        ++it;
        continue;
      }
      modbus_set_socket(ctx.get(), c);
      if (slave.serve_one(ctx.get()) < 0) {
        if (s.verbose) std::cerr << "modbus-sim: client " << c << " closed\n";
        ::close(c);
        it = clients.erase(it);
      } else {
        ++it;
      }
    }
    slave.tick();
  }
  for (int c : clients) ::close(c);
  ::close(listener);
  return 0;
}

/// Modbus RTU on a pseudo-terminal whose slave side is symlinked to s.rtu_link.
int serve_rtu(const Settings& s, Slave& slave) {
  int master = -1;
  int pty_slave = -1;
  char name[256] = {};
  if (::openpty(&master, &pty_slave, name, nullptr, nullptr) < 0)
    throw std::runtime_error(std::string("openpty: ") + std::strerror(errno));
  termios tio{};
  ::tcgetattr(pty_slave, &tio);
  ::cfmakeraw(&tio);
  ::tcsetattr(pty_slave, TCSANOW, &tio);
  ::tcgetattr(master, &tio);
  ::cfmakeraw(&tio);
  ::tcsetattr(master, TCSANOW, &tio);
  ::fcntl(master, F_SETFD, FD_CLOEXEC);
  ::fcntl(pty_slave, F_SETFD, FD_CLOEXEC);

  const std::filesystem::path link(s.rtu_link);
  std::error_code ec;
  if (std::filesystem::is_symlink(std::filesystem::symlink_status(link, ec))) std::filesystem::remove(link, ec);
  std::filesystem::create_symlink(name, link, ec);
  if (ec) throw std::runtime_error("symlink " + s.rtu_link + " -> " + name + ": " + ec.message());

  std::unique_ptr<modbus_t, ModbusDeleter> ctx(modbus_new_rtu(name, 9600, 'N', 8, 1));
  if (!ctx) throw std::runtime_error(std::string("modbus_new_rtu: ") + modbus_strerror(errno));
  modbus_set_slave(ctx.get(), s.unit);
  modbus_set_socket(ctx.get(), master);  // serve on the master side; pty_slave stays open
  std::cout << "ready rtu=" << s.rtu_link << std::endl;

  while (!g_stop) {
    fd_set fds;
    FD_ZERO(&fds);
    FD_SET(master, &fds);
    timeval tv{0, 200000};
    const int n = ::select(master + 1, &fds, nullptr, nullptr, &tv);
    if (n < 0 && errno != EINTR) throw std::runtime_error(std::string("select: ") + std::strerror(errno));
    if (n > 0) {
      if (slave.serve_one(ctx.get()) < 0) {
        if (s.verbose) std::cerr << "modbus-sim: rtu receive: " << modbus_strerror(errno) << "\n";
        modbus_flush(ctx.get());
      }
    }
    slave.tick();
  }
  std::filesystem::remove(link, ec);
  ::close(pty_slave);
  ::close(master);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Settings s;
  CLI::App app{"labgate-modbus-sim: Modbus relay board + energy meter simulator"};
  auto* tcp = app.add_option("--tcp", s.tcp_port, "Serve Modbus TCP on this port (0 = pick a free one)")
                  ->check(CLI::Range(0, 65535));
  auto* rtu = app.add_option("--rtu-pty", s.rtu_link, "Serve Modbus RTU on a new pty symlinked to this path");
  tcp->excludes(rtu);
  app.add_option("--host", s.host, "TCP listen address")->capture_default_str();
  app.add_option("--unit", s.unit, "Modbus unit id")->check(CLI::Range(1, 247))->capture_default_str();
  app.add_option("--coils", s.coils, "Number of relay coils")->check(CLI::Range(1, 2000))->capture_default_str();
  app.add_option("--meter", s.meter, "Meter model: none, sdm120, sdm630")->capture_default_str();
  app.add_option("--profile", s.profile, "Power profile while coil 0 is on: t:watts,...")->capture_default_str();
  app.add_option("--idle-w", s.idle_w, "Power while coil 0 is off (W)")->check(CLI::NonNegativeNumber)->capture_default_str();
  app.add_option("--voltage", s.voltage, "Voltage (V)")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--initial-kwh", s.initial_kwh, "Energy counter at start (kWh)")->check(CLI::NonNegativeNumber);
  app.add_option("--state-file", s.state_file, "Rewrite this JSON file on every change");
  app.add_option("--port-file", s.port_file, "Write the bound TCP port to this file");
  app.add_option("--fail-writes", s.fail_writes, "Answer the next N coil writes with SLAVE_DEVICE_BUSY")
      ->check(CLI::NonNegativeNumber);
  app.add_flag("-v,--verbose", s.verbose, "Log requests to stderr");
  try {
    app.parse(argc, argv);
    if (!s.tcp_port && s.rtu_link.empty()) throw CLI::RequiredError("--tcp or --rtu-pty");
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;  // --help is 0; any usage error is 2
  }

  const auto meter = lg::sim::parse_meter(s.meter);
  if (!meter) {
    std::cerr << "labgate-modbus-sim: --meter: " << meter.error().reason << "\n";
    return 2;
  }
  auto profile = lg::sim::parse_profile(s.profile);
  if (!profile) {
    std::cerr << "labgate-modbus-sim: --profile: " << profile.error().reason << "\n";
    return 2;
  }

  struct sigaction sa{};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: select() returns EINTR so the loop sees the flag
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  try {
    const auto n_inputs = static_cast<int>(lg::sim::input_register_count(*meter));
    std::unique_ptr<modbus_mapping_t, MappingDeleter> mapping(
        modbus_mapping_new_start_address(0, static_cast<unsigned>(s.coils), 0, 0, 0, 0, 0,
                                         static_cast<unsigned>(n_inputs)));
    if (!mapping) throw std::runtime_error(std::string("modbus_mapping_new: ") + modbus_strerror(errno));

    RegisterModel::Options opts;
    opts.coils = static_cast<uint16_t>(s.coils);
    opts.profile = std::move(profile.value());
    opts.idle_w = s.idle_w;
    opts.voltage_v = s.voltage;
    opts.initial_kwh = s.initial_kwh;
    Slave slave(s, *meter, RegisterModel(std::move(opts), Clock::now()), mapping.get());
    slave.write_state(Clock::now());
    return s.tcp_port ? serve_tcp(s, slave) : serve_rtu(s, slave);
  } catch (const std::exception& e) {
    std::cerr << "labgate-modbus-sim: " << e.what() << "\n";
    return 1;
  }
}
