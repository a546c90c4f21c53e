#include "server/transport/http/router.hpp"

#include "labgate/common/crypto.hpp"
#include "labgate/common/protocol.hpp"
#include "server/transport/http/json_api.hpp"

namespace lg::server::http {

namespace {

/// Compares the bearer token through fixed-length digests in constant time: neither the
/// length nor any prefix of the configured token leaks through the comparison's timing.
bool token_ok(const std::string& header, const std::string& token) {
  static constexpr std::string_view kPrefix = "Bearer ";
  const bool has_prefix = header.size() >= kPrefix.size() && header.compare(0, kPrefix.size(), kPrefix) == 0;
  const std::string_view given = has_prefix ? std::string_view(header).substr(kPrefix.size()) : std::string_view();
  const crypto::Digest a = crypto::sha256(given);
  const crypto::Digest b = crypto::sha256(token);
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff = static_cast<unsigned char>(diff | (a[i] ^ b[i]));
  return has_prefix && diff == 0;
}

std::string_view next_segment(std::string_view& rest) {
  const auto slash = rest.find('/');
  std::string_view seg = rest.substr(0, slash);
  rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
  return seg;
}

Response unauthorized(const Request& req) {
  return error(401, req.authorization.empty() ? "missing bearer token" : "wrong bearer token");
}

}  // namespace

const char* to_string(Permission p) {
  switch (p) {
    case Permission::open:
      return "open";
    case Permission::admin:
      return "admin";
  }
  return "admin";
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

bool Router::allowed(Permission p, const Request& req) const {
  switch (p) {
    case Permission::open:
      return true;
    case Permission::admin:
      return token_ok(req.authorization, admin_token_);
  }
  return false;
}

Response Router::dispatch(const Request& req) const {
  if (req.path.empty()) return error(400, "malformed request target");
  bool path_known = false;
  bool all_open = true;
  for (const auto& r : routes_) {
    PathParams params;
    if (!match(r.pattern, req.path, params)) continue;
    path_known = true;
    all_open = all_open && r.permission == Permission::open;
    if (r.method != req.method) continue;
    if (!allowed(r.permission, req)) return unauthorized(req);
    return r.handler(req, params);
  }
  const bool api = req.path.rfind("/api/", 0) == 0;
  if (!path_known) {
    if (api && !allowed(Permission::admin, req)) return unauthorized(req);
    return error(404, "no such route: " + req.path);
  }
  if (!all_open && !allowed(Permission::admin, req)) return unauthorized(req);
  return error(405, "method not allowed");
}

}  // namespace lg::server::http
