// The only file of labgatectl that includes Boost (Asio + Beast).
#include <utility>  // before Asio: GCC 12 + Boost 1.74 + C++20 need std::exchange declared first

#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/version.hpp>

#include "http_client.hpp"

namespace lg::ctl {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr int kTimeoutS = 30;

Error net_error(const beast::error_code& ec, const Url& u, std::string_view what) {
  std::string reason = std::string(what) + " " + u.host + ":" + std::to_string(u.port);
  if (ec == asio::error::connection_refused) reason += ": connection refused (is labgate-server running?)";
  else if (ec == asio::error::would_block || ec == asio::error::try_again || ec == asio::error::timed_out)
    reason += ": timed out after " + std::to_string(kTimeoutS) + " s";
  else reason += ": " + ec.message();
  return Error::from(std::make_error_code(std::errc::io_error), std::move(reason));
}

}  // namespace

Result<HttpResponse> http_request(std::string_view method, std::string_view url, std::string_view token,
                                  std::string_view body) {
  auto parsed = parse_url(url);
  if (!parsed) return parsed.error();
  const Url& u = *parsed;
  const http::verb verb = http::string_to_verb(beast::string_view(method.data(), method.size()));
  if (verb == http::verb::unknown) return Error::invalid("unknown HTTP method " + std::string(method));

  asio::io_context ioc;
  tcp::resolver resolver(ioc);
  beast::error_code ec;
  const auto endpoints = resolver.resolve(u.host, std::to_string(u.port), ec);
  if (ec) return net_error(ec, u, "cannot resolve");
  tcp::socket socket(ioc);
  asio::connect(socket, endpoints, ec);
  if (ec) return net_error(ec, u, "cannot connect to");
  // Synchronous Beast calls have no deadline of their own: bound them with socket timeouts.
  const timeval tv{kTimeoutS, 0};
  ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);

  http::request<http::string_body> req{verb, u.target, 11};
  req.set(http::field::host, u.port == 80 ? u.host : u.host + ":" + std::to_string(u.port));
  req.set(http::field::user_agent, "labgatectl");
  req.set(http::field::accept, "application/json");
  if (!token.empty()) req.set(http::field::authorization, "Bearer " + std::string(token));
  if (!body.empty()) {
    req.set(http::field::content_type, "application/json");
    req.body() = std::string(body);
  }
  req.prepare_payload();
  http::write(socket, req, ec);
  if (ec) return net_error(ec, u, "cannot send to");

  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64u * 1024u * 1024u);
  http::read(socket, buffer, parser, ec);
  if (ec) return net_error(ec, u, "no valid answer from");
  socket.shutdown(tcp::socket::shutdown_both, ec);  // not_connected is fine here

  HttpResponse out;
  out.status = static_cast<int>(parser.get().result_int());
  out.body = std::move(parser.get().body());
  if (auto it = parser.get().find(http::field::link); it != parser.get().end()) {
    out.link = std::string(it->value().data(), it->value().size());
  }
  if (auto it = parser.get().find(http::field::retry_after); it != parser.get().end()) {
    const std::string v(it->value().data(), it->value().size());  // delta-seconds; an HTTP date is ignored
    if (!v.empty() && v.size() <= 9 && v.find_first_not_of("0123456789") == std::string::npos) {
      out.retry_after_s = std::stoll(v);
    }
  }
  return out;
}

}  // namespace lg::ctl
