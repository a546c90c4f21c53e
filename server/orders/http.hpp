// The sample orders' routes: /api/orders (docs/INTERFACES.md, "Sample orders").
#pragma once

#include "server/audit/store.hpp"
#include "server/core/unit_of_work.hpp"
#include "server/orders/service.hpp"
#include "server/transport/http/router.hpp"

namespace lg::server::http {
struct ApiContext;
}

namespace lg::server::orders {

/// Adds the area's routes to the table. ctx, the service and the stores must outlive the router.
/// Every change and its audit entry go through uow and audit together.
void add_routes(http::Router& router, const http::ApiContext& ctx, Service& service, UnitOfWork& uow,
                audit::Store& audit);

}  // namespace lg::server::orders
