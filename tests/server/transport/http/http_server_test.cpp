// The Beast listener over a real loopback socket: keep-alive, body limit (413), handler wiring,
// the connection cap (longest idle closed for a newcomer, 503 when none is idle), idle timeout.
#include <utility>  // must precede boost/asio.hpp with GCC 12 + C++20 + Boost 1.74

#include <doctest/doctest.h>
#include <poll.h>

#include <boost/asio.hpp>
#include <chrono>
#include <string>
#include <thread>

#include "server/transport/http/http_server.hpp"

namespace net = boost::asio;
using net::ip::tcp;
using namespace lg::server::http;

namespace {

/// Reads one HTTP response (headers + Content-Length body) from the socket.
std::string read_response(tcp::socket& s, std::string& pending) {
  for (;;) {
    auto end = pending.find("\r\n\r\n");
    if (end != std::string::npos) {
      std::size_t len = 0;
      auto cl = pending.find("Content-Length: ");
      if (cl != std::string::npos && cl < end) len = std::stoul(pending.substr(cl + 16));
      if (pending.size() >= end + 4 + len) {
        std::string out = pending.substr(0, end + 4 + len);
        pending.erase(0, end + 4 + len);
        return out;
      }
    }
    char buf[4096];
    boost::system::error_code ec;
    std::size_t n = s.read_some(net::buffer(buf), ec);
    if (ec) return pending;
    pending.append(buf, n);
  }
}

/// Polls pred until it holds or 10 s pass; the state it waits for is what the test asserts.
template <typename Pred>
bool eventually(Pred pred) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return pred();
}

/// True when the peer closed the connection (end of stream or reset) within 10 s.
bool closed_by_server(tcp::socket& s) {
  pollfd p{s.native_handle(), POLLIN, 0};
  if (::poll(&p, 1, 10000) != 1) return false;
  char buf[256];
  boost::system::error_code ec;
  s.read_some(net::buffer(buf), ec);
  return ec == net::error::eof || ec == net::error::connection_reset;
}

/// True when nothing (neither data nor end of stream) is waiting on the socket now.
bool still_open(tcp::socket& s) {
  pollfd p{s.native_handle(), POLLIN, 0};
  return ::poll(&p, 1, 0) == 0;
}

const std::string kGet = "GET /x HTTP/1.1\r\nHost: t\r\n\r\n";

struct Running {
  net::io_context io;
  std::unique_ptr<HttpServer> server;
  std::thread thread;
  std::vector<Request> seen;

  explicit Running(std::size_t limit, std::size_t max_connections = 0, int idle_timeout_s = 30) {
    HttpOptions o;
    o.body_limit = limit;
    o.max_connections = max_connections;
    o.idle_timeout = std::chrono::seconds(idle_timeout_s);
    auto s = HttpServer::start(io, o, [this](const Request& r) {
      seen.push_back(r);
      return Response{r.path == "/missing" ? 404 : 200, R"({"echo":")" + r.path + R"("})"};
    });
    REQUIRE(s);
    server = std::move(s).value();
    thread = std::thread([this] { io.run(); });
  }
  ~Running() {
    io.stop();
    thread.join();
  }
  tcp::socket connect() {
    tcp::socket s(io);
    s.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), server->port()));
    return s;
  }
};

}  // namespace

TEST_CASE("one connection serves several requests (keep-alive) and passes method path query auth body") {
  Running srv(1024);
  REQUIRE(srv.server->port() != 0);
  auto s = srv.connect();
  std::string pending;
  const std::string req1 =
      "POST /api/units?x=1 HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer k\r\nContent-Length: 2\r\n\r\n{}";
  const std::string req2 = "GET /missing HTTP/1.1\r\nHost: t\r\n\r\n";
  net::write(s, net::buffer(req1));
  auto r1 = read_response(s, pending);
  CHECK(r1.rfind("HTTP/1.1 200", 0) == 0);
  CHECK(r1.find("application/json") != std::string::npos);
  CHECK(r1.find(R"({"echo":"/api/units"})") != std::string::npos);
  net::write(s, net::buffer(req2));
  auto r2 = read_response(s, pending);
  CHECK(r2.rfind("HTTP/1.1 404", 0) == 0);
  REQUIRE(srv.seen.size() == 2);
  CHECK(srv.seen[0].method == "POST");
  CHECK(srv.seen[0].query.at("x") == "1");
  CHECK(srv.seen[0].authorization == "Bearer k");
  CHECK(srv.seen[0].body == "{}");
}

TEST_CASE("a body above the limit gets 413 and never reaches the handler") {
  Running srv(1024);
  auto s = srv.connect();
  std::string pending;
  const std::string body(2000, 'x');
  const std::string req =
      "POST /api/users HTTP/1.1\r\nHost: t\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  boost::system::error_code ec;
  net::write(s, net::buffer(req), ec);
  auto r = read_response(s, pending);
  CHECK(r.rfind("HTTP/1.1 413", 0) == 0);
  CHECK(r.find("body_limit") != std::string::npos);
  CHECK(srv.seen.empty());
}

TEST_CASE("the connection cap follows the descriptor limit unless configured") {
  CHECK(connection_cap(10, 64) == 10);
  CHECK(connection_cap(0, 64) == 64 - kReservedDescriptors);
  CHECK(connection_cap(0, 1024) == 1024 - kReservedDescriptors);
  CHECK(connection_cap(0, 20) == kMinConnections);
  CHECK(connection_cap(0, UINT64_MAX) == 100000);
  // the database connections' descriptors are kept out of the cap too
  CHECK(connection_cap(0, 1024, kReservedDescriptors + 30) == 1024 - kReservedDescriptors - 30);
  CHECK(connection_cap(0, 64, 62) == kMinConnections);
  CHECK(nofile_soft_limit() > 0);
}

TEST_CASE("the log throttle lets one line per period through and counts the rest") {
  using namespace std::chrono_literals;
  LogThrottle t(10s);
  const LogThrottle::Clock::time_point t0{};
  CHECK(t.pass(t0) == std::optional<std::size_t>(0));
  CHECK_FALSE(t.pass(t0 + 1ms));
  CHECK_FALSE(t.pass(t0 + 9s));
  CHECK(t.pass(t0 + 10s) == std::optional<std::size_t>(2));
  CHECK_FALSE(t.pass(t0 + 11s));
  CHECK(t.pass(t0 + 25s) == std::optional<std::size_t>(1));
}

TEST_CASE("at the cap a newcomer is served and the connection idle longest is closed for it") {
  Running srv(1024, 3);
  CHECK(srv.server->max_connections() == 3);
  std::vector<tcp::socket> idle;
  for (std::size_t i = 0; i < 3; ++i) {
    idle.push_back(srv.connect());
    REQUIRE(eventually([&] { return srv.server->idle_connections() == i + 1; }));
  }
  auto fresh = srv.connect();
  std::string pending;
  net::write(fresh, net::buffer(kGet));
  CHECK(read_response(fresh, pending).rfind("HTTP/1.1 200", 0) == 0);
  CHECK(closed_by_server(idle[0]));
  CHECK(still_open(idle[1]));
  CHECK(still_open(idle[2]));
  CHECK(srv.server->open_connections() == 3);
}

TEST_CASE("a connection in the middle of a request is not closed for a newcomer") {
  Running srv(1024, 2);
  auto busy = srv.connect();
  REQUIRE(eventually([&] { return srv.server->idle_connections() == 1; }));
  net::write(busy, net::buffer(std::string("GET /slow HTTP/1.1\r\n")));
  REQUIRE(eventually([&] { return srv.server->idle_connections() == 0; }));
  auto idle = srv.connect();
  REQUIRE(eventually([&] { return srv.server->idle_connections() == 1; }));

  auto fresh = srv.connect();
  std::string pending;
  net::write(fresh, net::buffer(kGet));
  CHECK(read_response(fresh, pending).rfind("HTTP/1.1 200", 0) == 0);
  CHECK(closed_by_server(idle));

  std::string busy_pending;
  net::write(busy, net::buffer(std::string("Host: t\r\n\r\n")));
  auto r = read_response(busy, busy_pending);
  CHECK(r.rfind("HTTP/1.1 200", 0) == 0);
  CHECK(r.find("/slow") != std::string::npos);
}

TEST_CASE("at the cap with no connection idle a newcomer gets 503 and the others are kept") {
  Running srv(1024, 2);
  std::vector<tcp::socket> busy;
  for (int i = 0; i < 2; ++i) {
    busy.push_back(srv.connect());
    REQUIRE(eventually([&] { return srv.server->idle_connections() == 1; }));
    net::write(busy.back(), net::buffer(std::string("GET /a HTTP/1.1\r\n")));
    REQUIRE(eventually([&] { return srv.server->idle_connections() == 0; }));
  }
  REQUIRE(srv.server->open_connections() == 2);
  auto fresh = srv.connect();
  std::string pending;
  auto r = read_response(fresh, pending);
  CHECK(r.rfind("HTTP/1.1 503", 0) == 0);
  CHECK(r.find(R"({"error":)") != std::string::npos);
  for (auto& b : busy) {
    std::string p;
    net::write(b, net::buffer(std::string("Host: t\r\n\r\n")));
    CHECK(read_response(b, p).rfind("HTTP/1.1 200", 0) == 0);
  }
}

TEST_CASE("a connection that sends nothing is closed after the idle timeout, also between requests") {
  Running srv(1024, 0, 1);
  auto quiet = srv.connect();
  auto keep_alive = srv.connect();
  std::string pending;
  net::write(keep_alive, net::buffer(kGet));
  CHECK(read_response(keep_alive, pending).rfind("HTTP/1.1 200", 0) == 0);
  CHECK(closed_by_server(quiet));
  CHECK(closed_by_server(keep_alive));
  CHECK(eventually([&] { return srv.server->open_connections() == 0; }));
}
