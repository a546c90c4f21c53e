// The tiny HTTP interface between the Beast session (http_server.cpp) and the router:
// no Boost types, so the router and its tests compile without Beast.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "server/identity/model.hpp"

namespace lg::server::http {

struct Request {
  std::string method;  ///< "GET", "POST", ...
  std::string target;  ///< as received: "/api/sessions?user=u1"
  std::string path;    ///< decoded path without query: "/api/sessions"
  std::map<std::string, std::string> query;  ///< decoded query parameters (last one wins)
  std::string authorization;                 ///< Authorization header value, "" if absent
  std::string body;
  std::string remote;      ///< the peer's address ("" when not over a socket: tests, local calls)
  std::string request_id;  ///< a fresh uuid7 per request (Api::handle fills it when empty)
  /// Who is calling (Api::handle resolves the bearer token); null means an anonymous visitor.
  std::shared_ptr<const identity::Principal> principal;
  /// Why the bearer token presented was refused ("" when none was, or it was accepted): routes
  /// that need a caller answer 401 with it.
  std::string credential_problem;

  /// The caller, an anonymous one when none was resolved.
  const identity::Principal& who() const;
};

struct Response {
  Response() = default;
  Response(int s, std::string b) : status(s), body(std::move(b)) {}
  int status = 200;
  std::string body;  ///< JSON text
  /// Extra response headers (e.g. Link: <...>; rel="next" on a paged list).
  std::vector<std::pair<std::string, std::string>> headers;
};

/// Percent-decodes (and '+' -> ' ' when form is true); nullopt on a malformed escape.
std::optional<std::string> url_decode(std::string_view s, bool form);

/// Builds a Request, splitting target into path and query. A malformed escape leaves path
/// empty (the router answers 400).
Request make_request(std::string method, std::string target, std::string authorization, std::string body);

}  // namespace lg::server::http
