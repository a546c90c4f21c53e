// The HTTP listener. Beast lives only in http_server.cpp; this header names no Boost type
// beyond a forward declaration of the io_context it runs on.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
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
  /// Worker threads that run the handler (the socket work stays on io's thread).
  std::size_t threads = 4;
};

class HttpServer {
 public:
  using Handler = std::function<Response(const Request&)>;

  /// Binds options.address:port and starts accepting on io; the handler runs on one of
  /// options.threads workers, so it must be thread-safe.
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
  /// Stops accepting new connections.
  void stop();

 private:
  HttpServer();
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace lg::server::http
