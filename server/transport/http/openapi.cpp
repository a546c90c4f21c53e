#include "server/transport/http/openapi.hpp"

#include <nlohmann/json.hpp>

#include "server/identity/rules.hpp"

namespace lg::server::http {

namespace {

/// The {name} segments of a pattern, in order.
std::vector<std::string> path_params(const std::string& pattern) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while ((i = pattern.find('{', i)) != std::string::npos) {
    const auto j = pattern.find('}', i);
    if (j == std::string::npos) break;
    out.push_back(pattern.substr(i + 1, j - i - 1));
    i = j + 1;
  }
  return out;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return s;
}

}  // namespace

std::string openapi_json(const std::vector<Route>& routes, const std::string& title, const std::string& version) {
  using nlohmann::json;
  json paths = json::object();
  for (const Route& r : routes) {
    json op;
    op["summary"] = r.summary.empty() ? r.method + " " + r.pattern : r.summary;
    op["operationId"] = lower(r.method) + r.pattern;
    op["x-labgate-access"] = to_string(r.access);
    json params = json::array();
    for (const auto& p : path_params(r.pattern)) {
      params.push_back(json{{"name", p},
                            {"in", "path"},
                            {"required", true},
                            {"schema", {{"type", "string"}, {"pattern", "^[A-Za-z0-9_.:-]{1,64}$"}}}});
    }
    if (!params.empty()) op["parameters"] = params;
    if (r.method == "POST" || r.method == "PATCH" || r.method == "PUT") {
      op["requestBody"] = json{{"content", {{"application/json", {{"schema", {{"type", "object"}}}}}}}};
    }
    json responses{{"200", {{"description", "done"}}},
                   {"400", {{"description", "malformed request"}}},
                   {"422", {{"description", "invalid field or unknown reference"}}}};
    if (r.method == "POST") responses["201"] = json{{"description", "created"}};
    if (r.access.where != Locate::open) {
      op["security"] = json::array({json{{"bearer", json::array()}}});
      responses["401"] = json{{"description", "no valid token"}};
      if (r.access.where != Locate::signed_in) {
        responses["403"] = json{{"description", "the caller's roles do not allow this here"}};
        responses["404"] = json{{"description", "not found (or not theirs to know of)"}};
      }
    }
    op["responses"] = responses;
    paths[r.pattern][lower(r.method)] = op;
  }
  json doc{{"openapi", "3.0.3"},
           {"info", {{"title", title}, {"version", version}}},
           {"paths", paths},
           {"components",
            {{"securitySchemes",
              {{"bearer",
                {{"type", "http"},
                 {"scheme", "bearer"},
                 {"description", "a session token (POST /api/login), a personal token or the bootstrap admin token"}}}}}}}};
  return doc.dump(2);
}

}  // namespace lg::server::http
