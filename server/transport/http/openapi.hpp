// The OpenAPI 3 document of the HTTP API, generated from the router table: every route with its
// path parameters, the access it declares and its summary.
#pragma once

#include <string>
#include <vector>

#include "server/transport/http/router.hpp"

namespace lg::server::http {

/// The OpenAPI 3.0 document (JSON text) describing routes; title and version name the API.
std::string openapi_json(const std::vector<Route>& routes, const std::string& title, const std::string& version);

}  // namespace lg::server::http
