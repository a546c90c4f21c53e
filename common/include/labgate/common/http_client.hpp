// A small synchronous HTTP/1.1 client (http:// and https://) for the few calls the programs make
// themselves: a terminal enrolling and renewing its certificate, the server validating CAS
// tickets. Boost.Beast and OpenSSL stay in http_client.cpp (library labgate_http_client).
#pragma once

#include <string>
#include <string_view>

#include "labgate/common/result.hpp"

namespace lg::http_client {

struct Options {
  int timeout_ms = 10'000;  ///< bounds the whole exchange: resolve, connect, TLS, write, read
  /// https: the CA file (PEM) the server's certificate must chain to; "" = the system's CAs.
  /// The host name is always checked against the certificate.
  std::string ca_file;
  /// https with a client certificate (mutual TLS): its PEM certificate and key files; "" = none.
  std::string cert_file, key_file;
  std::string user_agent = "labgate";
  std::size_t max_body = 1024 * 1024;
};

struct Response {
  int status = 0;
  std::string body;
  std::string content_type;
};

/// Sends one request (Connection: close, no redirects followed) to an http:// or https:// URL.
/// body with content_type when not empty. Errors (std::errc::host_unreachable) say at which step
/// it failed: resolving, connecting, the TLS handshake (an unverified certificate says so),
/// writing, reading; a malformed URL is std::errc::invalid_argument.
Result<Response> request(std::string_view method, std::string_view url, std::string_view body,
                         std::string_view content_type, const Options& opts);

}  // namespace lg::http_client
