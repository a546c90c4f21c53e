// Settlement routes: postings (the charges' review: adjust with a reason, name the account,
// confirm), monthly settlement, statements and vouchers (JSON, CSV, XLSX), reconciliation (平账)
// and allocation (拨款). Every change is audited.
#pragma once

#include "server/audit/store.hpp"
#include "server/core/unit_of_work.hpp"
#include "server/ledger/store.hpp"
#include "server/settlement/service.hpp"
#include "server/transport/http/router.hpp"

namespace lg::server::http {
struct ApiContext;
}

namespace lg::server::settlement {

/// Adds /api/postings..., /api/settlements..., /api/statements, /api/reconciliations...,
/// /api/allocations.
void add_routes(http::Router& router, const http::ApiContext& ctx, Service& service, Store& store,
                ledger::Store& accounts, UnitOfWork& uow, audit::Store& audit);

}  // namespace lg::server::settlement
