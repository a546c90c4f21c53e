// The training routes: /api/courses, /api/training-sessions, /api/me/trainings
// (docs/INTERFACES.md, "Training").
#pragma once

#include "server/audit/store.hpp"
#include "server/core/unit_of_work.hpp"
#include "server/training/service.hpp"
#include "server/transport/http/router.hpp"

namespace lg::server::http {
struct ApiContext;
}

namespace lg::server::training {

/// Adds the area's routes to the table. ctx, the service and the stores must outlive the router.
/// Every change and its audit entries go through uow and audit together.
void add_routes(http::Router& router, const http::ApiContext& ctx, Service& service, UnitOfWork& uow,
                audit::Store& audit);

}  // namespace lg::server::training
