// Usage's routes: /api/access-events, /api/sessions, /api/stats.
#pragma once

#include "server/usage/store.hpp"
#include "server/transport/http/router.hpp"

namespace lg::server::http {
struct ApiContext;
}

namespace lg::server::usage {

/// Adds the area's routes to the table. ctx and the stores must outlive the router.
void add_routes(http::Router& router, const http::ApiContext& ctx, Store& store);

}  // namespace lg::server::usage
