// The identity area's routes: sign-in (local password, LDAP, CAS), sign-out, the caller's own
// account (sessions, personal tokens, password, application), passwords set by admins, role
// grants, and external self-registration with its approval.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "server/audit/store.hpp"
#include "server/core/unit_of_work.hpp"
#include "server/directory/store.hpp"
#include "server/identity/cas.hpp"
#include "server/identity/ldap.hpp"
#include "server/identity/password.hpp"
#include "server/identity/store.hpp"
#include "server/transport/http/router.hpp"

namespace lg::server::http {
struct ApiContext;
}

namespace lg::server::identity {

/// [auth] in the server config.
struct AuthSettings {
  int64_t session_ttl_ms = 12LL * 3600 * 1000;          ///< a login session lasts this long
  int64_t personal_max_ttl_ms = 366LL * 24 * 3600 * 1000;  ///< the longest a personal token may live
  PasswordParams password{};                             ///< Argon2id cost
  std::optional<LdapConfig> ldap{};                      ///< LDAP sign-in when set
  std::optional<CasConfig> cas{};                        ///< CAS sign-in when set
  std::vector<std::string> cas_services{};               ///< service URLs a CAS ticket may be for (prefixes)
  std::string ldap_default_unit{};  ///< unit of users first seen through LDAP/CAS when theirs is unknown
};

/// The stores the routes use.
struct RouteStores {
  UnitOfWork& uow;
  Store& identity;
  directory::Store& directory;
  audit::Store& audit;
};

/// Adds the area's routes to the table. ctx, settings and the stores must outlive the router.
void add_routes(http::Router& router, const http::ApiContext& ctx, RouteStores stores, const AuthSettings& settings);

}  // namespace lg::server::identity
