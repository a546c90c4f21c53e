// The bookings' routes: /api/bookings.
#pragma once

#include "server/booking/service.hpp"
#include "server/booking/store.hpp"
#include "server/audit/store.hpp"
#include "server/core/unit_of_work.hpp"
#include "server/transport/http/router.hpp"

namespace lg::server::http {
struct ApiContext;
}

namespace lg::server::booking {

/// Adds the area's routes to the table. ctx and the stores must outlive the router. Writes and
/// their audit entries go through uow and audit together.
void add_routes(http::Router& router, const http::ApiContext& ctx, Service& service, UnitOfWork& uow, Store& store,
                audit::Store& audit);

}  // namespace lg::server::booking
