// The HTTP listener. Beast lives only in http_server.cpp; this header names no Boost type
// beyond a forward declaration of the io_context it runs on.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "labgate/common/result.hpp"
#include "server/http/request.hpp"

namespace boost::asio {
class io_context;
}

namespace lg::server::http {

class HttpServer {
 public:
  using Handler = std::function<Response(const Request&)>;

  /// Binds address:port (port 0 = any free port) and starts accepting on io. The handler runs
  /// on io's thread. Bodies above body_limit get 413; idle connections time out after 30 s.
  static Result<std::unique_ptr<HttpServer>> start(boost::asio::io_context& io, const std::string& address,
                                                   uint16_t port, std::size_t body_limit, Handler handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  /// The bound port.
  uint16_t port() const;
  /// Stops accepting new connections.
  void stop();

 private:
  HttpServer();
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace lg::server::http
