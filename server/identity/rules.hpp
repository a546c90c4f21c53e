// The rules of identity and rights, as pure functions: what each role may do, whether a grant
// reaches an object, what a refused caller is told (403 or 404), who may grant which role, how
// failed sign-ins are throttled, and what a token looks like. No I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/identity/model.hpp"

namespace lg::server::identity {

/// Wire names: "system_admin", "unit_admin", "instrument_admin", "finance", "pi", "user".
const char* to_string(Role r);
std::optional<Role> role_from(std::string_view s);
/// "site", "unit", "instrument", "group", "self".
const char* to_string(ScopeKind k);
std::optional<ScopeKind> scope_from(std::string_view s);
/// "catalogue", "self", "people_read", ... (the enumerator's name).
const char* to_string(Right r);
std::optional<Right> right_from(std::string_view s);
/// "session" | "personal".
const char* to_string(TokenKind k);
/// "pending" | "approved" | "refused".
const char* to_string(Decision d);
/// Every right, in enumeration order.
std::vector<Right> all_rights();

/// The scope kind a role is granted in: system_admin site; unit_admin and finance unit;
/// instrument_admin instrument; pi group; user self.
ScopeKind scope_of(Role r);
/// The rights a role gives within its scope (the table in docs/RIGHTS.md).
std::vector<Right> rights_of(Role r);
/// True when role r gives right x.
bool gives(Role r, Right x);

/// True when grant g reaches an object at place p.
bool covers(const Grant& g, const Place& p);
/// True when the caller holds right x over an object at place p (a personal token also has to
/// list x; a pending user holds nothing; the catalogue is open to everyone).
bool allows(const Principal& who, Right x, const Place& p);
/// True when the caller holds right x anywhere (a list route: the handler shows only what its
/// rows' places allow).
bool holds(const Principal& who, Right x);
/// The right that lets a caller know an object exists: people_read for people_write, money_read
/// for money_write, catalogue for instrument_write, x itself otherwise.
Right read_right(Right x);
/// The status for a caller refused right x over an object at p: 403 when they may know the object
/// exists (public, or they hold read_right(x) over it), else 404, as if it did not exist.
int refusal_status(const Principal& who, Right x, const Place& p);

/// Why the caller may not grant (or revoke) role r in the scope at place p, or "" when they may:
/// they need roles_write over the scope; site scope and system_admin need a system admin;
/// the scope kind must be the role's (scope_of).
std::string grant_refusal(const Principal& who, const Grant& g, const Place& scope_place);

/// Failed sign-in limits: after `max_failures` within `window_ms` the key is locked for
/// `lock_ms` (doubling with each further failure, up to `max_lock_ms`).
struct ThrottleLimits {
  int64_t max_failures = 5;
  int64_t window_ms = 15 * 60 * 1000;
  int64_t lock_ms = 60 * 1000;
  int64_t max_lock_ms = 60 * 60 * 1000;
};
/// Per account: 5 failures in 15 min lock for 1 min, doubling up to 1 h.
ThrottleLimits account_limits();
/// Per address: 20 failures in 15 min (many accounts tried from one place).
ThrottleLimits address_limits();
/// Seconds until a sign-in under this key is accepted again, nullopt when it may try now.
std::optional<int64_t> retry_after_s(const Throttle& t, int64_t now_ms);
/// The counter after one more failure at now_ms.
Throttle after_failure(Throttle t, int64_t now_ms, const ThrottleLimits& l);

/// A token's secret as handed out: "lgs_" (session) or "lgp_" (personal) and 43 base64url
/// characters of 32 random bytes.
std::string token_prefix(TokenKind k);
/// True when text has the shape of a token (prefix, length, alphabet); says nothing of validity.
bool token_shaped(std::string_view text);
/// Why a stored token no longer opens anything ("expired", "revoked"), or "" when it is valid.
std::string token_refusal(const Token& t, int64_t now_ms);
/// Parses a comma-separated list of right names; nullopt (and the bad name in bad) on an unknown one.
std::optional<std::vector<Right>> rights_from(std::string_view csv, std::string& bad);
/// The user category (its wire name) of a campus directory's value (LDAP employeeType, a CAS
/// attribute): a category's own name as is; student, undergraduate, graduate, postgraduate, phd
/// (any case) -> internal_student; staff, faculty, teacher, employee -> internal_staff; "" for
/// anything else (the directory's default then applies).
std::string campus_category(std::string_view value);
/// The rights as a comma-separated list.
std::string rights_csv(const std::vector<Right>& rights);

}  // namespace lg::server::identity
