// Ledger routes: accounts (open, read, change), members who may charge them, top-ups and budgets,
// transfers (corrections, allocations, payouts), holds, the caller's own accounts, and the
// invariant check. Every change is audited.
#pragma once

#include "server/audit/store.hpp"
#include "server/core/unit_of_work.hpp"
#include "server/directory/store.hpp"
#include "server/ledger/service.hpp"
#include "server/transport/http/router.hpp"

namespace lg::server::http {
struct ApiContext;
}

namespace lg::server::ledger {

/// Whether the caller holds right r where the account sits (its unit's chain and its group; a
/// site account: site grants only). Settlement's statements and vouchers ask it too.
bool may_on(const http::ApiContext& ctx, const http::Request& req, identity::Right r, const Account& a);

/// Adds /api/accounts..., /api/transfers, /api/holds..., /api/me/accounts and /api/ledger/check.
void add_routes(http::Router& router, const http::ApiContext& ctx, Service& service, Store& store,
                directory::Store& directory, UnitOfWork& uow, audit::Store& audit);

}  // namespace lg::server::ledger
