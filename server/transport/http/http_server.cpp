// The one translation unit that compiles Beast. Session in the style of Beast's examples:
// do_read / on_read / do_write / on_write, a timeout before every read, one fail().
//
// Descriptors are a resource a client can exhaust by opening connections and sending nothing.
// So the listener counts its open connections and keeps them under a cap below the descriptor
// limit; a connection waiting for a request (fresh, or between keep-alive requests) is "idle"
// and may be closed to make room for a newcomer, longest waiting first. An accept that fails for
// lack of descriptors frees one the same way and is retried after a back-off, never at once.
#include <utility>  // must precede boost/asio.hpp with GCC 12 + C++20 + Boost 1.74

#include "server/transport/http/http_server.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cerrno>
#include <limits>
#include <list>
#include <optional>

#include "labgate/common/log.hpp"

namespace lg::server::http {

namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

std::size_t connection_cap(std::size_t configured, std::uint64_t nofile_soft_limit, std::size_t reserved) {
  if (configured > 0) return configured;
  constexpr std::uint64_t kUnlimitedCap = 100000;
  if (nofile_soft_limit <= reserved + kMinConnections) return kMinConnections;
  return static_cast<std::size_t>(std::min<std::uint64_t>(nofile_soft_limit - reserved, kUnlimitedCap));
}

std::uint64_t nofile_soft_limit() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) {
    return std::numeric_limits<std::uint64_t>::max();
  }
  return static_cast<std::uint64_t>(rl.rlim_cur);
}

std::optional<std::size_t> LogThrottle::pass(Clock::time_point now) {
  if (last_ && now - *last_ < period_) {
    ++suppressed_;
    return std::nullopt;
  }
  last_ = now;
  return std::exchange(suppressed_, 0);
}

namespace {

constexpr std::string_view kLog = "http";
constexpr auto kReadTimeout = std::chrono::seconds(30);  // from the first byte to the whole request
constexpr auto kWriteTimeout = std::chrono::seconds(30);
constexpr auto kWarnPeriod = std::chrono::seconds(10);
constexpr auto kFirstBackoff = std::chrono::milliseconds(50);
constexpr auto kMaxBackoff = std::chrono::milliseconds(1000);

/// Reports a connection-level failure; routine disconnects are only debug noise.
void fail(beast::error_code ec, const char* what) {
  if (ec == net::error::operation_aborted || ec == beast::error::timeout || ec == net::error::connection_reset ||
      ec == bhttp::error::end_of_stream || ec == net::error::eof || ec == net::error::broken_pipe) {
    log::debug(kLog, std::string(what) + ": " + ec.message());
    return;
  }
  log::warn(kLog, std::string(what) + ": " + ec.message());
}

/// Writes a warning unless the throttle holds it back; says how many it held back before.
void warn_throttled(LogThrottle& throttle, const std::string& what) {
  auto held = throttle.pass(LogThrottle::Clock::now());
  if (!held) return;
  std::string line = what;
  if (*held > 0) line += " (" + std::to_string(*held) + " more such events in the last 10 s not logged)";
  log::warn(kLog, line);
}

/// Accept failures that mean "no descriptor or buffer left for a new socket".
bool out_of_resources(const beast::error_code& ec) {
  if (ec.category() != net::error::get_system_category()) return false;
  const int e = ec.value();
  return e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM;
}

class Session;

/// The open connections of one listener, shared by the listener and its sessions (all on the
/// io thread but `open`, which tests and diagnostics read from elsewhere).
struct Connections {
  explicit Connections(std::size_t c) : cap(c) {}
  /// Closes the connection that has waited longest for a request; false when none waits.
  bool close_longest_idle();

  const std::size_t cap;
  std::atomic<std::size_t> open{0};
  std::list<Session*> idle;  ///< waiting for a request, longest waiting first
  std::atomic<std::size_t> idle_count{0};  ///< idle.size(), readable from any thread
  LogThrottle cap_warning{kWarnPeriod};
};

struct SessionSettings {
  std::size_t body_limit;
  std::chrono::seconds idle_timeout;
  std::shared_ptr<const HttpServer::Handler> handler;
  /// Where handlers run: never on the io thread, so a slow one (a long report) holds one worker
  /// while every other connection is still read, answered and timed out.
  std::shared_ptr<net::thread_pool> workers;
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, std::shared_ptr<Connections> connections, const SessionSettings& settings)
      : stream_(std::move(socket)), connections_(std::move(connections)), settings_(settings) {
    ++connections_->open;
  }
  ~Session() {
    leave_idle();
    release_slot();
  }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void run() {
    net::dispatch(stream_.get_executor(), beast::bind_front_handler(&Session::do_read, shared_from_this()));
  }

  /// Closes the connection now (it is idle, the listener needs its descriptor); the pending read
  /// ends with operation_aborted and the session goes away.
  void close_idle() {
    leave_idle();
    closed_ = true;
    stream_.close();
    release_slot();
  }

 private:
  /// Waits for the first bytes of the next request: meanwhile the connection is idle and may be
  /// closed for a newcomer or after the idle timeout. A pipelined request already buffered is
  /// read at once.
  void do_read() {
    if (buffer_.size() > 0) return do_read_request();
    enter_idle();
    stream_.expires_after(settings_.idle_timeout);
    stream_.async_read_some(buffer_.prepare(4096),
                            beast::bind_front_handler(&Session::on_first_bytes, shared_from_this()));
  }

  void on_first_bytes(beast::error_code ec, std::size_t bytes) {
    leave_idle();
    if (closed_) return;  // closed for a newcomer after these bytes had arrived
    if (ec) return fail(ec, "read");
    buffer_.commit(bytes);
    do_read_request();
  }

  void do_read_request() {
    parser_.emplace();
    parser_->body_limit(settings_.body_limit);
    parser_->header_limit(16 * 1024);
    stream_.expires_after(kReadTimeout);
    bhttp::async_read(stream_, buffer_, *parser_, beast::bind_front_handler(&Session::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t /*bytes*/) {
    if (ec == bhttp::error::end_of_stream) return do_close();
    if (ec == bhttp::error::body_limit) {
      return send(Response{413, R"({"error":"body larger than http.body_limit"})"}, false, 11);
    }
    if (ec && ec.category() == bhttp::make_error_code(bhttp::error::bad_target).category()) {
      return send(Response{400, R"({"error":"malformed HTTP request"})"}, false, 11);
    }
    if (ec) return fail(ec, "read");

    auto& req = parser_->get();
    Request r = make_request(std::string(req.method_string()), std::string(req.target()),
                             std::string(req[bhttp::field::authorization]), std::move(req.body()));
    beast::error_code peer_ec;
    const auto peer = stream_.socket().remote_endpoint(peer_ec);
    if (!peer_ec) r.remote = peer.address().to_string();  // who made a change, for the audit log
    const bool keep_alive = req.keep_alive();
    const unsigned version = req.version();
    // The handler runs on a worker; the answer comes back to this connection's executor (the io
    // thread), which alone touches the stream and the connection bookkeeping.
    net::post(*settings_.workers, [self = shared_from_this(), r = std::move(r), keep_alive, version]() mutable {
      Response out = (*self->settings_.handler)(r);
      auto ex = self->stream_.get_executor();
      net::post(ex, [self = std::move(self), out = std::move(out), keep_alive, version]() mutable {
        self->send(std::move(out), keep_alive, version);
      });
    });
  }

  void send(Response out, bool keep_alive, unsigned version) {
    res_ = {};
    res_.version(version);
    res_.result(static_cast<unsigned>(out.status));
    res_.set(bhttp::field::server, "labgate-server");
    res_.set(bhttp::field::content_type, "application/json");
    for (auto& [name, value] : out.headers) res_.set(name, value);
    res_.keep_alive(keep_alive);
    res_.body() = std::move(out.body);
    res_.prepare_payload();
    do_write();
  }

  void do_write() {
    stream_.expires_after(kWriteTimeout);
    bhttp::async_write(stream_, res_,
                       beast::bind_front_handler(&Session::on_write, shared_from_this(), res_.keep_alive()));
  }

  void on_write(bool keep_alive, beast::error_code ec, std::size_t /*bytes*/) {
    if (ec) return fail(ec, "write");
    if (!keep_alive) return do_close();
    do_read();
  }

  void do_close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  void enter_idle() {
    idle_pos_ = connections_->idle.insert(connections_->idle.end(), this);
    ++connections_->idle_count;
  }
  void leave_idle() {
    if (!idle_pos_) return;
    connections_->idle.erase(*idle_pos_);
    idle_pos_.reset();
    --connections_->idle_count;
  }
  void release_slot() {
    if (!holds_slot_) return;
    holds_slot_ = false;
    --connections_->open;
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::shared_ptr<Connections> connections_;
  SessionSettings settings_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  bhttp::response<bhttp::string_body> res_;
  std::optional<std::list<Session*>::iterator> idle_pos_;
  bool holds_slot_ = true;
  bool closed_ = false;
};

bool Connections::close_longest_idle() {
  if (idle.empty()) return false;
  idle.front()->close_idle();  // takes itself off the list
  return true;
}

/// Answers 503 on a connection the listener has no room for, without reading its request, and
/// closes it. The answer is small enough for an empty socket buffer, so one non-blocking write.
void refuse(tcp::socket socket) {
  static const std::string body = R"({"error":"server busy: too many open connections, retry later"})";
  static const std::string answer =
      "HTTP/1.1 503 Service Unavailable\r\nServer: labgate-server\r\nContent-Type: application/json\r\n"
      "Retry-After: 1\r\nConnection: close\r\nContent-Length: " +
      std::to_string(body.size()) + "\r\n\r\n" + body;
  beast::error_code ec;
  socket.non_blocking(true, ec);
  if (!ec) socket.write_some(net::buffer(answer), ec);
  socket.shutdown(tcp::socket::shutdown_send, ec);
  socket.close(ec);
}

}  // namespace

struct HttpServer::Impl : std::enable_shared_from_this<HttpServer::Impl> {
  Impl(net::io_context& io, const HttpOptions& options, Handler h)
      : ioc(io),
        acceptor(io),
        retry_timer(io),
        connections(std::make_shared<Connections>(connection_cap(options.max_connections, nofile_soft_limit(), options.reserved_descriptors))),
        settings{options.body_limit, options.idle_timeout, std::make_shared<const Handler>(std::move(h)),
                 std::make_shared<net::thread_pool>(std::max<std::size_t>(1, options.threads))} {}

  void do_accept() {
    acceptor.async_accept(ioc, beast::bind_front_handler(&Impl::on_accept, shared_from_this()));
  }

  void on_accept(beast::error_code ec, tcp::socket socket) {
    if (ec) {
      if (ec == net::error::operation_aborted || !acceptor.is_open()) return;
      return retry_later(ec);
    }
    backoff = std::chrono::milliseconds(0);
    if (connections->open.load() >= connections->cap) {
      if (connections->close_longest_idle()) {
        warn_throttled(connections->cap_warning, "connection cap " + std::to_string(connections->cap) +
                                                     " reached: closed the connection idle longest");
      } else {
        warn_throttled(connections->cap_warning, "connection cap " + std::to_string(connections->cap) +
                                                     " reached and none idle: refused a connection with 503");
        refuse(std::move(socket));
        return do_accept();
      }
    }
    std::make_shared<Session>(std::move(socket), connections, settings)->run();
    do_accept();
  }

  /// After a failed accept: frees a descriptor if that was the trouble and accepts again after
  /// the back-off, so a condition that persists costs a few wake-ups a second, not a busy loop.
  void retry_later(const beast::error_code& ec) {
    const bool starved = out_of_resources(ec);
    bool freed = false;
    if (starved) freed = connections->close_longest_idle();
    backoff = backoff.count() == 0 ? kFirstBackoff : std::min(backoff * 2, kMaxBackoff);
    warn_throttled(accept_warning, "accept: " + ec.message() + (freed ? "; closed the connection idle longest" : "") +
                                       "; retrying in " + std::to_string(backoff.count()) + " ms");
    retry_timer.expires_after(backoff);
    retry_timer.async_wait([self = shared_from_this()](const beast::error_code& e) {
      if (e || !self->acceptor.is_open()) return;
      self->do_accept();
    });
  }

  net::io_context& ioc;
  tcp::acceptor acceptor;
  net::steady_timer retry_timer;
  std::shared_ptr<Connections> connections;
  SessionSettings settings;
  std::chrono::milliseconds backoff{0};
  LogThrottle accept_warning{kWarnPeriod};
};

HttpServer::HttpServer() = default;

HttpServer::~HttpServer() { stop(); }

Result<std::unique_ptr<HttpServer>> HttpServer::start(net::io_context& io, const HttpOptions& options,
                                                      Handler handler) {
  beast::error_code ec;
  auto addr = net::ip::make_address(options.address, ec);
  if (ec) return Error::invalid("http.listen: not an IP address '" + options.address + "'");
  std::unique_ptr<HttpServer> srv(new HttpServer());
  srv->impl_ = std::make_shared<Impl>(io, options, std::move(handler));
  auto& acc = srv->impl_->acceptor;
  const tcp::endpoint ep{addr, options.port};
  acc.open(ep.protocol(), ec);
  if (ec) return Error::from(ec, "http: open");
  acc.set_option(net::socket_base::reuse_address(true), ec);
  if (ec) return Error::from(ec, "http: reuse_address");
  acc.bind(ep, ec);
  if (ec && ec.category() == net::error::get_system_category() && ec.value() == EADDRNOTAVAIL) {
    return Error::from(std::make_error_code(std::errc::address_not_available),
                       "http.listen: " + options.address + " is not an address of this host");
  }
  if (ec) return Error::from(ec, "http: bind " + options.address + ":" + std::to_string(options.port));
  acc.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return Error::from(ec, "http: listen");
  srv->impl_->do_accept();
  return srv;
}

uint16_t HttpServer::port() const {
  beast::error_code ec;
  auto ep = impl_->acceptor.local_endpoint(ec);
  return ec ? 0 : ep.port();
}

std::size_t HttpServer::max_connections() const { return impl_->connections->cap; }

std::size_t HttpServer::open_connections() const { return impl_->connections->open.load(); }

std::size_t HttpServer::idle_connections() const { return impl_->connections->idle_count.load(); }

void HttpServer::stop() {
  if (!impl_) return;
  beast::error_code ec;
  impl_->acceptor.close(ec);
  impl_->retry_timer.cancel();
  // Let the handlers that run finish (they hold references to the app); queued ones are dropped.
  impl_->settings.workers->stop();
  impl_->settings.workers->join();
}

}  // namespace lg::server::http
