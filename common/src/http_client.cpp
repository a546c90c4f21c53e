// The Beast client behind http_client::request: resolve, connect, (TLS handshake,) write, read as
// one chain of async operations on a private io_context run for at most the timeout, so a
// silent server costs the caller the timeout and no more.
#include <utility>  // must precede boost/asio.hpp with GCC 12 + C++20 + Boost 1.74

#include "labgate/common/http_client.hpp"

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <charconv>
#include <chrono>
#include <optional>

namespace lg::http_client {

namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

namespace {

struct Url {
  bool tls = false;
  std::string host;  // without [] for IPv6
  std::string port;
  std::string target;
  std::string host_header;
};

Result<Url> parse_url(std::string_view url) {
  Url u;
  std::string_view rest;
  if (url.rfind("https://", 0) == 0) {
    u.tls = true;
    rest = url.substr(8);
  } else if (url.rfind("http://", 0) == 0) {
    rest = url.substr(7);
  } else {
    return Error::invalid("not an http:// or https:// URL: '" + std::string(url.substr(0, 200)) + "'");
  }
  const auto slash = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);
  if (const auto hash = path.find('#'); hash != std::string_view::npos) path = path.substr(0, hash);
  if (authority.find('@') != std::string_view::npos)
    return Error::invalid("URLs with user information are not accepted: '" + std::string(url.substr(0, 200)) + "'");
  u.host_header = std::string(authority);
  std::string_view host = authority, port = u.tls ? "443" : "80";
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
  if (host.empty() || port.empty() || ec != std::errc{} || ptr != port.data() + port.size() || p == 0 || p > 65535)
    return Error::invalid("bad host or port in '" + std::string(url.substr(0, 200)) + "'");
  u.host = std::string(host);
  u.port = std::string(port);
  u.target = path.empty() ? "/" : (path.front() == '?' ? "/" + std::string(path) : std::string(path));
  return u;
}

Error unreachable(const std::string& why) {
  return Error::from(std::make_error_code(std::errc::host_unreachable), why);
}

}  // namespace

Result<Response> request(std::string_view method, std::string_view url, std::string_view body,
                         std::string_view content_type, const Options& opts) {
  Url u;
  LG_TRY_ASSIGN(u, parse_url(url));
  const bhttp::verb verb = bhttp::string_to_verb(beast::string_view(method.data(), method.size()));
  if (verb == bhttp::verb::unknown) return Error::invalid("unknown HTTP method '" + std::string(method) + "'");
  const auto timeout = std::chrono::milliseconds(opts.timeout_ms > 0 ? opts.timeout_ms : 10'000);

  net::io_context ioc;
  std::optional<ssl::context> tls_ctx;
  if (u.tls) {
    tls_ctx.emplace(ssl::context::tls_client);
    tls_ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                         ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    beast::error_code ec;
    if (opts.ca_file.empty()) {
      tls_ctx->set_default_verify_paths(ec);
    } else {
      tls_ctx->load_verify_file(opts.ca_file, ec);
    }
    if (ec) return Error::invalid("cannot load the CA file '" + opts.ca_file + "': " + ec.message());
    tls_ctx->set_verify_mode(ssl::verify_peer);
    if (!opts.cert_file.empty()) {
      tls_ctx->use_certificate_chain_file(opts.cert_file, ec);
      if (ec) return Error::invalid("cannot use the client certificate '" + opts.cert_file + "': " + ec.message());
      tls_ctx->use_private_key_file(opts.key_file, ssl::context::pem, ec);
      if (ec) return Error::invalid("cannot use the client key '" + opts.key_file + "': " + ec.message());
    }
  }
  tcp::resolver resolver(ioc);
  beast::tcp_stream plain(ioc);
  std::optional<beast::ssl_stream<beast::tcp_stream>> secure;
  if (u.tls) {
    secure.emplace(ioc, *tls_ctx);
    secure->set_verify_callback(ssl::host_name_verification(u.host));
    if (!SSL_set_tlsext_host_name(secure->native_handle(), u.host.c_str()))
      return Error::invalid("cannot set the TLS server name " + u.host);
  }
  beast::tcp_stream& tcp_layer = u.tls ? beast::get_lowest_layer(*secure) : plain;

  bhttp::request<bhttp::string_body> req{verb, u.target, 11};
  req.set(bhttp::field::host, u.host_header);
  req.set(bhttp::field::user_agent, opts.user_agent);
  req.set(bhttp::field::accept, "*/*");
  req.set(bhttp::field::connection, "close");
  if (!body.empty() || verb == bhttp::verb::post || verb == bhttp::verb::put) {
    if (!content_type.empty()) req.set(bhttp::field::content_type, std::string(content_type));
    req.body() = std::string(body);
    req.prepare_payload();
  }
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(opts.max_body);
  beast::flat_buffer buffer;

  beast::error_code failure;
  std::string stage = "resolving the host";
  bool done = false;
  auto on_read = [&](beast::error_code ec, std::size_t) {
    if (ec) failure = ec;
    else done = true;
  };
  auto write_then_read = [&]() {
    stage = "sending the request";
    auto on_write = [&](beast::error_code ec, std::size_t) {
      if (ec) {
        failure = ec;
        return;
      }
      stage = "reading the answer";
      if (u.tls) bhttp::async_read(*secure, buffer, parser, on_read);
      else bhttp::async_read(plain, buffer, parser, on_read);
    };
    if (u.tls) bhttp::async_write(*secure, req, on_write);
    else bhttp::async_write(plain, req, on_write);
  };

  tcp_layer.expires_after(timeout);
  resolver.async_resolve(u.host, u.port, [&](beast::error_code ec, const tcp::resolver::results_type& results) {
    if (ec) {
      failure = ec;
      return;
    }
    stage = "connecting";
    tcp_layer.async_connect(results, [&](beast::error_code ec2, const tcp::endpoint&) {
      if (ec2) {
        failure = ec2;
        return;
      }
      if (!u.tls) {
        write_then_read();
        return;
      }
      stage = "the TLS handshake (is the server's certificate from the CA given?)";
      secure->async_handshake(ssl::stream_base::client, [&](beast::error_code ec3) {
        if (ec3) {
          failure = ec3;
          return;
        }
        write_then_read();
      });
    });
  });
  ioc.run_for(timeout);

  const std::string where = u.host_header + " (" + std::string(url.substr(0, url.find('?'))) + ")";
  if (!done) {
    std::string why = failure ? failure.message() : "no answer within " + std::to_string(timeout.count()) + " ms";
    if (failure == beast::error::timeout) why = "no answer within " + std::to_string(timeout.count()) + " ms";
    return unreachable("cannot " + std::string(method) + " " + where + ": " + why + " while " + stage);
  }
  beast::error_code ignored;
  tcp_layer.socket().shutdown(tcp::socket::shutdown_both, ignored);
  auto& res = parser.get();
  Response out;
  out.status = static_cast<int>(res.result_int());
  out.content_type = std::string(res[bhttp::field::content_type]);
  out.body = std::move(res.body());
  return out;
}

}  // namespace lg::http_client
