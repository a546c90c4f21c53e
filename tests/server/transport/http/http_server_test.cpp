// The Beast listener over a real loopback socket: keep-alive, body limit (413), handler wiring,
// the connection cap (longest idle closed for a newcomer, 503 when none is idle), idle timeout;
// web hardening: header limit (431) and header timeout, per-address connection cap and request
// rate (429), cookies and the CSRF header passed on, TLS with HSTS and plain HTTP refused on it.
#include <utility>  // must precede boost/asio.hpp with GCC 12 + C++20 + Boost 1.74

#include <doctest/doctest.h>
#include <poll.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <chrono>
#include <fstream>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "labgate/common/crypto.hpp"
#include "labgate/common/pki.hpp"
#include "labgate/common/time.hpp"
#include "server/transport/http/http_server.hpp"
#include "support/temp_dir.hpp"

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
  std::mutex seen_mutex;

  explicit Running(std::size_t limit, std::size_t max_connections = 0, int idle_timeout_s = 30,
                   const std::function<void(HttpOptions&)>& more = {}) {
    HttpOptions o;
    o.body_limit = limit;
    o.max_connections = max_connections;
    o.idle_timeout = std::chrono::seconds(idle_timeout_s);
    if (more) more(o);
    auto s = HttpServer::start(io, o, [this](const Request& r) {
      {
        std::lock_guard lock(seen_mutex);
        seen.push_back(r);
      }
      Response out{r.path == "/missing" ? 404 : 200, R"({"echo":")" + r.path + R"("})"};
      if (r.path == "/cookies") {
        out.headers.emplace_back("Set-Cookie", "a=1; Path=/");
        out.headers.emplace_back("Set-Cookie", "b=2; Path=/");
      }
      return out;
    });
    REQUIRE(s);
    server = std::move(s).value();
    thread = std::thread([this] { io.run(); });
  }
  ~Running() {
    io.stop();
    thread.join();
  }
  /// A connection from `from` (any 127.x.y.z is this host: a second client address for tests).
  tcp::socket connect(const char* from = "127.0.0.1") {
    tcp::socket s(io);
    s.open(tcp::v4());
    s.bind(tcp::endpoint(net::ip::make_address(from), 0));
    s.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), server->port()));
    return s;
  }
  std::size_t seen_count() {
    std::lock_guard lock(seen_mutex);
    return seen.size();
  }
};

/// One request on a fresh connection from `from`; the answer (empty when the server closed first).
std::string ask(Running& srv, const std::string& request, const char* from = "127.0.0.1") {
  auto s = srv.connect(from);
  boost::system::error_code ec;
  net::write(s, net::buffer(request), ec);
  std::string pending;
  return read_response(s, pending);
}

/// A CA and a server certificate for 127.0.0.1 and localhost, made with lg::pki, in dir:
/// ca.pem, cert.pem (server then CA), key.pem.
void make_certificates(const lg::test::TempDir& dir) {
  auto ca_key = lg::crypto::PrivateKey::generate();
  auto key = lg::crypto::PrivateKey::generate();
  REQUIRE(ca_key);
  REQUIRE(key);
  const int64_t now = lg::time::now_utc_ms();
  lg::pki::CertSpec ca;
  ca.cn = "test CA";
  ca.serial = lg::pki::random_serial();
  ca.not_before_ms = now - 3600'000;
  ca.not_after_ms = now + 86400'000;
  ca.usage = lg::pki::Usage::ca;
  auto ca_pem = lg::pki::self_signed(*ca_key, ca);
  REQUIRE(ca_pem);
  lg::pki::CertSpec srv = ca;
  srv.cn = "localhost";
  srv.serial = lg::pki::random_serial();
  srv.usage = lg::pki::Usage::server;
  srv.dns = {"localhost"};
  srv.ips = {"127.0.0.1"};
  auto cert = lg::pki::issue(*ca_key, *ca_pem, key->public_key(), srv);
  REQUIRE(cert);
  std::ofstream(dir.file("ca.pem")) << *ca_pem;
  std::ofstream(dir.file("cert.pem")) << *cert << *ca_pem;
  std::ofstream(dir.file("key.pem")) << key->to_pem();
  std::ofstream(dir.file("other.pem")) << ca_key->to_pem();
}

/// One HTTPS request to srv verifying the server against ca.pem; the answer, or "" with why
/// in `problem` when the handshake failed.
std::string ask_tls(Running& srv, const std::string& ca_file, const std::string& request, std::string& problem,
                    const char* ciphers = nullptr, bool tls12_only = false) {
  net::ssl::context ctx(net::ssl::context::tls_client);
  ctx.load_verify_file(ca_file);
  ctx.set_verify_mode(net::ssl::verify_peer);
  if (tls12_only) SSL_CTX_set_max_proto_version(ctx.native_handle(), TLS1_2_VERSION);
  if (ciphers) SSL_CTX_set_cipher_list(ctx.native_handle(), ciphers);
  net::ssl::stream<tcp::socket> s(srv.io, ctx);
  s.set_verify_callback(net::ssl::host_name_verification("127.0.0.1"));
  s.next_layer().connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), srv.server->port()));
  boost::system::error_code ec;
  s.handshake(net::ssl::stream_base::client, ec);
  if (ec) {
    problem = ec.message();
    return "";
  }
  net::write(s, net::buffer(request), ec);
  std::string out;
  char buf[4096];
  for (;;) {
    const std::size_t n = s.read_some(net::buffer(buf), ec);
    out.append(buf, n);
    if (ec) break;
    const auto end = out.find("\r\n\r\n");
    const auto cl = out.find("Content-Length: ");
    if (end != std::string::npos && cl != std::string::npos && out.size() >= end + 4 + std::stoul(out.substr(cl + 16))) {
      break;
    }
  }
  return out;
}

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

TEST_CASE("the rate limiter lets a burst through, then one request per 1/rate, per address") {
  using namespace std::chrono_literals;
  RateLimiter r(2.0, 3.0);  // 2 a second after a burst of 3
  const RateLimiter::Clock::time_point t0{};
  CHECK_FALSE(r.take("a", t0));
  CHECK_FALSE(r.take("a", t0));
  CHECK_FALSE(r.take("a", t0));
  auto wait = r.take("a", t0);
  REQUIRE(wait);
  CHECK(*wait == std::chrono::duration_cast<RateLimiter::Clock::duration>(500ms));
  CHECK_FALSE(r.take("b", t0));  // another address has its own bucket
  CHECK_FALSE(r.take("a", t0 + 500ms));  // one token back after 1/rate
  CHECK(r.take("a", t0 + 500ms));
  CHECK_FALSE(r.take("a", t0 + 1h));  // refilled, but never above the burst:
  CHECK_FALSE(r.take("a", t0 + 1h));
  CHECK_FALSE(r.take("a", t0 + 1h));
  CHECK(r.take("a", t0 + 1h));

  RateLimiter off(0, 1);
  for (int i = 0; i < 100; ++i) CHECK_FALSE(off.take("a", t0));
  CHECK(off.tracked() == 0);
}

TEST_CASE("the rate limiter forgets addresses whose buckets are full once it tracks many") {
  using namespace std::chrono_literals;
  RateLimiter r(1.0, 2.0);
  const RateLimiter::Clock::time_point t0{};
  for (std::size_t i = 0; i <= RateLimiter::kMaxTracked; ++i) CHECK_FALSE(r.take("a" + std::to_string(i), t0));
  CHECK(r.tracked() == RateLimiter::kMaxTracked + 1);
  REQUIRE_FALSE(r.take("busy", t0 + 10s));
  REQUIRE_FALSE(r.take("busy", t0 + 10s));
  CHECK(r.take("newcomer", t0 + 10s) == std::nullopt);  // the full ones were dropped first
  CHECK(r.tracked() == 2);                              // "busy" is kept: its bucket is empty
  CHECK(r.take("busy", t0 + 10s));
}

TEST_CASE("client addresses: IPv4-mapped IPv6 counts as IPv4 - loopback is 127/8 and ::1") {
  CHECK(client_key("::ffff:192.0.2.7") == "192.0.2.7");
  CHECK(client_key("2001:db8::1") == "2001:db8::1");
  CHECK(client_key("192.0.2.7") == "192.0.2.7");
  CHECK(is_loopback("127.0.0.1"));
  CHECK(is_loopback("127.3.2.1"));
  CHECK(is_loopback("::1"));
  CHECK(is_loopback("::ffff:127.0.0.1"));
  CHECK_FALSE(is_loopback("0.0.0.0"));
  CHECK_FALSE(is_loopback("::"));
  CHECK_FALSE(is_loopback("192.0.2.7"));
}

TEST_CASE("a request header above the header limit gets 431 and never reaches the handler") {
  Running srv(1024, 0, 30, [](HttpOptions& o) { o.header_limit = 2048; });
  const std::string big = "GET /x HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(4000, 'y') + "\r\n\r\n";
  auto r = ask(srv, big);
  CHECK(r.rfind("HTTP/1.1 431", 0) == 0);
  CHECK(r.find("header_limit") != std::string::npos);
  CHECK(srv.seen_count() == 0);
  CHECK(ask(srv, kGet).rfind("HTTP/1.1 200", 0) == 0);  // below the limit: served
}

TEST_CASE("a header sent a byte at a time is cut off at the header timeout while others are served") {
  Running srv(1024, 0, 30, [](HttpOptions& o) { o.header_timeout = std::chrono::seconds(1); });
  auto slow = srv.connect("127.0.0.2");
  REQUIRE(eventually([&] { return srv.server->idle_connections() == 1; }));
  const std::string header = "GET /slow HTTP/1.1\r\nHost: t\r\nX-Pad: " + std::string(10000, 'z');
  const auto first = std::chrono::steady_clock::now();  // before the first byte: a lower bound
  std::size_t sent = 0;
  bool closed = false;
  // A byte every 20 ms, far more than the timeout's worth; a normal client is answered meanwhile.
  while (sent < header.size() && !closed) {
    boost::system::error_code ec;
    net::write(slow, net::buffer(header.data() + sent, 1), ec);
    if (ec) break;
    ++sent;
    if (sent == 5) CHECK(ask(srv, kGet).rfind("HTTP/1.1 200", 0) == 0);
    pollfd p{slow.native_handle(), POLLIN, 0};
    closed = ::poll(&p, 1, 20) == 1;
  }
  CHECK(closed_by_server(slow));
  const auto took = std::chrono::steady_clock::now() - first;
  CHECK(took >= std::chrono::seconds(1));  // never before the timeout
  CHECK(sent < header.size());
  CHECK(srv.seen_count() == 1);  // only the normal client's request
  CHECK(eventually([&] { return srv.server->open_connections() == 0; }));
}

TEST_CASE("connections per address are capped: idle ones of that address make room, else 429") {
  Running srv(1024, 0, 30, [](HttpOptions& o) { o.max_connections_per_address = 2; });
  auto idle = srv.connect("127.0.0.2");
  auto busy = srv.connect("127.0.0.2");
  REQUIRE(eventually([&] { return srv.server->idle_connections() == 2; }));
  net::write(busy, net::buffer(std::string("GET /a HTTP/1.1\r\n")));
  REQUIRE(eventually([&] { return srv.server->idle_connections() == 1; }));
  // A third from the same address: its idle one is closed for it.
  auto third = srv.connect("127.0.0.2");
  CHECK(closed_by_server(idle));
  net::write(third, net::buffer(std::string("GET /b HTTP/1.1\r\n")));
  REQUIRE(eventually([&] { return srv.server->idle_connections() == 0 && srv.server->open_connections() == 2; }));
  // A fourth while both are busy: refused with 429 and closed.
  auto r = ask(srv, kGet, "127.0.0.2");
  CHECK(r.rfind("HTTP/1.1 429", 0) == 0);
  CHECK(r.find("max_connections_per_address") != std::string::npos);
  // Another address is served meanwhile, and the busy ones finish their requests.
  CHECK(ask(srv, kGet, "127.0.0.3").rfind("HTTP/1.1 200", 0) == 0);
  std::string p;
  net::write(busy, net::buffer(std::string("Host: t\r\n\r\n")));
  CHECK(read_response(busy, p).rfind("HTTP/1.1 200", 0) == 0);
}

TEST_CASE("requests above an address's rate get 429 with Retry-After - other addresses are served") {
  Running srv(1024, 0, 30, [](HttpOptions& o) {
    o.rate_per_s = 0.01;  // one token per 100 s: none comes back during the test
    o.rate_burst = 3;
  });
  auto s = srv.connect("127.0.0.2");
  std::string pending;
  for (int i = 0; i < 3; ++i) {
    net::write(s, net::buffer(kGet));
    CHECK(read_response(s, pending).rfind("HTTP/1.1 200", 0) == 0);
  }
  net::write(s, net::buffer(kGet));
  auto r = read_response(s, pending);
  CHECK(r.rfind("HTTP/1.1 429", 0) == 0);
  CHECK(r.find("Retry-After: 100") != std::string::npos);
  CHECK(r.find("rate_per_s") != std::string::npos);
  CHECK(closed_by_server(s));
  CHECK(srv.seen_count() == 3);
  CHECK(ask(srv, kGet, "127.0.0.3").rfind("HTTP/1.1 200", 0) == 0);
  CHECK(ask(srv, kGet, "127.0.0.2").rfind("HTTP/1.1 429", 0) == 0);
}

TEST_CASE("cookies and the CSRF header reach the handler - several Set-Cookie fields go out") {
  Running srv(1024);
  auto r = ask(srv,
               "GET /cookies HTTP/1.1\r\nHost: t\r\nCookie: lg_session=abc\r\nCookie: lg_csrf=def\r\n"
               "X-CSRF-Token: def\r\n\r\n");
  CHECK(r.rfind("HTTP/1.1 200", 0) == 0);
  CHECK(r.find("Set-Cookie: a=1; Path=/\r\n") != std::string::npos);
  CHECK(r.find("Set-Cookie: b=2; Path=/\r\n") != std::string::npos);
  CHECK(r.find("X-Content-Type-Options: nosniff") != std::string::npos);
  CHECK(r.find("Strict-Transport-Security") == std::string::npos);  // plain HTTP: no HSTS
  REQUIRE(srv.seen_count() == 1);
  CHECK(srv.seen[0].cookie == "lg_session=abc; lg_csrf=def");
  CHECK(srv.seen[0].csrf_token == "def");
  CHECK_FALSE(srv.seen[0].tls);
  CHECK_FALSE(srv.server->tls());
}

TEST_CASE("with a certificate the listener speaks TLS only, with HSTS - plain HTTP is told so and closed") {
  lg::test::TempDir dir("https");
  make_certificates(dir);
  Running srv(1024, 0, 30, [&](HttpOptions& o) {
    o.tls.cert_file = dir.file("cert.pem");
    o.tls.key_file = dir.file("key.pem");
  });
  CHECK(srv.server->tls());
  std::string problem;
  auto r = ask_tls(srv, dir.file("ca.pem"), kGet, problem);
  INFO(problem);
  CHECK(r.rfind("HTTP/1.1 200", 0) == 0);
  CHECK(r.find("Strict-Transport-Security: max-age=31536000") != std::string::npos);
  REQUIRE(srv.seen_count() == 1);
  CHECK(srv.seen[0].tls);

  // TLS 1.2 with a forward-secret AEAD cipher is taken; a CBC-only client is not.
  CHECK(ask_tls(srv, dir.file("ca.pem"), kGet, problem, "ECDHE-ECDSA-AES128-GCM-SHA256", true).rfind("HTTP/1.1 200", 0) == 0);
  problem.clear();
  CHECK(ask_tls(srv, dir.file("ca.pem"), kGet, problem, "ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA384", true).empty());
  CHECK_FALSE(problem.empty());

  auto plain = ask(srv, kGet);
  CHECK(plain.rfind("HTTP/1.1 400", 0) == 0);
  CHECK(plain.find("HTTPS only") != std::string::npos);
  CHECK(srv.seen_count() == 2);
}

TEST_CASE("a missing certificate or a key that is not its own refuses to start, naming the key") {
  lg::test::TempDir dir("https-bad");
  make_certificates(dir);
  net::io_context io;
  auto handler = [](const Request&) { return Response{200, "{}"}; };
  HttpOptions o;
  o.tls.cert_file = dir.file("missing.pem");
  o.tls.key_file = dir.file("key.pem");
  auto a = HttpServer::start(io, o, handler);
  REQUIRE_FALSE(a);
  CHECK(a.error().reason.find("http.tls_cert") != std::string::npos);
  o.tls.cert_file = dir.file("cert.pem");
  o.tls.key_file = dir.file("other.pem");
  auto b = HttpServer::start(io, o, handler);
  REQUIRE_FALSE(b);
  CHECK(b.error().reason.find("http.tls_key") != std::string::npos);
  o.tls.key_file = dir.file("key.pem");
  CHECK(HttpServer::start(io, o, handler));
}

TEST_CASE("cookie values are found by name in a Cookie header") {
  CHECK(cookie_value("lg_session=abc; lg_csrf=def", "lg_session") == std::optional<std::string>("abc"));
  CHECK(cookie_value("lg_session=abc; lg_csrf=def", "lg_csrf") == std::optional<std::string>("def"));
  CHECK(cookie_value("x_lg_session=no;lg_session=yes", "lg_session") == std::optional<std::string>("yes"));
  CHECK(cookie_value("lg_session=\"q\"", "lg_session") == std::optional<std::string>("q"));
  CHECK(cookie_value("lg_session=", "lg_session") == std::optional<std::string>(""));
  CHECK_FALSE(cookie_value("", "lg_session"));
  CHECK_FALSE(cookie_value("lg_sessionx=1; other", "lg_session"));
}

TEST_CASE("the CSRF token is a keyed digest of the session token - only GET HEAD OPTIONS are safe") {
  CHECK(csrf_token("a") == csrf_token("a"));
  CHECK(csrf_token("a") != csrf_token("b"));
  CHECK(csrf_token("a").size() == 64);
  for (const char* m : {"GET", "HEAD", "OPTIONS"}) CHECK(safe_method(m));
  for (const char* m : {"POST", "PUT", "PATCH", "DELETE", "get"}) CHECK_FALSE(safe_method(m));
  const auto c = session_cookies("tok", 60, false);
  REQUIRE(c.size() == 2);
  CHECK(c[0] == "lg_session=tok; Path=/; Max-Age=60; SameSite=Strict; HttpOnly");
  CHECK(c[1] == "lg_csrf=" + csrf_token("tok") + "; Path=/; Max-Age=60; SameSite=Strict");
}
