// The HTTP listener. Beast lives only in http_server.cpp; this header names no Boost type
// beyond a forward declaration of the io_context it runs on.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "labgate/common/result.hpp"
#include "server/transport/http/request.hpp"

namespace boost::asio {
class io_context;
}

namespace lg::server::http {

/// Descriptors kept free for everything that is not an HTTP connection (database and its WAL,
/// MQTT, logs, keys, the loop's own descriptors) when the connection cap is derived from the
/// descriptor limit.
inline constexpr std::size_t kReservedDescriptors = 32;
/// The automatic connection cap never goes below this, however low the descriptor limit.
inline constexpr std::size_t kMinConnections = 4;

/// The connection cap in effect: `configured` when it is above 0, otherwise the soft descriptor
/// limit minus `reserved` (kReservedDescriptors plus what the database connections hold), at least kMinConnections (nofile_soft_limit = UINT64_MAX
/// means unlimited; the automatic cap then stops at 100000).
std::size_t connection_cap(std::size_t configured, std::uint64_t nofile_soft_limit,
                           std::size_t reserved = kReservedDescriptors);

/// This process's soft RLIMIT_NOFILE (UINT64_MAX when unlimited or unknown).
std::uint64_t nofile_soft_limit();

/// Lets one log line through per period and counts the ones it holds back, so a condition that
/// repeats thousands of times a second (accept failing for lack of descriptors) writes a line
/// every period instead of filling the disk.
class LogThrottle {
 public:
  using Clock = std::chrono::steady_clock;
  /// period: at most one line per period.
  explicit LogThrottle(Clock::duration period) : period_(period) {}
  /// Returns the number of lines held back since the last one that passed when a line may be
  /// written at `now`, nullopt when this one is to be held back (and counted).
  std::optional<std::size_t> pass(Clock::time_point now);

 private:
  Clock::duration period_;
  std::optional<Clock::time_point> last_;
  std::size_t suppressed_ = 0;
};

/// A per-address token bucket: each address may make `burst` requests at once and `per_s` a
/// second after that. Socket-free (the listener calls it on its io thread; not thread-safe).
class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  /// per_s <= 0 turns the limit off (every take() passes). burst is at least 1.
  RateLimiter(double per_s, double burst);
  /// Takes one token of `address` at `now`: nullopt when the request may go on, else how long
  /// until the next token (the Retry-After). Addresses unseen for long are forgotten when more
  /// than kMaxTracked are known.
  std::optional<Clock::duration> take(const std::string& address, Clock::time_point now);
  /// Addresses tracked now (for tests).
  std::size_t tracked() const { return buckets_.size(); }
  /// Above this many addresses, the full buckets are dropped on the next take().
  static constexpr std::size_t kMaxTracked = 10000;

 private:
  struct Bucket {
    double tokens;
    Clock::time_point at;
  };
  double per_s_;
  double burst_;
  std::map<std::string, Bucket, std::less<>> buckets_;
};

/// The key requests and connections of one client are counted under: the peer's address as
/// text, an IPv4-mapped IPv6 address as its IPv4 form.
std::string client_key(const std::string& address_text);

/// True for 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104 (what counts as loopback for the
/// plain-HTTP rule).
bool is_loopback(const std::string& address_text);

/// The listener's TLS: a PEM certificate chain and its key. Both empty: plain HTTP.
struct TlsOptions {
  std::filesystem::path cert_file;  ///< http.tls_cert: the server's certificate, then its chain
  std::filesystem::path key_file;   ///< http.tls_key: its private key (PEM)
  /// Mutual TLS: "" = no client certificate is asked for; else every client must present one
  /// issued by a CA in this PEM file (the handshake fails otherwise), and each Request carries the
  /// certificate's CN (peer_cn). Used by labgate-ca, the site CA's signer.
  std::filesystem::path client_ca_file;
  bool enabled() const { return !cert_file.empty(); }
};

/// What the listener needs to know besides its handler.
struct HttpOptions {
  std::string address = "127.0.0.1";  ///< IPv4 or IPv6 address to bind
  uint16_t port = 0;                  ///< 0 = any free port
  std::size_t body_limit = 8 * 1024 * 1024;  ///< bodies above it get 413
  /// Connections open at once; 0 = automatic (connection_cap() of the descriptor limit).
  std::size_t max_connections = 0;
  /// Descriptors kept out of the automatic cap: kReservedDescriptors plus those the process's
  /// database connections hold (main.cpp adds them).
  std::size_t reserved_descriptors = kReservedDescriptors;
  /// A connection waiting for a request (fresh or between keep-alive requests) is closed after
  /// this long.
  std::chrono::seconds idle_timeout{30};
  /// From the first byte of a request (over TLS: of the handshake) until its header is complete;
  /// a connection that takes longer (a slow-header "slowloris" client) is closed.
  std::chrono::seconds header_timeout{10};
  /// From the first byte of a request until its body is complete.
  std::chrono::seconds request_timeout{30};
  /// Request line and header fields together above this get 431 and the connection is closed.
  std::size_t header_limit = 16 * 1024;
  /// Connections open at once from one address (0 = no such cap): a newcomer above it closes that
  /// address's connection idle longest, or is refused (429) when none of its connections is idle.
  std::size_t max_connections_per_address = 256;
  /// Requests a second one address may make after its burst (0 = no limit); above it 429 with
  /// Retry-After, and the connection is closed.
  double rate_per_s = 100;
  /// Requests one address may make at once.
  double rate_burst = 1000;
  /// TLS on the listener (only TLS then); empty = plain HTTP.
  TlsOptions tls;
  /// Worker threads that run the handler (the socket work stays on io's thread).
  std::size_t threads = 4;
};

class HttpServer {
 public:
  using Handler = std::function<Response(const Request&)>;

  /// Binds options.address:port and starts accepting on io; the handler runs on one of
  /// options.threads workers, so it must be thread-safe. With options.tls the listener speaks
  /// TLS 1.2 or 1.3 only (ECDHE with AES-GCM or ChaCha20-Poly1305 on 1.2), every answer carries
  /// Strict-Transport-Security, and a plain-HTTP request on it gets one plain 400 saying so and
  /// is closed; an unreadable certificate or key, or a key that does not match, is an error
  /// naming http.tls_cert or http.tls_key.
  /// At most connection_cap(options.max_connections, nofile_soft_limit()) connections are open:
  /// when a new one arrives at the cap, the one that has waited longest for a request is closed
  /// to make room; when none is waiting, the newcomer gets 503 and is closed. Accept failures for
  /// lack of descriptors or memory close the longest-waiting connection and retry after a
  /// back-off (50 ms doubling to 1 s); their warning is written at most once per 10 s. A bind to
  /// an address this host does not have fails with std::errc::address_not_available.
  static Result<std::unique_ptr<HttpServer>> start(boost::asio::io_context& io, const HttpOptions& options,
                                                   Handler handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  /// The bound port.
  uint16_t port() const;
  /// The connection cap in effect.
  std::size_t max_connections() const;
  /// Connections open now (for tests and diagnostics; any thread).
  std::size_t open_connections() const;
  /// Of those, the ones waiting for a request (for tests and diagnostics; any thread).
  std::size_t idle_connections() const;
  /// True when the listener speaks TLS.
  bool tls() const;
  /// Stops accepting new connections.
  void stop();

 private:
  HttpServer();
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace lg::server::http
