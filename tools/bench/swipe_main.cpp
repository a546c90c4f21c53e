// labgate-bench-swipe: swipe-to-coil latency of a real labgate-terminal, as a ratio against a raw
// Modbus TCP round trip measured in the same run on the same machine.
//
// The program is its own relay board: a libmodbus TCP slave (127.0.0.1, free port) in a thread
// that stamps every write-single-coil request for coil 0 with steady_clock on arrival, before it
// answers. Protocol on stdin/stdout:
//   stdout: "ready port=N"                       (point the terminal's [relay] at N)
//   stdin:  "go <card-socket-path> <card> <cycles> [pause-ms]", one result line per go line
//   stdout: one JSON object with the figures (see docs/BENCHMARKS.md)
// Phases after "go":
//   baseline   raw modbus_write_bit round trips from a client in this process to the slave
//              (coil 7, so coil 0's event log stays the terminal's alone)
//   swipe_on   t0 just before writing "CARD\n" to the card socket, t1 = arrival of the terminal's
//              coil-0 ON write at the slave
//   swipe_off  the same card again (swipe-out), up to the coil-0 OFF write
// --meter-delay-ms N (or LABGATE_BENCH_METER_DELAY_MS) holds every input-register answer (the
// terminal's energy meter reads, function 04) N ms, like an RS-485 meter at 9600 baud (a read of
// the total is about 20 ms on the wire there): it shows whether a swipe waits for the meter.
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <modbus/modbus.h>
#include <nlohmann/json.hpp>

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

constexpr int kBaselineCoil = 7;
constexpr int kCoils = 8;
constexpr int kInputRegisters = 0x160;

/// One coil-0 write seen by the slave.
struct CoilEvent {
  Clock::time_point at;
  bool on = false;
};

/// The Modbus TCP slave thread.
class Slave {
 public:
  explicit Slave(int meter_delay_ms) : meter_delay_ms_(meter_delay_ms) {
    ctx_ = modbus_new_tcp("127.0.0.1", 0);
    if (!ctx_) throw std::runtime_error(std::string("modbus_new_tcp: ") + modbus_strerror(errno));
    mapping_ = modbus_mapping_new(kCoils, 0, 0, kInputRegisters);
    if (!mapping_) throw std::runtime_error(std::string("modbus_mapping_new: ") + modbus_strerror(errno));
    listener_ = modbus_tcp_listen(ctx_, 16);
    if (listener_ < 0) throw std::runtime_error(std::string("modbus_tcp_listen: ") + modbus_strerror(errno));
    sockaddr_in addr{};
    socklen_t len = sizeof addr;
    if (::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
      throw std::runtime_error(std::string("getsockname: ") + std::strerror(errno));
    port_ = ntohs(addr.sin_port);
    if (::pipe(wake_) != 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
    thread_ = std::thread([this] { run(); });
  }

  ~Slave() {
    stop_ = true;
    const char b = 'x';
    if (::write(wake_[1], &b, 1) < 0) { /* the loop also wakes on its timeout */ }
    if (thread_.joinable()) thread_.join();
    for (int c : clients_) ::close(c);
    ::close(listener_);
    ::close(wake_[0]);
    ::close(wake_[1]);
    modbus_mapping_free(mapping_);
    modbus_free(ctx_);
  }

  Slave(const Slave&) = delete;
  Slave& operator=(const Slave&) = delete;

  int port() const { return port_; }

  /// Number of coil-0 events so far (an index to wait from).
  std::size_t event_count() {
    std::lock_guard<std::mutex> lock(mutex_);
    return events_.size();
  }

  /// Waits for the first coil-0 write with value `on` at index >= from; nullopt on timeout.
  std::optional<CoilEvent> wait_event(std::size_t from, bool on, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mutex_);
    std::optional<CoilEvent> found;
    cv_.wait_for(lock, timeout, [&] {
      for (std::size_t i = from; i < events_.size(); ++i) {
        if (events_[i].on == on) {
          found = events_[i];
          return true;
        }
      }
      return false;
    });
    return found;
  }

  std::size_t requests() const { return requests_.load(); }

 private:
  void run() {
    uint8_t query[MODBUS_TCP_MAX_ADU_LENGTH];
    while (!stop_) {
      fd_set fds;
      FD_ZERO(&fds);
      FD_SET(listener_, &fds);
      FD_SET(wake_[0], &fds);
      int max_fd = std::max(listener_, wake_[0]);
      for (int c : clients_) {
        FD_SET(c, &fds);
        max_fd = std::max(max_fd, c);
      }
      timeval tv{1, 0};
      const int n = ::select(max_fd + 1, &fds, nullptr, nullptr, &tv);
      if (n < 0) {
        if (errno == EINTR) continue;
        std::cerr << "bench-swipe: select: " << std::strerror(errno) << "\n";
        return;
      }
      if (n == 0 || stop_) continue;
      if (FD_ISSET(listener_, &fds)) {
        int l = listener_;
        const int c = modbus_tcp_accept(ctx_, &l);
        if (c >= 0) clients_.insert(c);
      }
      for (auto it = clients_.begin(); it != clients_.end();) {
        const int c = *it;
        if (!FD_ISSET(c, &fds)) {
          ++it;
          continue;
        }
        modbus_set_socket(ctx_, c);
        const int rc = modbus_receive(ctx_, query);
        if (rc < 0) {
          ::close(c);
          it = clients_.erase(it);
          continue;
        }
        if (rc > 0) {
          const auto now = Clock::now();
          const int h = modbus_get_header_length(ctx_);  // 7 for TCP (MBAP)
          if (rc >= h + 5 && query[h] == MODBUS_FC_WRITE_SINGLE_COIL) {
            const unsigned addr = (static_cast<unsigned>(query[h + 1]) << 8) | query[h + 2];
            const unsigned value = (static_cast<unsigned>(query[h + 3]) << 8) | query[h + 4];
            if (addr == 0) {
              std::lock_guard<std::mutex> lock(mutex_);
              events_.push_back(CoilEvent{now, value == 0xFF00});
              cv_.notify_all();
            }
          }
          requests_.fetch_add(1);
          if (meter_delay_ms_ > 0 && rc > h && query[h] == MODBUS_FC_READ_INPUT_REGISTERS)
            std::this_thread::sleep_for(std::chrono::milliseconds(meter_delay_ms_));
          modbus_reply(ctx_, query, rc, mapping_);
        }
        ++it;
      }
    }
  }

  int meter_delay_ms_ = 0;
  modbus_t* ctx_ = nullptr;
  modbus_mapping_t* mapping_ = nullptr;
  int listener_ = -1;
  int port_ = 0;
  int wake_[2] = {-1, -1};
  std::set<int> clients_;
  std::atomic<bool> stop_{false};
  std::atomic<std::size_t> requests_{0};
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<CoilEvent> events_;
};

double to_us(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

double round1(double v) { return std::round(v * 10.0) / 10.0; }

/// Nearest-rank percentile of sorted samples (p in 0..100).
double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0.0;
  const double rank = std::ceil(p / 100.0 * static_cast<double>(sorted.size()));
  const auto idx = static_cast<std::size_t>(std::clamp(rank, 1.0, static_cast<double>(sorted.size()))) - 1;
  return sorted[idx];
}

double median(const std::vector<double>& sorted) {
  if (sorted.empty()) return 0.0;
  const std::size_t n = sorted.size();
  return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0;
}

json summary(std::vector<double> samples) {
  std::sort(samples.begin(), samples.end());
  json j;
  j["n"] = samples.size();
  j["median_us"] = round1(median(samples));
  j["p99_us"] = round1(percentile(samples, 99.0));
  j["min_us"] = round1(samples.empty() ? 0.0 : samples.front());
  j["max_us"] = round1(samples.empty() ? 0.0 : samples.back());
  return j;
}

/// Raw Modbus TCP round trips (write single coil) from a fresh client to the slave.
std::vector<double> baseline(int port, int iterations) {
  modbus_t* c = modbus_new_tcp("127.0.0.1", port);
  if (!c) throw std::runtime_error(std::string("modbus_new_tcp: ") + modbus_strerror(errno));
  modbus_set_slave(c, 1);
  modbus_set_response_timeout(c, 1, 0);
  if (modbus_connect(c) == -1) {
    const std::string err = modbus_strerror(errno);
    modbus_free(c);
    throw std::runtime_error("baseline connect: " + err);
  }
  std::vector<double> out;
  out.reserve(static_cast<std::size_t>(iterations));
  for (int i = 0; i < iterations + 50; ++i) {  // the first 50 warm up and are not kept
    const auto t0 = Clock::now();
    const int rc = modbus_write_bit(c, kBaselineCoil, i % 2);
    const auto t1 = Clock::now();
    if (rc != 1) {
      const std::string err = modbus_strerror(errno);
      modbus_close(c);
      modbus_free(c);
      throw std::runtime_error("baseline write_bit: " + err);
    }
    if (i >= 50) out.push_back(to_us(t1 - t0));
  }
  modbus_close(c);
  modbus_free(c);
  return out;
}

/// Result of one swipe on the card socket.
struct Swipe {
  Clock::time_point t0;
  Clock::time_point replied;
  json reply;
};

/// Connects to the card socket, then (timed from just before the write) swipes `card` and reads
/// the one-line JSON reply.
Swipe swipe(const std::string& socket_path, const std::string& card, int timeout_ms) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof addr.sun_path) {
    ::close(fd);
    throw std::runtime_error("card socket path too long: " + socket_path);
  }
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    const std::string err = std::strerror(errno);
    ::close(fd);
    throw std::runtime_error("connect " + socket_path + ": " + err);
  }
  const std::string line = card + "\n";
  Swipe s;
  s.t0 = Clock::now();
  std::size_t done = 0;
  while (done < line.size()) {
    const ssize_t n = ::write(fd, line.data() + done, line.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const std::string err = std::strerror(errno);
      ::close(fd);
      throw std::runtime_error("write card: " + err);
    }
    done += static_cast<std::size_t>(n);
  }
  std::string buf;
  const auto deadline = s.t0 + std::chrono::milliseconds(timeout_ms);
  while (buf.find('\n') == std::string::npos) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      ::close(fd);
      throw std::runtime_error("no reply from the terminal within " + std::to_string(timeout_ms) + " ms");
    }
    pollfd p{fd, POLLIN, 0};
    const int pr = ::poll(&p, 1, static_cast<int>(left));
    if (pr < 0 && errno == EINTR) continue;
    if (pr <= 0) continue;
    char chunk[4096];
    const ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      throw std::runtime_error("card socket closed before a reply");
    }
    buf.append(chunk, static_cast<std::size_t>(n));
  }
  s.replied = Clock::now();
  ::close(fd);
  s.reply = json::parse(buf.substr(0, buf.find('\n')), nullptr, false);
  if (s.reply.is_discarded()) throw std::runtime_error("reply is not JSON: " + buf);
  return s;
}

std::string field(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"labgate-bench-swipe: swipe-to-coil latency vs a raw Modbus round trip"};
  int iterations = 2000;
  int timeout_ms = 5000;
  int pause_ms = 0;
  app.add_option("--baseline-iterations", iterations, "raw write_bit round trips (default 2000)")
      ->check(CLI::Range(10, 10000000));
  app.add_option("--timeout-ms", timeout_ms, "per swipe: reply and coil write deadline")->check(CLI::Range(100, 600000));
  app.add_option("--pause-ms", pause_ms, "pause between swipes")->check(CLI::Range(0, 60000));
  int meter_delay_ms = 0;
  app.add_option("--meter-delay-ms", meter_delay_ms, "hold every input-register (meter) answer this long")
      ->envname("LABGATE_BENCH_METER_DELAY_MS")
      ->check(CLI::Range(0, 10000));
  CLI11_PARSE(app, argc, argv);

  try {
    Slave slave(meter_delay_ms);
    std::cout << "ready port=" << slave.port() << std::endl;

    // One result line per "go" line, until stdin closes: the driver can run several phases
    // (back to back, then with a pause between swipes) against the same terminal.
    std::string line;
    int rc = 0;
    int runs = 0;
    while (std::getline(std::cin, line)) {
      std::istringstream in(line);
      std::string word;
      std::string socket_path;
      std::string card;
      int cycles = 0;
      if (!(in >> word >> socket_path >> card >> cycles) || word != "go" || cycles < 1) {
        std::cerr << "bench-swipe: expected 'go <card-socket-path> <card> <cycles> [pause-ms]', got '" << line << "'\n";
        return 2;
      }
      int pause = pause_ms;
      if (int p = 0; in >> p && p >= 0) pause = p;
      ++runs;

      const std::vector<double> base = baseline(slave.port(), iterations);

      std::vector<double> on_us;
      std::vector<double> off_us;
      std::vector<double> reply_on_us;
      std::vector<double> reply_off_us;
      int errors = 0;
      std::string first_error;
      const auto note = [&](const std::string& e) {
        if (errors++ == 0) first_error = e;
        std::cerr << "bench-swipe: " << e << "\n";
      };
      const auto timeout = std::chrono::milliseconds(timeout_ms);
      for (int cycle = 0; cycle < cycles && errors < 5; ++cycle) {
        for (const bool on : {true, false}) {
          const std::size_t from = slave.event_count();
          const Swipe s = swipe(socket_path, card, timeout_ms);
          const std::string action = field(s.reply, "action");
          const std::string expected = on ? "start" : "end";
          if (field(s.reply, "decision") != "granted" || action != expected) {
            note("cycle " + std::to_string(cycle) + ": expected granted/" + expected + ", got " + s.reply.dump());
            continue;
          }
          const auto ev = slave.wait_event(from, on, timeout);
          if (!ev) {
            note("cycle " + std::to_string(cycle) + ": no coil-0 " + (on ? "ON" : "OFF") + " write within " +
                 std::to_string(timeout_ms) + " ms");
            continue;
          }
          (on ? on_us : off_us).push_back(to_us(ev->at - s.t0));
          (on ? reply_on_us : reply_off_us).push_back(to_us(s.replied - s.t0));
          if (pause > 0) std::this_thread::sleep_for(std::chrono::milliseconds(pause));
        }
      }

      json out;
      out["baseline"] = summary(base);
      out["swipe_on"] = summary(on_us);
      out["swipe_off"] = summary(off_us);
      out["reply_on"] = summary(reply_on_us);
      out["reply_off"] = summary(reply_off_us);
      const auto ratio = [](double a, double b) { return b > 0 ? std::round(a / b * 100.0) / 100.0 : 0.0; };
      const json& b = out["baseline"];
      out["ratios"] = {
          {"swipe_on_median", ratio(out["swipe_on"]["median_us"].get<double>(), b["median_us"].get<double>())},
          {"swipe_on_p99", ratio(out["swipe_on"]["p99_us"].get<double>(), b["p99_us"].get<double>())},
          {"swipe_off_median", ratio(out["swipe_off"]["median_us"].get<double>(), b["median_us"].get<double>())},
          {"swipe_off_p99", ratio(out["swipe_off"]["p99_us"].get<double>(), b["p99_us"].get<double>())},
      };
      out["samples"] = {{"baseline", base.size()}, {"swipe_on", on_us.size()}, {"swipe_off", off_us.size()}};
      out["cycles"] = cycles;
      out["pause_ms"] = pause;
      out["meter_delay_ms"] = meter_delay_ms;
      out["errors"] = errors;
      if (errors > 0) out["first_error"] = first_error;
      out["slave_requests"] = slave.requests();
      std::cout << out.dump() << std::endl;
      if (errors > 0) rc = 1;
    }
    if (runs == 0) {
      std::cerr << "bench-swipe: stdin closed before 'go'\n";
      return 1;
    }
    return rc;
  } catch (const std::exception& e) {
    std::cerr << "bench-swipe: " << e.what() << "\n";
    return 1;
  }
}
