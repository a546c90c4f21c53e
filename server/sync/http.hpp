// The remote-command routes (docs/PROTOCOL.md "Remote commands", docs/INTERFACES.md): send a
// signed command to a terminal, read the terminal's last answer. Rights as revoking a terminal.
#pragma once

#include "server/audit/store.hpp"
#include "server/core/unit_of_work.hpp"
#include "server/sync/commands.hpp"
#include "server/transport/http/router.hpp"

namespace lg::server::http {
struct ApiContext;
}

namespace lg::server::sync {

/// Adds POST /api/terminals/{id}/commands (every send audited, in uow with audit, before it is
/// published) and GET /api/terminals/{id}/commands/last. ctx, commands and the stores must
/// outlive the router.
void add_command_routes(http::Router& router, const http::ApiContext& ctx, CommandService& commands, UnitOfWork& uow,
                        audit::Store& audit);

}  // namespace lg::server::sync
