// Billing's routes: /api/fee-standards, /api/charges.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include "server/billing/store.hpp"
#include "server/transport/http/router.hpp"

namespace lg::server::http {
struct ApiContext;
}

namespace lg::server::billing {

/// A charge as the API shows it (sessions embed it too).
nlohmann::json charge_json(const Charge& c, const http::ApiContext& ctx);

/// Adds the area's routes to the table. ctx and the stores must outlive the router.
void add_routes(http::Router& router, const http::ApiContext& ctx, Store& store);

}  // namespace lg::server::billing
