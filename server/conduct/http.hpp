// Conduct and credit routes: the conduct events (in the caller's scope), a user's credit, the
// caller's own, and waiving an event (audited).
#pragma once

#include "server/audit/store.hpp"
#include "server/conduct/service.hpp"
#include "server/core/unit_of_work.hpp"
#include "server/transport/http/router.hpp"

namespace lg::server::http {
struct ApiContext;
}

namespace lg::server::conduct {

/// Adds GET /api/conduct-events, POST /api/conduct-events/{id}/waive, GET /api/users/{id}/credit
/// and GET /api/me/credit.
void add_routes(http::Router& router, const http::ApiContext& ctx, Service& service, UnitOfWork& uow,
                audit::Store& audit);

}  // namespace lg::server::conduct
