// The audit area's routes (GET /api/audit, GET /api/audit/verify) and the audit context of a
// request, which every audited route passes to audit::record.
#pragma once

#include "server/audit/model.hpp"
#include "server/audit/store.hpp"
#include "server/transport/http/request.hpp"
#include "server/transport/http/router.hpp"

namespace lg::server::http {
struct ApiContext;
}

namespace lg::server::audit {

/// Who made the request, from where, and its id: actor the caller (identity::Principal::actor:
/// "user:<id>", "token:<id>/<user>", "admin-token"), source the peer address ("local" when none), request_id the request's X-Request-Id.
Context request_context(const http::Request& req);

/// Adds the area's routes to the table. ctx and the store must outlive the router.
void add_routes(http::Router& router, const http::ApiContext& ctx, Store& store);

}  // namespace lg::server::audit
