// The one translation unit that compiles Beast. Session in the style of Beast's examples:
// do_read / on_read / do_write / on_write, a timeout before every read, one fail().
//
// Descriptors are a resource a client can exhaust by opening connections and sending nothing.
// So the listener counts its open connections and keeps them under a cap below the descriptor
// limit; a connection waiting for a request (fresh, or between keep-alive requests) is "idle"
// and may be closed to make room for a newcomer, longest waiting first. An accept that fails for
// lack of descriptors frees one the same way and is retried after a back-off, never at once.
//
// Web hardening (docs/SERVER.md, "HTTPS and web hardening"): TLS through Boost.Asio's ssl (which
// is OpenSSL), a header timeout from a request's first byte (a slow-header client is closed), a
// cap on connections per address and a token bucket of requests per address.
#include <utility>  // must precede boost/asio.hpp with GCC 12 + C++20 + Boost 1.74

#include "server/transport/http/http_server.hpp"

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cerrno>
#include <cmath>
#include <limits>
#include <list>
#include <optional>
#include <type_traits>
#include <unordered_map>

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

RateLimiter::RateLimiter(double per_s, double burst) : per_s_(per_s), burst_(std::max(1.0, burst)) {}

std::optional<RateLimiter::Clock::duration> RateLimiter::take(const std::string& address, Clock::time_point now) {
  if (per_s_ <= 0) return std::nullopt;
  if (buckets_.size() > kMaxTracked) {
    // Forget the addresses whose buckets have refilled: they would start full anyway.
    for (auto it = buckets_.begin(); it != buckets_.end();) {
      const double refill = std::chrono::duration<double>(now - it->second.at).count() * per_s_;
      it = it->second.tokens + refill >= burst_ ? buckets_.erase(it) : std::next(it);
    }
  }
  auto [it, fresh] = buckets_.try_emplace(address, Bucket{burst_, now});
  Bucket& b = it->second;
  if (!fresh && now > b.at) {
    b.tokens = std::min(burst_, b.tokens + std::chrono::duration<double>(now - b.at).count() * per_s_);
    b.at = now;
  }
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return std::nullopt;
  }
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>((1.0 - b.tokens) / per_s_));
}

std::string client_key(const std::string& address_text) {
  boost::system::error_code ec;
  auto a = net::ip::make_address(address_text, ec);
  if (ec) return address_text;
  if (a.is_v6() && a.to_v6().is_v4_mapped()) return net::ip::make_address_v4(net::ip::v4_mapped, a.to_v6()).to_string();
  return a.to_string();
}

bool is_loopback(const std::string& address_text) {
  boost::system::error_code ec;
  auto a = net::ip::make_address(client_key(address_text), ec);
  return !ec && a.is_loopback();
}

namespace {

constexpr std::string_view kLog = "http";
constexpr auto kWriteTimeout = std::chrono::seconds(30);
constexpr auto kShutdownTimeout = std::chrono::seconds(5);
/// The first byte of a TLS record carrying a handshake: what a TLS client sends first.
constexpr unsigned char kTlsHandshakeRecord = 0x16;
constexpr auto kWarnPeriod = std::chrono::seconds(10);
constexpr auto kFirstBackoff = std::chrono::milliseconds(50);
constexpr auto kMaxBackoff = std::chrono::milliseconds(1000);

/// Reports a connection-level failure; routine disconnects are only debug noise.
void fail(beast::error_code ec, const char* what) {
  if (ec == net::error::operation_aborted || ec == beast::error::timeout || ec == net::error::connection_reset ||
      ec == bhttp::error::end_of_stream || ec == net::error::eof || ec == net::error::broken_pipe ||
      // TLS: a peer that hangs up without close_notify, or one that cannot or will not handshake
      // (a scanner, an old client): its problem, one line each would let it fill the log.
      ec == net::ssl::error::stream_truncated || ec.category() == net::error::get_ssl_category()) {
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

class SessionBase;

/// The open connections of one listener, shared by the listener and its sessions (all on the
/// io thread but `open`, which tests and diagnostics read from elsewhere).
struct Connections {
  Connections(std::size_t c, std::size_t address_cap, double rate_per_s, double rate_burst)
      : cap(c), per_address_cap(address_cap), limiter(rate_per_s, rate_burst) {}
  /// Closes the connection that has waited longest for a request; false when none waits.
  bool close_longest_idle();
  /// The same among the connections of one address.
  bool close_longest_idle_of(const std::string& key);

  const std::size_t cap;
  const std::size_t per_address_cap;  ///< 0 = none
  std::atomic<std::size_t> open{0};
  std::list<SessionBase*> idle;  ///< waiting for a request, longest waiting first
  std::atomic<std::size_t> idle_count{0};  ///< idle.size(), readable from any thread
  std::unordered_map<std::string, std::size_t> per_address;  ///< open connections by client_key
  RateLimiter limiter;
  LogThrottle cap_warning{kWarnPeriod};
  LogThrottle address_warning{kWarnPeriod};
  LogThrottle rate_warning{kWarnPeriod};
};

struct SessionSettings {
  std::size_t body_limit;
  std::size_t header_limit;
  std::chrono::seconds idle_timeout;
  std::chrono::seconds header_timeout;
  std::chrono::seconds request_timeout;
  std::shared_ptr<const HttpServer::Handler> handler;
  /// Where handlers run: never on the io thread, so a slow one (a long report) holds one worker
  /// while every other connection is still read, answered and timed out.
  std::shared_ptr<net::thread_pool> workers;
  /// The listener's TLS context; null for plain HTTP.
  std::shared_ptr<net::ssl::context> tls;
};

/// What the connection list knows of a session: its address, and how to close it while idle.
class SessionBase {
 public:
  explicit SessionBase(std::string key) : key_(std::move(key)) {}
  virtual ~SessionBase() = default;
  SessionBase(const SessionBase&) = delete;
  SessionBase& operator=(const SessionBase&) = delete;
  /// Closes the connection now (it is idle, the listener needs its descriptor); the pending read
  /// ends with operation_aborted and the session goes away.
  virtual void close_idle() = 0;
  const std::string& key() const { return key_; }

 private:
  std::string key_;
};

using TlsStream = beast::ssl_stream<beast::tcp_stream>;

/// The CN of the certificate the peer presented (verified by the handshake), "" when none.
std::string peer_common_name(SSL* ssl) {
  const X509* cert = SSL_get0_peer_certificate(ssl);
  if (cert == nullptr) return {};
  const X509_NAME* subject = X509_get_subject_name(cert);
  const int at = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (at < 0) return {};
  unsigned char* utf8 = nullptr;
  const int n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, at)));
  if (n < 0) return {};
  std::string cn(reinterpret_cast<const char*>(utf8), static_cast<std::size_t>(n));
  OPENSSL_free(utf8);
  return cn;
}

/// One connection, plain (Stream = beast::tcp_stream) or TLS (Stream = TlsStream).
template <class Stream>
class Session : public SessionBase, public std::enable_shared_from_this<Session<Stream>> {
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;
  using std::enable_shared_from_this<Session<Stream>>::shared_from_this;

 public:
  Session(tcp::socket&& socket, std::string key, std::shared_ptr<Connections> connections,
          const SessionSettings& settings)
      : SessionBase(std::move(key)),
        stream_(make_stream(std::move(socket), settings)),
        connections_(std::move(connections)),
        settings_(settings) {
    ++connections_->open;
    ++connections_->per_address[this->key()];
  }
  ~Session() override {
    leave_idle();
    release_slot();
  }

  void run() {
    net::dispatch(tcp_layer().get_executor(), beast::bind_front_handler(&Session::do_read, shared_from_this()));
  }

  void close_idle() override {
    leave_idle();
    closed_ = true;
    tcp_layer().close();
    release_slot();
  }

 private:
  static Stream make_stream(tcp::socket&& socket, const SessionSettings& settings) {
    if constexpr (kTls) {
      return Stream(std::move(socket), *settings.tls);
    } else {
      (void)settings;
      return Stream(std::move(socket));
    }
  }

  beast::tcp_stream& tcp_layer() { return beast::get_lowest_layer(stream_); }

  /// The deadline of the request under way: its header (over TLS, with the handshake) within
  /// header_timeout of its first byte, the whole of it within request_timeout.
  void expire_header() { tcp_layer().expires_at(first_byte_ + settings_.header_timeout); }
  void expire_request() {
    tcp_layer().expires_at(first_byte_ + std::max(settings_.header_timeout, settings_.request_timeout));
  }

  /// Waits for the first bytes of the next request: meanwhile the connection is idle and may be
  /// closed for a newcomer or after the idle timeout. A pipelined request already buffered is
  /// read at once. Over TLS the first bytes are those of the handshake, read from the socket.
  void do_read() {
    if (buffer_.size() > 0) {
      first_byte_ = std::chrono::steady_clock::now();
      return do_read_request();
    }
    enter_idle();
    tcp_layer().expires_after(settings_.idle_timeout);
    auto on = beast::bind_front_handler(&Session::on_first_bytes, shared_from_this());
    if constexpr (kTls) {
      if (!handshaken_) return tcp_layer().async_read_some(buffer_.prepare(4096), std::move(on));
    }
    stream_.async_read_some(buffer_.prepare(4096), std::move(on));
  }

  void on_first_bytes(beast::error_code ec, std::size_t bytes) {
    leave_idle();
    if (closed_) return;  // closed for a newcomer after these bytes had arrived
    if (ec) return fail(ec, "read");
    buffer_.commit(bytes);
    first_byte_ = std::chrono::steady_clock::now();
    if constexpr (kTls) {
      if (!handshaken_) {
        const auto* first = static_cast<const unsigned char*>(buffer_.data().data());
        if (*first != kTlsHandshakeRecord) return refuse_plain_http();
        expire_header();
        return stream_.async_handshake(net::ssl::stream_base::server, buffer_.data(),
                                       beast::bind_front_handler(&Session::on_handshake, shared_from_this()));
      }
    }
    do_read_request();
  }

  /// The handshake is done: the connection waits for its first request like an idle one.
  void on_handshake(beast::error_code ec, std::size_t used) {
    if (ec) return fail(ec, "TLS handshake");
    buffer_.consume(used);
    handshaken_ = true;
    if constexpr (kTls) peer_cn_ = peer_common_name(stream_.native_handle());
    do_read();
  }

  /// A plain-HTTP request on the TLS port: one plain answer saying so, then the connection closes.
  void refuse_plain_http() {
    static const std::string body =
        R"json({"error":"this port speaks HTTPS only: use https:// (plain HTTP is refused here)"})json";
    static const std::string answer = "HTTP/1.1 400 Bad Request\r\nServer: labgate-server\r\n"
                                      "Content-Type: application/json\r\nConnection: close\r\nContent-Length: " +
                                      std::to_string(body.size()) + "\r\n\r\n" + body;
    tcp_layer().expires_after(kWriteTimeout);
    net::async_write(tcp_layer(), net::buffer(answer),
                     [self = shared_from_this()](beast::error_code, std::size_t) {
                       beast::error_code e;
                       self->tcp_layer().socket().shutdown(tcp::socket::shutdown_send, e);
                     });
  }

  void do_read_request() {
    parser_.emplace();
    parser_->body_limit(settings_.body_limit);
    parser_->header_limit(static_cast<std::uint32_t>(std::min<std::size_t>(settings_.header_limit, UINT32_MAX)));
    expire_header();
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             beast::bind_front_handler(&Session::on_header, shared_from_this()));
  }

  /// The header is in: the address's rate is checked before the body is read.
  void on_header(beast::error_code ec, std::size_t bytes) {
    if (ec) return on_read(ec, bytes);
    if (auto wait = connections_->limiter.take(key(), std::chrono::steady_clock::now())) {
      const auto secs = std::max<std::int64_t>(
          1, static_cast<std::int64_t>(std::ceil(std::chrono::duration<double>(*wait).count())));
      warn_throttled(connections_->rate_warning, "request rate of " + key() + " above http.rate_per_s: answered 429");
      Response r{429, R"({"error":"too many requests from your address (http.rate_per_s): retry after )" +
                          std::to_string(secs) + R"( s"})"};
      r.headers.emplace_back("Retry-After", std::to_string(secs));
      return send(std::move(r), false, parser_->get().version());
    }
    if (parser_->is_done()) return on_read({}, 0);
    expire_request();
    bhttp::async_read(stream_, buffer_, *parser_, beast::bind_front_handler(&Session::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t /*bytes*/) {
    if (ec == bhttp::error::end_of_stream) return do_close();
    if (ec == bhttp::error::body_limit) {
      return send(Response{413, R"({"error":"body larger than http.body_limit"})"}, false, 11);
    }
    if (ec == bhttp::error::header_limit) {
      return send(Response{431, R"({"error":"request header larger than http.header_limit"})"}, false, 11);
    }
    if (ec && ec.category() == bhttp::make_error_code(bhttp::error::bad_target).category()) {
      return send(Response{400, R"({"error":"malformed HTTP request"})"}, false, 11);
    }
    if (ec) return fail(ec, "read");

    auto& req = parser_->get();
    Request r = make_request(std::string(req.method_string()), std::string(req.target()),
                             std::string(req[bhttp::field::authorization]), std::move(req.body()));
    for (auto [it, end] = req.equal_range(bhttp::field::cookie); it != end; ++it) {
      if (!r.cookie.empty()) r.cookie += "; ";
      r.cookie += std::string(it->value());
    }
    r.csrf_token = std::string(req[beast::string_view(kCsrfHeader.data(), kCsrfHeader.size())]);
    r.content_type = std::string(req[bhttp::field::content_type]);
    r.tls = kTls;
    r.peer_cn = peer_cn_;
    beast::error_code peer_ec;
    const auto peer = tcp_layer().socket().remote_endpoint(peer_ec);
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
    // Answers are JSON for programs: never sniffed as a page, framed, cached or told to others.
    res_.set("X-Content-Type-Options", "nosniff");
    res_.set("X-Frame-Options", "DENY");
    res_.set(bhttp::field::cache_control, "no-store");
    res_.set("Referrer-Policy", "no-referrer");
    if constexpr (kTls) res_.set(bhttp::field::strict_transport_security, "max-age=31536000");
    for (auto& [name, value] : out.headers) {
      if (beast::iequals(name, "Set-Cookie")) {
        res_.insert(bhttp::field::set_cookie, value);  // one field per cookie
      } else {
        res_.set(name, value);
      }
    }
    res_.keep_alive(keep_alive);
    res_.body() = std::move(out.body);
    res_.prepare_payload();
    do_write();
  }

  void do_write() {
    tcp_layer().expires_after(kWriteTimeout);
    bhttp::async_write(stream_, res_,
                       beast::bind_front_handler(&Session::on_write, shared_from_this(), res_.keep_alive()));
  }

  void on_write(bool keep_alive, beast::error_code ec, std::size_t /*bytes*/) {
    if (ec) return fail(ec, "write");
    if (!keep_alive) return do_close();
    do_read();
  }

  void do_close() {
    if constexpr (kTls) {
      // close_notify, then the socket closes when the session goes away.
      tcp_layer().expires_after(kShutdownTimeout);
      stream_.async_shutdown([self = shared_from_this()](beast::error_code) {});
    } else {
      beast::error_code ec;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    }
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
    auto it = connections_->per_address.find(key());
    if (it != connections_->per_address.end() && --it->second == 0) connections_->per_address.erase(it);
  }

  Stream stream_;
  beast::flat_buffer buffer_;
  std::shared_ptr<Connections> connections_;
  SessionSettings settings_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  bhttp::response<bhttp::string_body> res_;
  std::optional<std::list<SessionBase*>::iterator> idle_pos_;
  std::chrono::steady_clock::time_point first_byte_{};
  bool holds_slot_ = true;
  bool closed_ = false;
  bool handshaken_ = false;  // TLS only
  std::string peer_cn_;      // mutual TLS only: the client certificate's CN
};

bool Connections::close_longest_idle() {
  if (idle.empty()) return false;
  idle.front()->close_idle();  // takes itself off the list
  return true;
}

bool Connections::close_longest_idle_of(const std::string& key) {
  for (SessionBase* s : idle) {
    if (s->key() == key) {
      s->close_idle();  // takes itself off the list
      return true;
    }
  }
  return false;
}

/// Answers status (503 or 429) on a connection the listener has no room for, without reading its
/// request, and closes it. The answer is small enough for an empty socket buffer, so one
/// non-blocking write. A TLS listener closes without an answer: there is no handshake to speak in.
void refuse(tcp::socket socket, int status, bool tls) {
  static const auto make = [](const std::string& line, const std::string& body) {
    return "HTTP/1.1 " + line + "\r\nServer: labgate-server\r\nContent-Type: application/json\r\n"
           "Retry-After: 1\r\nConnection: close\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body;
  };
  static const std::string busy =
      make("503 Service Unavailable", R"({"error":"server busy: too many open connections, retry later"})");
  static const std::string too_many = make(
      "429 Too Many Requests",
      R"({"error":"too many open connections from your address (http.max_connections_per_address), retry later"})");
  beast::error_code ec;
  if (!tls) {
    socket.non_blocking(true, ec);
    if (!ec) socket.write_some(net::buffer(status == 429 ? too_many : busy), ec);
  }
  socket.shutdown(tcp::socket::shutdown_send, ec);
  socket.close(ec);
}

/// The TLS context of the listener: TLS 1.2 and 1.3 only; on 1.2 only ECDHE key exchange with
/// AEAD ciphers (AES-GCM, ChaCha20-Poly1305), the server's order; no renegotiation, no compression.
Result<std::shared_ptr<net::ssl::context>> make_tls_context(const TlsOptions& tls) {
  namespace fs = std::filesystem;
  std::error_code fec;
  if (!fs::is_regular_file(tls.cert_file, fec)) {
    return Error::invalid("http.tls_cert: " + tls.cert_file.string() + " is not a readable file");
  }
  if (!fs::is_regular_file(tls.key_file, fec)) {
    return Error::invalid("http.tls_key: " + tls.key_file.string() + " is not a readable file");
  }
  auto ctx = std::make_shared<net::ssl::context>(net::ssl::context::tls_server);
  ctx->set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                   net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 | net::ssl::context::no_tlsv1_1 |
                   net::ssl::context::single_dh_use | net::ssl::context::no_compression);
  SSL_CTX* native = ctx->native_handle();
  SSL_CTX_set_options(native, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION);
  if (SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION) != 1 ||
      SSL_CTX_set_cipher_list(native, "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!eNULL") != 1) {
    return Error::invalid("http: cannot set the TLS protocol versions and ciphers");
  }
  beast::error_code ec;
  ctx->use_certificate_chain_file(tls.cert_file.string(), ec);
  if (ec) return Error::invalid("http.tls_cert: cannot use " + tls.cert_file.string() + ": " + ec.message());
  ctx->use_private_key_file(tls.key_file.string(), net::ssl::context::pem, ec);
  if (ec) {
    return Error::invalid("http.tls_key: cannot use " + tls.key_file.string() + ": " + ec.message() +
                          " (is it the key of http.tls_cert, in PEM?)");
  }
  if (SSL_CTX_check_private_key(native) != 1) {
    return Error::invalid("http.tls_key: " + tls.key_file.string() + " is not the key of " + tls.cert_file.string());
  }
  if (!tls.client_ca_file.empty()) {
    // Mutual TLS: a client without a certificate from this CA fails the handshake.
    ctx->load_verify_file(tls.client_ca_file.string(), ec);
    if (ec) return Error::invalid("client CA file: cannot use " + tls.client_ca_file.string() + ": " + ec.message());
    if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(tls.client_ca_file.c_str()); names != nullptr)
      SSL_CTX_set_client_CA_list(native, names);  // tells clients which certificate to present
    ctx->set_verify_mode(net::ssl::verify_peer | net::ssl::verify_fail_if_no_peer_cert);
  }
  return ctx;
}

}  // namespace

struct HttpServer::Impl : std::enable_shared_from_this<HttpServer::Impl> {
  Impl(net::io_context& io, const HttpOptions& options, Handler h, std::shared_ptr<net::ssl::context> tls)
      : ioc(io),
        acceptor(io),
        retry_timer(io),
        connections(std::make_shared<Connections>(
            connection_cap(options.max_connections, nofile_soft_limit(), options.reserved_descriptors),
            options.max_connections_per_address, options.rate_per_s, options.rate_burst)),
        settings{options.body_limit,
                 options.header_limit,
                 options.idle_timeout,
                 options.header_timeout,
                 options.request_timeout,
                 std::make_shared<const Handler>(std::move(h)),
                 std::make_shared<net::thread_pool>(std::max<std::size_t>(1, options.threads)),
                 std::move(tls)} {}

  void do_accept() {
    acceptor.async_accept(ioc, beast::bind_front_handler(&Impl::on_accept, shared_from_this()));
  }

  void on_accept(beast::error_code ec, tcp::socket socket) {
    if (ec) {
      if (ec == net::error::operation_aborted || !acceptor.is_open()) return;
      return retry_later(ec);
    }
    backoff = std::chrono::milliseconds(0);
    beast::error_code peer_ec;
    const auto peer = socket.remote_endpoint(peer_ec);
    std::string key = peer_ec ? std::string("?") : client_key(peer.address().to_string());
    if (connections->per_address_cap > 0) {
      auto it = connections->per_address.find(key);
      if (it != connections->per_address.end() && it->second >= connections->per_address_cap &&
          !connections->close_longest_idle_of(key)) {
        warn_throttled(connections->address_warning,
                       key + " holds " + std::to_string(it->second) +
                           " connections (http.max_connections_per_address), none idle: refused one");
        refuse(std::move(socket), 429, settings.tls != nullptr);
        return do_accept();
      }
    }
    if (connections->open.load() >= connections->cap) {
      if (connections->close_longest_idle()) {
        warn_throttled(connections->cap_warning, "connection cap " + std::to_string(connections->cap) +
                                                     " reached: closed the connection idle longest");
      } else {
        warn_throttled(connections->cap_warning, "connection cap " + std::to_string(connections->cap) +
                                                     " reached and none idle: refused a connection with 503");
        refuse(std::move(socket), 503, settings.tls != nullptr);
        return do_accept();
      }
    }
    // Answers go out whole (Beast writes header and body together), so Nagle's algorithm only
    // delays them: over TLS a response waited ~40 ms behind the session tickets' delayed ACK.
    beast::error_code nodelay_ec;
    socket.set_option(tcp::no_delay(true), nodelay_ec);
    if (settings.tls) {
      std::make_shared<Session<TlsStream>>(std::move(socket), std::move(key), connections, settings)->run();
    } else {
      std::make_shared<Session<beast::tcp_stream>>(std::move(socket), std::move(key), connections, settings)->run();
    }
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
  std::shared_ptr<net::ssl::context> tls;
  if (options.tls.enabled() || !options.tls.key_file.empty()) {
    auto t = make_tls_context(options.tls);
    if (!t) return t.error();
    tls = std::move(*t);
  }
  std::unique_ptr<HttpServer> srv(new HttpServer());
  srv->impl_ = std::make_shared<Impl>(io, options, std::move(handler), std::move(tls));
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

bool HttpServer::tls() const { return impl_->settings.tls != nullptr; }

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
