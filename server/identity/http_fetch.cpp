// The Beast client behind http_get: resolve, connect, write, read as one chain of async operations
// on a private io_context, run for at most the timeout (the socket steps also carry the stream's
// own expiry), so a silent server costs the caller the timeout and no more.
#include <utility>  // must precede boost/asio.hpp with GCC 12 + C++20 + Boost 1.74

#include "server/identity/http_fetch.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <charconv>
#include <chrono>

#include "server/core/errors.hpp"

namespace lg::server::identity {

namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

constexpr std::size_t kMaxBody = 1024 * 1024;

struct Url {
  std::string host;  // without [] for IPv6
  std::string port;
  std::string target;
  std::string host_header;
};

Result<Url> parse_url(std::string_view url) {
  constexpr std::string_view kHttp = "http://";
  if (url.rfind("https://", 0) == 0) {
    return Error::invalid("https:// needs the TLS client (not built yet): " + std::string(url));
  }
  if (url.rfind(kHttp, 0) != 0) return Error::invalid("not an http:// URL: '" + std::string(url) + "'");
  std::string_view rest = url.substr(kHttp.size());
  const auto slash = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);
  if (const auto hash = path.find('#'); hash != std::string_view::npos) path = path.substr(0, hash);
  if (authority.find('@') != std::string_view::npos) {
    return Error::invalid("URLs with user information are not accepted: '" + std::string(url) + "'");
  }
  Url u;
  u.host_header = std::string(authority);
  std::string_view host = authority, port = "80";
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return Error::invalid("bad IPv6 host in '" + std::string(url) + "'");
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return Error::invalid("bad host in '" + std::string(url) + "'");
      port = after.substr(1);
    }
  } else if (const auto colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  unsigned p = 0;
  auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
  if (host.empty() || port.empty() || ec != std::errc{} || ptr != port.data() + port.size() || p == 0 || p > 65535) {
    return Error::invalid("bad host or port in '" + std::string(url) + "'");
  }
  u.host = std::string(host);
  u.port = std::string(port);
  u.target = path.empty() ? "/" : (path.front() == '?' ? "/" + std::string(path) : std::string(path));
  return u;
}

}  // namespace

Result<std::pair<int, std::string>> http_get(std::string_view url, int timeout_ms) {
  Url u;
  LG_TRY_ASSIGN(u, parse_url(url));
  const auto timeout = std::chrono::milliseconds(timeout_ms > 0 ? timeout_ms : 5000);

  net::io_context ioc;
  tcp::resolver resolver(ioc);
  beast::tcp_stream stream(ioc);
  beast::flat_buffer buffer;
  bhttp::request<bhttp::empty_body> req{bhttp::verb::get, u.target, 11};
  req.set(bhttp::field::host, u.host_header);
  req.set(bhttp::field::user_agent, "labgate-server");
  req.set(bhttp::field::accept, "application/xml, text/xml, */*");
  req.set(bhttp::field::connection, "close");
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(kMaxBody);

  beast::error_code failure;
  std::string stage = "resolving the host";
  bool done = false;

  stream.expires_after(timeout);
  resolver.async_resolve(u.host, u.port, [&](beast::error_code ec, const tcp::resolver::results_type& results) {
    if (ec) {
      failure = ec;
      return;
    }
    stage = "connecting";
    stream.async_connect(results, [&](beast::error_code ec2, const tcp::endpoint&) {
      if (ec2) {
        failure = ec2;
        return;
      }
      stage = "sending the request";
      bhttp::async_write(stream, req, [&](beast::error_code ec3, std::size_t) {
        if (ec3) {
          failure = ec3;
          return;
        }
        stage = "reading the answer";
        bhttp::async_read(stream, buffer, parser, [&](beast::error_code ec4, std::size_t) {
          if (ec4) {
            failure = ec4;
            return;
          }
          done = true;
        });
      });
    });
  });
  ioc.run_for(timeout);

  const std::string where = u.host_header + " (" + std::string(url.substr(0, url.find('?'))) + ")";
  if (!done) {
    std::string why = failure ? failure.message() : "no answer within " + std::to_string(timeout.count()) + " ms";
    if (failure == beast::error::timeout) why = "no answer within " + std::to_string(timeout.count()) + " ms";
    return domain_error(Errc::unavailable, "cannot get " + where + ": " + why + " while " + stage);
  }
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  auto& res = parser.get();
  return std::pair<int, std::string>{static_cast<int>(res.result_int()), std::move(res.body())};
}

}  // namespace lg::server::identity
