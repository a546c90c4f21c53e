// The outbox's routes: GET /api/notices (site), GET /api/me/notices (the caller's own),
// POST /api/notices/{id}/retry (site).
#pragma once

#include "server/audit/store.hpp"
#include "server/core/unit_of_work.hpp"
#include "server/notify/outbox.hpp"
#include "server/notify/store.hpp"
#include "server/transport/http/router.hpp"

namespace lg::server::http {
struct ApiContext;
}

namespace lg::server::notify {

/// Adds the area's routes to the table. Everything referenced must outlive the router.
void add_routes(http::Router& router, const http::ApiContext& ctx, Outbox& outbox, UnitOfWork& uow, Store& store,
                audit::Store& audit);

}  // namespace lg::server::notify
