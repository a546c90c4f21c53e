// One router table: every route declares its method, path pattern, the permission it needs and
// its handler, so that roles attach in one place. Patterns are literal segments and {name}
// segments matching one id ([A-Za-z0-9_.:-], 1..64); the handler gets the named values.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "server/transport/http/request.hpp"

namespace lg::server::http {

/// What a caller must present for a route.
enum class Permission {
  open,   ///< anyone (health)
  admin,  ///< the admin bearer token
};

/// "open" | "admin".
const char* to_string(Permission p);

/// The {name} values of a matched pattern.
using PathParams = std::map<std::string, std::string, std::less<>>;

using RouteHandler = std::function<Response(const Request&, const PathParams&)>;

struct Route {
  std::string method;   ///< GET, POST, PATCH, ...
  std::string pattern;  ///< "/api/instruments/{id}"
  Permission permission = Permission::admin;
  RouteHandler handler;
};

class Router {
 public:
  /// Checks a bearer Authorization header against the admin token (constant time).
  explicit Router(std::string admin_token) : admin_token_(std::move(admin_token)) {}

  /// Adds a route. Routes are matched in the order added.
  void add(Route r);
  /// Every route, in order (for docs and tests).
  const std::vector<Route>& routes() const { return routes_; }

  /// Dispatches one request. Order of checks: malformed target 400; then, for a path no route
  /// matches, 401 without a valid token under /api/ else 404; for a path whose routes do not
  /// take the method, 401 unless every route of the path is open, else 405; then the route's
  /// permission (401) and its handler.
  Response dispatch(const Request& req) const;

 private:
  bool allowed(Permission p, const Request& req) const;

  std::string admin_token_;
  std::vector<Route> routes_;
};

/// True and fills params when path matches pattern.
bool match(std::string_view pattern, std::string_view path, PathParams& params);

}  // namespace lg::server::http
