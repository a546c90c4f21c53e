// Real-process check of labgate-modbus-sim: starts the binary, talks to it with libmodbus over
// Modbus TCP (two clients at once, fault injection) and over RTU on its pty, then stops it
// with SIGTERM and expects exit status 0. Registered with label "integration".
#include <doctest/doctest.h>
#include <modbus/modbus.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#ifndef LABGATE_MODBUS_SIM
#error "LABGATE_MODBUS_SIM must name the simulator binary"
#endif

namespace {

namespace fs = std::filesystem;

/// A child process with its stdout on a pipe; killed on destruction if still running.
class Child {
 public:
  explicit Child(std::vector<std::string> args) {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      ::dup2(fds[1], STDOUT_FILENO);
      ::close(fds[0]);
      ::close(fds[1]);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(fds[1]);
    out_ = fds[0];
  }
  ~Child() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (out_ >= 0) ::close(out_);
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  /// Reads the first stdout line (without '\n'), "" after the timeout.
  std::string read_line(std::chrono::milliseconds timeout) {
    std::string line;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{out_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      char c = 0;
      if (::read(out_, &c, 1) != 1) break;
      if (c == '\n') return line;
      line += c;
    }
    return "";
  }

  /// Sends SIGTERM and returns the exit status (-1 if it did not exit normally within 5 s).
  int terminate() {
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 50; ++i) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return -1;
  }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
};

struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "lg-modbus-sim-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

float read_float(modbus_t* ctx, int addr) {
  uint16_t regs[2] = {};
  REQUIRE(modbus_read_input_registers(ctx, addr, 2, regs) == 2);
  return modbus_get_float_abcd(regs);
}

nlohmann::json read_state(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return nlohmann::json::parse(ss.str());
}

/// The common checks: coil 0 on and read back, power follows the profile, energy grows.
void exercise(modbus_t* ctx, const fs::path& state_file) {
  uint8_t bits[4] = {};
  REQUIRE(modbus_write_bit(ctx, 0, 1) == 1);
  REQUIRE(modbus_read_bits(ctx, 0, 4, bits) == 4);
  CHECK(bits[0] == 1);
  CHECK(bits[1] == 0);
  CHECK(read_float(ctx, 0x0000) == doctest::Approx(230.0));
  CHECK(read_float(ctx, 0x000C) == doctest::Approx(1800.0));  // profile "0:1800"
  CHECK(read_float(ctx, 0x0006) == doctest::Approx(1800.0 / 230.0));
  // Energy grows by P * dt; dt is bounded by timestamps taken around the two reads.
  using Steady = std::chrono::steady_clock;
  const auto t_a = Steady::now();
  const float e1 = read_float(ctx, 0x0156);
  const auto t_b = Steady::now();
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  const auto t_c = Steady::now();
  const float e2 = read_float(ctx, 0x0156);
  const auto t_d = Steady::now();
  const auto kwh = [](Steady::duration d) { return 1800.0 * std::chrono::duration<double>(d).count() / 3.6e6; };
  CHECK(e2 > e1);
  CHECK(e2 - e1 >= kwh(t_c - t_b) * 0.999);
  CHECK(e2 - e1 <= kwh(t_d - t_a) * 1.001);
  CHECK(read_float(ctx, 0x0048) == doctest::Approx(e2).epsilon(0.05));
  const auto st = read_state(state_file);
  CHECK(st["coils"][0] == true);
  CHECK(st["writes"].get<int>() >= 1);
  CHECK(st["power_w"].get<double>() == doctest::Approx(1800.0));
  REQUIRE(modbus_write_bit(ctx, 0, 0) == 1);
  CHECK(read_float(ctx, 0x000C) == doctest::Approx(5.0));  // idle
  CHECK(read_state(state_file)["coils"][0] == false);
}

}  // namespace

TEST_CASE("modbus sim over TCP: two clients, fault injection, clean SIGTERM") {
  TempDir dir;
  const fs::path state = dir.path / "state.json";
  Child sim({LABGATE_MODBUS_SIM, "--tcp", "0", "--coils", "4", "--profile", "0:1800", "--state-file", state.string(),
             "--fail-writes", "1"});
  const std::string ready = sim.read_line(std::chrono::seconds(10));
  REQUIRE(ready.rfind("ready tcp=", 0) == 0);
  const int port = std::stoi(ready.substr(10));
  REQUIRE(port > 0);

  modbus_t* a = modbus_new_tcp("127.0.0.1", port);
  modbus_t* b = modbus_new_tcp("127.0.0.1", port);
  REQUIRE(a);
  REQUIRE(b);
  REQUIRE(modbus_connect(a) == 0);
  REQUIRE(modbus_connect(b) == 0);  // both stay connected: the select loop serves both

  // The first coil write is answered with SLAVE_DEVICE_BUSY.
  CHECK(modbus_write_bit(a, 0, 1) == -1);
  CHECK(errno == EMBXSBUSY);
  uint8_t bit = 1;
  REQUIRE(modbus_read_bits(b, 0, 1, &bit) == 1);
  CHECK(bit == 0);

  exercise(a, state);
  REQUIRE(modbus_write_bit(b, 2, 1) == 1);
  uint8_t bits[4] = {};
  REQUIRE(modbus_read_bits(a, 0, 4, bits) == 4);
  CHECK(bits[2] == 1);
  CHECK(read_state(state)["writes"].get<int>() == 3);
  // Out of range: an exception, no change.
  CHECK(modbus_write_bit(a, 9, 1) == -1);
  CHECK(read_state(state)["writes"].get<int>() == 3);

  modbus_close(a);
  modbus_free(a);
  modbus_close(b);
  modbus_free(b);
  CHECK(sim.terminate() == 0);
}

TEST_CASE("modbus sim over RTU on a pty") {
  TempDir dir;
  const fs::path state = dir.path / "state.json";
  const fs::path link = dir.path / "ttyRELAY";
  Child sim({LABGATE_MODBUS_SIM, "--rtu-pty", link.string(), "--unit", "3", "--profile", "0:1800", "--state-file",
             state.string()});
  const std::string ready = sim.read_line(std::chrono::seconds(10));
  REQUIRE(ready == "ready rtu=" + link.string());
  REQUIRE(fs::is_symlink(link));

  modbus_t* ctx = modbus_new_rtu(link.c_str(), 9600, 'N', 8, 1);
  REQUIRE(ctx);
  REQUIRE(modbus_set_slave(ctx, 3) == 0);
  modbus_set_response_timeout(ctx, 2, 0);
  REQUIRE(modbus_connect(ctx) == 0);
  exercise(ctx, state);
  modbus_close(ctx);

  // Reopening works: the simulator keeps the pty's slave side open, so no hang-up.
  REQUIRE(modbus_connect(ctx) == 0);
  uint8_t bit = 1;
  REQUIRE(modbus_read_bits(ctx, 0, 1, &bit) == 1);
  CHECK(bit == 0);
  modbus_close(ctx);
  modbus_free(ctx);

  CHECK(sim.terminate() == 0);
  CHECK_FALSE(fs::exists(fs::symlink_status(link)));
}
