// The admin CLI's HTTP/1.1 client (Boost.Beast, synchronous) behind one small function, plus a
// pure URL splitter. Only http:// is supported (the server's API listens on plain HTTP; put a
// TLS proxy in front for remote use).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "labgate/common/result.hpp"

namespace lg::ctl {

/// An absolute http URL split into what a client needs.
struct Url {
  std::string host;
  uint16_t port = 80;
  std::string target = "/";  ///< path and query, always starting with '/'
  bool operator==(const Url&) const = default;
};

/// Splits "http://host[:port][/path][?query]"; errors name what is wrong (https, bad port...).
Result<Url> parse_url(std::string_view url);

/// Joins a base URL ("http://h:8080" or "http://h:8080/prefix/") and a path ("/api/health").
std::string join_url(std::string_view base, std::string_view path);

/// The target of the rel="next" link in a Link header value (RFC 8288), e.g. "/api/sessions?
/// limit=100&cursor=abc" from `</api/sessions?limit=100&cursor=abc>; rel="next"`; "" when the
/// header has no next link. Several comma-separated links and unquoted rel values are understood.
std::string next_link(std::string_view link_header);

/// An HTTP answer: status code and body, whatever the status.
struct HttpResponse {
  int status = 0;
  std::string body;
  std::string link;  ///< the Link header ("" if absent): paged lists name their next page here
  std::optional<int64_t> retry_after_s;  ///< Retry-After in seconds (throttled sign-ins), if sent
};

/// Sends one request (JSON body if non-empty, "Authorization: Bearer token" if token non-empty)
/// and reads the whole answer. Errors are transport failures only (refused, timeout, bad URL);
/// any HTTP status, 4xx and 5xx included, is a value.
Result<HttpResponse> http_request(std::string_view method, std::string_view url, std::string_view token,
                                  std::string_view body);

}  // namespace lg::ctl
