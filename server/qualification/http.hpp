// The qualifications' routes: /api/qualifications.
#pragma once

#include "server/qualification/store.hpp"
#include "server/transport/http/router.hpp"

namespace lg::server::http {
struct ApiContext;
}

namespace lg::server::qualification {

/// Adds the area's routes to the table. ctx and the stores must outlive the router.
void add_routes(http::Router& router, const http::ApiContext& ctx, Store& store);

}  // namespace lg::server::qualification
