// The directory's routes: /api/units, /api/labs, /api/instruments (+ PATCH /{id}: policy and
// status), /api/users (+ PATCH /{id}: status), /api/cards (+ POST /{uid}/lost, /revoke, /replace).
#pragma once

#include "server/core/unit_of_work.hpp"
#include "server/directory/store.hpp"
#include "server/transport/http/router.hpp"

namespace lg::server::http {
struct ApiContext;
}

namespace lg::server::directory {

/// Adds the directory's routes to the table. ctx and store must outlive the router.
void add_routes(http::Router& router, const http::ApiContext& ctx, UnitOfWork& uow, Store& store);

}  // namespace lg::server::directory
