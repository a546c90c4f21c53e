// The one translation unit that compiles Beast. Session in the style of Beast's examples:
// do_read / on_read / do_write / on_write, a timeout before every read, one fail().
#include <utility>  // must precede boost/asio.hpp with GCC 12 + C++20 + Boost 1.74

#include "server/http/http_server.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <optional>

#include "labgate/common/log.hpp"

namespace lg::server::http {

namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

constexpr std::string_view kLog = "http";
constexpr auto kReadTimeout = std::chrono::seconds(30);
constexpr auto kWriteTimeout = std::chrono::seconds(30);

/// Reports a connection-level failure; routine disconnects are only debug noise.
void fail(beast::error_code ec, const char* what) {
  if (ec == net::error::operation_aborted || ec == beast::error::timeout || ec == net::error::connection_reset ||
      ec == bhttp::error::end_of_stream || ec == net::error::eof) {
    log::debug(kLog, std::string(what) + ": " + ec.message());
    return;
  }
  log::warn(kLog, std::string(what) + ": " + ec.message());
}

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, std::size_t body_limit, std::shared_ptr<const HttpServer::Handler> handler)
      : stream_(std::move(socket)), body_limit_(body_limit), handler_(std::move(handler)) {}

  void run() {
    net::dispatch(stream_.get_executor(), beast::bind_front_handler(&Session::do_read, shared_from_this()));
  }

 private:
  void do_read() {
    parser_.emplace();
    parser_->body_limit(body_limit_);
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
    Response out = (*handler_)(r);
    send(std::move(out), req.keep_alive(), req.version());
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

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::size_t body_limit_;
  std::shared_ptr<const HttpServer::Handler> handler_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  bhttp::response<bhttp::string_body> res_;
};

}  // namespace

struct HttpServer::Impl : std::enable_shared_from_this<HttpServer::Impl> {
  Impl(net::io_context& io, std::size_t limit, Handler h)
      : ioc(io), acceptor(io), body_limit(limit), handler(std::make_shared<const Handler>(std::move(h))) {}

  void do_accept() {
    acceptor.async_accept(ioc, beast::bind_front_handler(&Impl::on_accept, shared_from_this()));
  }

  void on_accept(beast::error_code ec, tcp::socket socket) {
    if (ec) {
      fail(ec, "accept");
      if (ec == net::error::operation_aborted || !acceptor.is_open()) return;
    } else {
      std::make_shared<Session>(std::move(socket), body_limit, handler)->run();
    }
    do_accept();
  }

  net::io_context& ioc;
  tcp::acceptor acceptor;
  std::size_t body_limit;
  std::shared_ptr<const Handler> handler;
};

HttpServer::HttpServer() = default;

HttpServer::~HttpServer() { stop(); }

Result<std::unique_ptr<HttpServer>> HttpServer::start(net::io_context& io, const std::string& address, uint16_t port,
                                                      std::size_t body_limit, Handler handler) {
  beast::error_code ec;
  auto addr = net::ip::make_address(address, ec);
  if (ec) return Error::invalid("http.listen: not an IP address '" + address + "'");
  std::unique_ptr<HttpServer> srv(new HttpServer());
  srv->impl_ = std::make_shared<Impl>(io, body_limit, std::move(handler));
  auto& acc = srv->impl_->acceptor;
  const tcp::endpoint ep{addr, port};
  acc.open(ep.protocol(), ec);
  if (ec) return Error::from(ec, "http: open");
  acc.set_option(net::socket_base::reuse_address(true), ec);
  if (ec) return Error::from(ec, "http: reuse_address");
  acc.bind(ep, ec);
  if (ec) return Error::from(ec, "http: bind " + address + ":" + std::to_string(port));
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

void HttpServer::stop() {
  if (!impl_) return;
  beast::error_code ec;
  impl_->acceptor.close(ec);
}

}  // namespace lg::server::http
