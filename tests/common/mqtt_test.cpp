// The MQTT client's reconnect supervisor and stop(), against a small in-process broker (a
// poll loop on a free port that speaks just enough MQTT: CONNECT/CONNACK, PING, SUBSCRIBE,
// DISCONNECT) so a test can drop every connection when it chooses and see each CONNECT.
//
// Issue 9: the terminal aborted (std::system_error, EINVAL from a freed Paho token's mutex)
// when its connect-failure handler was installed and the broker went away. After a lost
// connection Paho C re-queued a CONNECT of its own (MQTT 3.1, its version fallback); the
// supervisor's connect() then came while that one was queued, Paho C ignored it (-18) but had
// already taken the new token as the context of the client's connect callbacks, and Paho C++
// freed that token. The next connect callback ran on freed memory.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "labgate/common/mqtt.hpp"

namespace {

using namespace std::chrono_literals;

/// Bounds a wait that should end on its own; only a hang reaches it.
constexpr auto kHang = 60s;

/// A broker on 127.0.0.1:<free port>. Answers CONNECT with CONNACK (accepted) unless silent,
/// PINGREQ with PINGRESP, SUBSCRIBE with a SUBACK granting what was asked. Records each CONNECT
/// as "<protocol name>/<level>" ("MQTT/4" is 3.1.1, "MQIsdp/3" is 3.1).
class FakeBroker {
 public:
  explicit FakeBroker(bool silent = false) : silent_(silent) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(listen_fd_ >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    REQUIRE(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::listen(listen_fd_, 16) == 0);
    socklen_t len = sizeof a;
    REQUIRE(::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len) == 0);
    port_ = ntohs(a.sin_port);
    REQUIRE(::pipe(wake_) == 0);
    thread_ = std::thread([this] { loop(); });
  }
  ~FakeBroker() {
    command('q');
    thread_.join();
    ::close(wake_[0]);
    ::close(wake_[1]);
    ::close(listen_fd_);
  }
  FakeBroker(const FakeBroker&) = delete;
  FakeBroker& operator=(const FakeBroker&) = delete;

  std::string uri() const { return "tcp://127.0.0.1:" + std::to_string(port_); }

  /// Closes every open connection; the broker keeps accepting new ones.
  void drop_all() { command('d'); }

  std::vector<std::string> connects() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return connects_;
  }

  /// Waits until n CONNECT packets have arrived.
  bool wait_connects(std::size_t n) const {
    std::unique_lock<std::mutex> lock(mutex_);
    return cv_.wait_for(lock, kHang, [&] { return connects_.size() >= n; });
  }

 private:
  struct Conn {
    int fd;
    std::string in;
  };

  void command(char c) { REQUIRE(::write(wake_[1], &c, 1) == 1); }

  static void send_all(int fd, const std::string& bytes) {
    std::size_t off = 0;
    while (off < bytes.size()) {
      const ssize_t n = ::send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return;  // the client went away; its read side will see it
      off += static_cast<std::size_t>(n);
    }
  }

  /// Handles the complete packets at the front of c.in; false when the connection must close.
  bool serve(Conn& c) {
    for (;;) {
      if (c.in.size() < 2) return true;
      std::size_t len = 0, pos = 1;
      for (int shift = 0;; shift += 7) {
        if (pos >= c.in.size()) return true;  // the length is not all here yet
        const auto b = static_cast<unsigned char>(c.in[pos++]);
        len |= static_cast<std::size_t>(b & 0x7f) << shift;
        if (!(b & 0x80)) break;
        if (shift >= 21) return false;
      }
      if (c.in.size() < pos + len) return true;
      const auto type = static_cast<unsigned char>(c.in[0]) >> 4;
      const std::string body = c.in.substr(pos, len);
      c.in.erase(0, pos + len);
      switch (type) {
        case 1: {  // CONNECT: protocol name (length-prefixed), then the level
          if (body.size() < 3) return false;
          const std::size_t name_len = (static_cast<unsigned char>(body[0]) << 8) | static_cast<unsigned char>(body[1]);
          if (body.size() < 2 + name_len + 1) return false;
          {
            std::lock_guard<std::mutex> lock(mutex_);
            connects_.push_back(body.substr(2, name_len) + "/" +
                                std::to_string(static_cast<unsigned char>(body[2 + name_len])));
          }
          cv_.notify_all();
          if (!silent_) send_all(c.fd, std::string("\x20\x02\x00\x00", 4));
          break;
        }
        case 8: {  // SUBSCRIBE: packet id, then (filter, qos) pairs; grant each qos
          if (body.size() < 2) return false;
          std::string granted;
          for (std::size_t p = 2; p + 2 <= body.size();) {
            const std::size_t n = (static_cast<unsigned char>(body[p]) << 8) | static_cast<unsigned char>(body[p + 1]);
            p += 2 + n;
            if (p >= body.size()) return false;
            granted += static_cast<char>(body[p++] & 0x03);
          }
          std::string ack = "\x90";
          ack += static_cast<char>(2 + granted.size());
          ack += body.substr(0, 2) + granted;
          send_all(c.fd, ack);
          break;
        }
        case 12: send_all(c.fd, std::string("\xd0\x00", 2)); break;  // PINGREQ
        case 14: return false;                                       // DISCONNECT
        default: break;                                              // PUBLISH and the rest: dropped
      }
    }
  }

  void loop() {
    std::vector<Conn> conns;
    for (;;) {
      std::vector<pollfd> fds{{wake_[0], POLLIN, 0}, {listen_fd_, POLLIN, 0}};
      for (const auto& c : conns) fds.push_back({c.fd, POLLIN, 0});
      if (::poll(fds.data(), fds.size(), -1) < 0) continue;
      if (fds[0].revents & POLLIN) {
        char cmd = 0;
        if (::read(wake_[0], &cmd, 1) == 1) {
          if (cmd == 'q' || cmd == 'd') {
            for (const auto& c : conns) ::close(c.fd);
            conns.clear();
          }
          if (cmd == 'q') return;
          continue;  // the poll set is stale now
        }
      }
      std::vector<Conn> keep;
      for (std::size_t i = 0; i < conns.size(); ++i) {
        Conn& c = conns[i];
        if (fds[i + 2].revents) {
          char buf[4096];
          const ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
          if (n <= 0) {
            ::close(c.fd);
            continue;
          }
          c.in.append(buf, static_cast<std::size_t>(n));
          if (!serve(c)) {
            ::close(c.fd);
            continue;
          }
        }
        keep.push_back(std::move(c));
      }
      conns = std::move(keep);
      if (fds[1].revents & POLLIN) {
        const int fd = ::accept(listen_fd_, nullptr, nullptr);
        if (fd >= 0) conns.push_back({fd, {}});
      }
    }
  }

  bool silent_;
  int listen_fd_ = -1;
  int port_ = 0;
  int wake_[2] = {-1, -1};
  std::thread thread_;
  mutable std::mutex mutex_;
  mutable std::condition_variable cv_;
  std::vector<std::string> connects_;
};

/// A port on which nothing listens, held for the test (bound, not listening: a connect is
/// refused at once).
class RefusingPort {
 public:
  RefusingPort() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    socklen_t len = sizeof a;
    REQUIRE(::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) == 0);
    port_ = ntohs(a.sin_port);
  }
  ~RefusingPort() { ::close(fd_); }
  RefusingPort(const RefusingPort&) = delete;
  RefusingPort& operator=(const RefusingPort&) = delete;
  std::string uri() const { return "tcp://127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_ = -1;
  int port_ = 0;
};

/// What a client's handlers saw, with waits on it.
struct Events {
  std::mutex mutex;
  std::condition_variable cv;
  int ups = 0, downs = 0;
  std::vector<std::string> failures;

  void attach(lg::mqtt::Client& c) {
    c.on_connection([this](bool up) {
      std::lock_guard<std::mutex> lock(mutex);
      (up ? ups : downs)++;
      cv.notify_all();
    });
    c.on_connect_failed([this](const std::string& why) {
      // As the terminal's handler does: build and log a long line (the allocation pattern that
      // reused the freed token's memory in issue 9).
      const std::string line = "MQTT: cannot connect: " + why + std::string(200, '.');
      std::lock_guard<std::mutex> lock(mutex);
      failures.push_back(line.substr(0, line.size() - 200));
      cv.notify_all();
    });
  }
  bool wait(const std::function<bool()>& pred) {
    std::unique_lock<std::mutex> lock(mutex);
    return cv.wait_for(lock, kHang, pred);
  }
};

std::unique_ptr<lg::mqtt::Client> make_client(const std::string& uri, const std::string& id) {
  lg::mqtt::Options o;
  o.uri = uri;
  o.client_id = id;
  o.connect_timeout_s = 2;
  o.min_retry_s = 1;
  o.max_retry_s = 1;
  auto c = lg::mqtt::Client::create(o);
  REQUIRE(c);
  return std::move(*c);
}

}  // namespace

TEST_CASE("mqtt: after each lost connection the client connects again once, with MQTT 3.1.1 only") {
  FakeBroker broker;
  auto client = make_client(broker.uri(), "t-drops");
  Events ev;
  ev.attach(*client);
  client->subscribe("lg/v1/test/t-drops/sync", 1);
  client->start();
  constexpr int kDrops = 10;
  for (int i = 0; i < kDrops; ++i) {
    REQUIRE(ev.wait([&] { return ev.ups == i + 1; }));
    broker.drop_all();
    REQUIRE(ev.wait([&] { return ev.downs == i + 1; }));
  }
  REQUIRE(ev.wait([&] { return ev.ups == kDrops + 1; }));
  CHECK(client->connected());
  client->stop();
  // Paho's own MQTT 3.1 retry after a loss is what made the supervisor's connect() be ignored
  // (and its token freed while still in use); with the version fixed, every CONNECT is 3.1.1
  // and each reconnect is one connect.
  const auto seen = broker.connects();
  CHECK(seen.size() == kDrops + 1);
  for (const auto& c : seen) CHECK(c == "MQTT/4");
  // No attempt failed: neither ignored (-18) nor handed the old connection's "socket error",
  // which a connect() made while Paho was still in its connection-lost callback got.
  std::lock_guard<std::mutex> lock(ev.mutex);
  for (const auto& f : ev.failures) CHECK_MESSAGE(f.find("ignored") == std::string::npos, f);
  CHECK(ev.failures.empty());
}

TEST_CASE("mqtt: stop() from the client's own connect-failure handler stops the supervisor") {
  RefusingPort port;
  auto client = make_client(port.uri(), "t-stop-in-handler");
  std::mutex m;
  std::condition_variable cv;
  int failures = 0;
  bool stopped = false;
  lg::mqtt::Client* raw = client.get();
  client->on_connect_failed([&](const std::string&) {
    {
      std::lock_guard<std::mutex> lock(m);
      ++failures;
    }
    raw->stop();  // on the supervisor thread: must not join itself
    std::lock_guard<std::mutex> lock(m);
    stopped = true;
    cv.notify_all();
  });
  client->start();
  {
    std::unique_lock<std::mutex> lock(m);
    REQUIRE(cv.wait_for(lock, kHang, [&] { return stopped; }));
  }
  client->stop();  // from here: joins the supervisor, which has ended its loop
  CHECK_FALSE(client->connected());
  client.reset();
  std::lock_guard<std::mutex> lock(m);
  CHECK(failures == 1);  // stopped: no attempt after the handler returned
}

TEST_CASE("mqtt: stop() from several threads at once, then the destructor") {
  RefusingPort port;
  for (int round = 0; round < 20; ++round) {
    auto client = make_client(port.uri(), "t-stop-race");
    Events ev;
    ev.attach(*client);
    client->start();
    REQUIRE(ev.wait([&] { return !ev.failures.empty(); }));  // the supervisor is in its back-off
    std::atomic<bool> go{false};
    std::vector<std::thread> stoppers;
    for (int i = 0; i < 4; ++i) {
      stoppers.emplace_back([&] {
        while (!go.load()) std::this_thread::yield();
        client->stop();
      });
    }
    go = true;
    for (auto& t : stoppers) t.join();
    CHECK_FALSE(client->connected());
  }
}

TEST_CASE("mqtt: destroying the client while its connect waits for an answer") {
  FakeBroker broker(/*silent=*/true);  // accepts, reads the CONNECT, never answers
  auto client = make_client(broker.uri(), "t-destroy-connecting");
  client->start();
  REQUIRE(broker.wait_connects(1));
  client.reset();  // the connect is still in Paho's hands: stop() and the destructor must not wait for it
  CHECK(broker.connects().size() == 1);
}
