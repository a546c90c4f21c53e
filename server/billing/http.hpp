// Billing's routes: /api/fee-standards, /api/charges.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include "server/audit/store.hpp"
#include "server/billing/store.hpp"
#include "server/core/unit_of_work.hpp"
#include "server/transport/http/router.hpp"

namespace lg::server::http {
struct ApiContext;
}

namespace lg::server::billing {

/// A charge as the API shows it (sessions embed it too).
nlohmann::json charge_json(const Charge& c, const http::ApiContext& ctx);

/// Adds the area's routes to the table. ctx and the stores must outlive the router. Writes and
/// their audit entries go through uow and audit together.
void add_routes(http::Router& router, const http::ApiContext& ctx, UnitOfWork& uow, Store& store,
                audit::Store& audit);

}  // namespace lg::server::billing
