// The terminals' routes: /api/terminals (enrolment and state).
#pragma once

#include "server/terminals/store.hpp"
#include "server/audit/store.hpp"
#include "server/core/unit_of_work.hpp"
#include "server/transport/http/router.hpp"

namespace lg::server::http {
struct ApiContext;
}

namespace lg::server::terminals {

/// Adds the area's routes to the table. ctx and the stores must outlive the router. Writes and
/// their audit entries go through uow and audit together.
void add_routes(http::Router& router, const http::ApiContext& ctx, UnitOfWork& uow, Store& store,
                audit::Store& audit);

class Enrolment;

/// Adds provisioning: enrolment tokens, enrolment and renewal by certificate request, revocation,
/// a terminal's certificates. enrolment must outlive the router.
void add_enrolment_routes(http::Router& router, const http::ApiContext& ctx, Enrolment& enrolment);

}  // namespace lg::server::terminals
