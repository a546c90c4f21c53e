// The Beast listener over a real loopback socket: keep-alive, body limit (413), handler wiring.
#include <utility>  // must precede boost/asio.hpp with GCC 12 + C++20 + Boost 1.74

#include <doctest/doctest.h>

#include <boost/asio.hpp>
#include <string>
#include <thread>

#include "server/http/http_server.hpp"

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

struct Running {
  net::io_context io;
  std::unique_ptr<HttpServer> server;
  std::thread thread;
  std::vector<Request> seen;

  explicit Running(std::size_t limit) {
    auto s = HttpServer::start(io, "127.0.0.1", 0, limit, [this](const Request& r) {
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
