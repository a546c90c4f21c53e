#include "server/transport/http/router.hpp"

#include <algorithm>

#include "labgate/common/log.hpp"
#include "server/identity/rules.hpp"
#include "labgate/common/protocol.hpp"
#include "server/transport/http/json_api.hpp"

namespace lg::server::http {

namespace {

std::string_view next_segment(std::string_view& rest) {
  const auto slash = rest.find('/');
  std::string_view seg = rest.substr(0, slash);
  rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
  return seg;
}

/// The text of a body field that names an object ("" when absent, not text, or no JSON object).
std::string body_field(const Request& req, const std::string& key) {
  json j = json::parse(req.body, nullptr, false);
  if (!j.is_object()) return "";
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return "";
  return it->get<std::string>();
}

/// A place joined from two: every unit, group and the instrument and user of either.
void join(identity::Place& into, const identity::Place& other) {
  for (const auto& u : other.units)
    if (std::find(into.units.begin(), into.units.end(), u) == into.units.end()) into.units.push_back(u);
  for (const auto& g : other.groups)
    if (std::find(into.groups.begin(), into.groups.end(), g) == into.groups.end()) into.groups.push_back(g);
  if (into.instrument.empty()) into.instrument = other.instrument;
  if (into.user.empty()) into.user = other.user;
  into.is_public = into.is_public && other.is_public;
}

}  // namespace

Response refused(int status, const Request& req) {
  if (status == 401) {
    if (!req.credential_problem.empty()) return error(401, req.credential_problem);
    return error(401, req.authorization.empty() ? "missing bearer token" : "wrong bearer token");
  }
  if (status == 403) return error(403, "forbidden: your roles do not allow this here");
  return error(404, "not found");
}

std::string to_string(const Access& a) {
  switch (a.where) {
    case Locate::open:
      return "open";
    case Locate::signed_in:
      return "signed_in";
    case Locate::site:
      return std::string(identity::to_string(a.right)) + " at site";
    case Locate::any:
      return std::string(identity::to_string(a.right)) + " anywhere";
    case Locate::path:
      return std::string(identity::to_string(a.right)) + " on " + identity::to_string(a.kind) + " {" + a.key + "}";
    case Locate::body: {
      std::string s = std::string(identity::to_string(a.right)) + " on " + identity::to_string(a.kind) + " body." + a.key;
      if (a.kind2) s += " + " + std::string(identity::to_string(*a.kind2)) + " body." + a.key2;
      return s;
    }
  }
  return "site";
}

bool match(std::string_view pattern, std::string_view path, PathParams& params) {
  if (pattern.empty() || path.empty() || pattern[0] != '/' || path[0] != '/') return false;
  std::string_view p = pattern.substr(1);
  std::string_view q = path.substr(1);
  PathParams found;
  while (true) {
    const bool p_end = p.empty();
    const bool q_end = q.empty();
    if (p_end || q_end) {
      if (!(p_end && q_end)) return false;
      break;
    }
    const std::string_view ps = next_segment(p);
    const std::string_view qs = next_segment(q);
    if (ps.size() > 2 && ps.front() == '{' && ps.back() == '}') {
      if (!proto::valid_id(qs)) return false;
      found.emplace(std::string(ps.substr(1, ps.size() - 2)), std::string(qs));
    } else if (ps != qs) {
      return false;
    }
  }
  params = std::move(found);
  return true;
}

void Router::add(Route r) { routes_.push_back(std::move(r)); }

int Router::check(const Access& a, const Request& req, const PathParams& params) const {
  using identity::Right;
  const identity::Principal& who = req.who();
  if (a.where == Locate::open) return 0;
  if (!who.signed_in()) {
    // A visitor reads the catalogue; anything else asks who they are.
    const bool catalogue = a.right == Right::catalogue && a.where != Locate::signed_in;
    return catalogue ? 0 : 401;
  }
  switch (a.where) {
    case Locate::open:
    case Locate::signed_in:
      return 0;
    case Locate::site:
      return identity::allows(who, a.right, identity::Place{}) ? 0 : 403;
    case Locate::any:
      return identity::holds(who, a.right) ? 0 : 403;
    case Locate::path:
    case Locate::body: {
      if (identity::allows(who, a.right, identity::Place{})) return 0;  // site-wide: no lookup
      std::string id;
      if (a.where == Locate::path) {
        auto it = params.find(a.key);
        id = it == params.end() ? std::string() : it->second;
      } else {
        id = body_field(req, a.key);
      }
      identity::Place place;
      bool found = false;
      if (!id.empty() && places_) {
        auto p = places_(a.kind, id);
        if (!p) {
          log::error("http", std::string("cannot place ") + identity::to_string(a.kind) + " " + id + ": " + p.error().message());
          return 503;
        }
        if (*p) {
          place = **p;
          found = true;
        }
      }
      if (a.kind2 && places_) {
        const std::string id2 = body_field(req, a.key2);
        if (!id2.empty()) {
          auto p = places_(*a.kind2, id2);
          if (!p) {
            log::error("http", std::string("cannot place ") + identity::to_string(*a.kind2) + " " + id2 + ": " + p.error().message());
            return 503;
          }
          if (*p) join(place, **p);
        }
      }
      if (!found && a.where == Locate::path) {
        // An unknown object: the handler says 404 (as it would to anyone who may see it), but
        // only to a caller who holds the right somewhere.
        return identity::holds(who, a.right) ? 0 : 403;
      }
      if (!found && !id.empty()) {
        // A creation under an unknown parent: the handler names the unknown reference.
        return identity::holds(who, a.right) ? 0 : 403;
      }
      // Nothing named (a root unit, a user without a unit): the object is the site, which
      // everyone knows of.
      if (id.empty() && !a.kind2) place.is_public = true;
      if (identity::allows(who, a.right, place)) return 0;
      return identity::refusal_status(who, a.right, place);
    }
  }
  return 403;
}

Response Router::dispatch(const Request& req) const {
  if (req.path.empty()) return error(400, "malformed request target");
  bool path_known = false;
  bool all_open = true;
  for (const auto& r : routes_) {
    PathParams params;
    if (!match(r.pattern, req.path, params)) continue;
    path_known = true;
    all_open = all_open && r.access.where == Locate::open;
    if (r.method != req.method) continue;
    const int status = check(r.access, req, params);
    if (status == 503) return error(503, "database unavailable: cannot check your rights");
    if (status != 0) return refused(status, req);
    return r.handler(req, params);
  }
  const bool api = req.path.rfind("/api/", 0) == 0;
  const bool visitor = !req.who().signed_in();
  if (!path_known) {
    if (api && visitor) return refused(401, req);
    return error(404, "no such route: " + req.path);
  }
  if (!all_open && visitor) return refused(401, req);
  return error(405, "method not allowed");
}

}  // namespace lg::server::http
