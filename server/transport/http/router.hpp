// One router table: every route declares its method, path pattern, the access it needs and its
// handler, so that rights attach in one place. Patterns are literal segments and {name}
// segments matching one id ([A-Za-z0-9_.:-], 1..64); the handler gets the named values.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "labgate/common/result.hpp"
#include "server/identity/model.hpp"
#include "server/identity/store.hpp"
#include "server/transport/http/request.hpp"

namespace lg::server::http {

/// Where a route finds the object whose place decides its right.
enum class Locate {
  site,       ///< a site-wide action: only a site-wide grant of the right reaches it
  path,       ///< a path parameter names the object
  body,       ///< a field of the JSON body names it (creations: the parent the new thing goes under)
  any,        ///< a list (or a check the handler makes): the caller needs the right somewhere;
              ///< the handler shows only the rows whose places allow it
  open,       ///< anyone, signed in or not (health, sign-in, registration)
  signed_in,  ///< any signed-in caller, pending ones included (their own account)
};

/// The access a route needs: a right over the object that `key` names (of kind `kind`), and
/// for a booking-like creation a second object (`key2` of `kind2`) whose place joins the first.
struct Access {
  Locate where = Locate::site;
  identity::Right right = identity::Right::site;
  identity::Kind kind = identity::Kind::unit;
  std::string key;
  std::optional<identity::Kind> kind2{};
  std::string key2;

  /// Anyone.
  static Access open() { return Access{Locate::open, identity::Right::catalogue, identity::Kind::unit, "", {}, ""}; }
  /// Any signed-in caller.
  static Access signed_in() { return Access{Locate::signed_in, identity::Right::self, identity::Kind::unit, "", {}, ""}; }
  /// Right r over the whole site.
  static Access site(identity::Right r) { return Access{Locate::site, r, identity::Kind::unit, "", {}, ""}; }
  /// Right r somewhere; the handler filters (or checks) by place.
  static Access any(identity::Right r) { return Access{Locate::any, r, identity::Kind::unit, "", {}, ""}; }
  /// Right r over the object of kind k named by path parameter key.
  static Access path(identity::Right r, identity::Kind k, std::string key = "id") {
    return Access{Locate::path, r, k, std::move(key), {}, ""};
  }
  /// Right r over the object of kind k named by body field key ("" or absent: site-wide only).
  static Access body(identity::Right r, identity::Kind k, std::string key) {
    return Access{Locate::body, r, k, std::move(key), {}, ""};
  }
  /// Right r over the joined places of two objects named by body fields.
  static Access body2(identity::Right r, identity::Kind k, std::string key, identity::Kind k2, std::string key2) {
    return Access{Locate::body, r, k, std::move(key), k2, std::move(key2)};
  }
};

/// What a caller must present: the names of the old table (admin = a site-wide right).
struct Permission {
  static inline const Access open = Access::open();
  static inline const Access admin = Access::site(identity::Right::site);
};

/// "open", "signed_in", or "<right> at <site|path:key|body:key|any>".
std::string to_string(const Access& a);

/// The {name} values of a matched pattern.
using PathParams = std::map<std::string, std::string, std::less<>>;

using RouteHandler = std::function<Response(const Request&, const PathParams&)>;

struct Route {
  std::string method;   ///< GET, POST, PATCH, ...
  std::string pattern;  ///< "/api/instruments/{id}"
  Access access;        ///< declared by every route (no default)
  RouteHandler handler;
  std::string summary{};  ///< one line for the OpenAPI document
};

/// Finds the place of an object (identity::Store::place).
using PlaceFinder = std::function<Result<std::optional<identity::Place>>(identity::Kind, const std::string&)>;

class Router {
 public:
  Router() = default;

  /// Sets how objects are placed in the tree (without it, only site-wide grants pass scoped routes).
  void set_places(PlaceFinder f) { places_ = std::move(f); }
  /// Adds a route. Routes are matched in the order added.
  void add(Route r);
  /// Every route, in order (for docs and tests).
  const std::vector<Route>& routes() const { return routes_; }

  /// Dispatches one request. Order of checks: malformed target 400; a path no route matches:
  /// 401 under /api/ for a visitor (or a refused token), else 404; a method the path's routes do
  /// not take: 405 (401 first for a visitor unless every route of the path is open); then the
  /// route's access: 401 without a caller, 403 when the caller may know the object but lacks
  /// the right, 404 when they may not know it exists; then the handler.
  Response dispatch(const Request& req) const;

  /// The status access a would give req before its handler runs: 0 when the handler would run.
  int check(const Access& a, const Request& req, const PathParams& params) const;

 private:
  PlaceFinder places_;
  std::vector<Route> routes_;
};

/// True and fills params when path matches pattern.
bool match(std::string_view pattern, std::string_view path, PathParams& params);

/// The status and message of a refused access check (401, 403 or 404).
Response refused(int status, const Request& req);

}  // namespace lg::server::http
