// The directory's routes: /api/units, /api/labs, /api/instruments (+ PATCH /{id}: policy and
// status), /api/users (+ PATCH /{id}: status, place, category, personal data), /api/cards
// (+ PATCH /{uid}: end date; POST /{uid}/lost, /revoke, /replace), /api/groups (+ PATCH /{id},
// members), /api/import. Every write is audited in its own unit of work.
#pragma once

#include "server/audit/store.hpp"
#include "server/core/unit_of_work.hpp"
#include "server/directory/store.hpp"
#include "server/transport/http/router.hpp"

namespace lg::server::http {
struct ApiContext;
}

namespace lg::server::directory {

/// Adds the directory's routes to the table: every POST, PATCH and DELETE appends its audit
/// entries (entity "unit", "lab", "instrument", "user", "card", "group", "group_member"; before
/// and after as the GET shows them, "" when absent) to audit in the write's unit of work. ctx,
/// the stores and uow must outlive the router.
void add_routes(http::Router& router, const http::ApiContext& ctx, UnitOfWork& uow, Store& store, audit::Store& audit);

}  // namespace lg::server::directory
