// Identity and rights: who a caller is (a principal), what each role may do (rights), where in
// the organisation tree a grant holds (its scope), and the facts behind sign-on (accounts,
// tokens, failed-login counters, registrations). Plain data: no I/O, no JSON, no SQL.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace lg::server::identity {

/// The roles of the site. A visitor is a caller without a token: no role at all.
enum class Role { system_admin, unit_admin, instrument_admin, finance, pi, user, fee_committee };

/// Where a grant holds: the whole site, a unit's subtree, one instrument, one research group,
/// or the user's own records.
enum class ScopeKind { site, unit, instrument, group, self };

/// What a route needs. Each role holds a fixed set of rights (identity/rules.cpp, rights_of);
/// a grant gives its role's rights within its scope only.
enum class Right {
  catalogue,         ///< the public catalogue: units, labs, instruments (anyone, signed in or not)
  self,              ///< the caller's own records (user role on self)
  people_read,       ///< users, cards, groups, registrations, moves
  people_write,      ///< create, change and retire users, cards, groups, units, labs; approve registrations
  instrument_write,  ///< instruments, their qualifications and terminals
  booking_write,     ///< book instruments for other people
  usage_read,        ///< sessions, access events, usage reports, statistics
  money_read,        ///< charges and fee standards
  money_write,       ///< fee standards
  audit_read,        ///< the audit log
  roles_write,       ///< grant and revoke roles
  site,              ///< site-wide work: import, audit verify
  fee_review,        ///< the unit's review of a fee standard proposal (unit admin)
  fee_approve,       ///< the fee review committee's approval that publishes a fee standard
  account_write,     ///< who may charge an account: a PI approves the members of their group's grants
};
inline constexpr int kRightCount = 15;

/// One role held by a user within one scope. Explicit grants are stored (role_grants); the
/// user's own role and a PI's role over the groups they lead are implied by the directory.
struct Grant {
  std::string id;  ///< "" for implied grants
  std::string user;
  Role role = Role::user;
  ScopeKind scope = ScopeKind::self;
  std::string scope_id;  ///< unit, instrument or group id; "" for site and self
  std::string granted_by;
  int64_t granted_ms = 0;
  std::optional<int64_t> revoked_ms{};
};

/// Where an object sits, as far as rights are concerned: the units above it (its own unit first,
/// then each parent up to the root), the instrument it belongs to, the research groups it
/// belongs to and the user it belongs to. A session has both its instrument's place and its
/// user's place; a user has their unit, their groups and themself.
struct Place {
  std::vector<std::string> units;
  std::string instrument;
  std::vector<std::string> groups;
  std::string user;
  bool is_public = false;  ///< catalogue objects: anyone may know they exist
};

/// How the caller authenticated.
enum class CallerKind {
  anonymous,   ///< no token: a visitor
  bootstrap,   ///< the configured bootstrap admin token (system admin; off unless configured)
  session,     ///< a login session token
  personal,    ///< a personal API token (its own subset of the user's rights)
};

/// Who is calling, with every grant that applies to them now.
struct Principal {
  CallerKind kind = CallerKind::anonymous;
  std::string user;      ///< the user id ("" for anonymous and bootstrap)
  std::string token_id;  ///< the session or personal token's id ("" otherwise)
  bool pending = false;  ///< registered but not approved: catalogue and own application only
  std::vector<Grant> grants;
  /// A personal token's own rights (empty: all the user's rights). The caller holds a right
  /// only if the token lists it too.
  std::vector<Right> token_rights;

  /// The actor named in audit entries: "user:<id>", "token:<id>/<user>", "admin-token", "anonymous".
  std::string actor() const;
  bool signed_in() const { return kind != CallerKind::anonymous; }
};

/// A local account: the user's Argon2id password hash (PHC string).
struct Account {
  std::string user;
  std::string password_hash;
  int64_t updated_ms = 0;
};

enum class TokenKind { session, personal };

/// A session or personal token as stored: its secret is never stored, only sha256(secret).
struct Token {
  std::string id;
  std::string user;
  TokenKind kind = TokenKind::session;
  std::string secret_hash;  ///< lower-case hex sha256 of the secret
  std::string name;         ///< personal tokens: what it is for; sessions: the login method
  std::vector<Right> rights;  ///< personal tokens: the subset of rights; empty = all
  int64_t created_ms = 0;
  int64_t expires_ms = 0;
  std::optional<int64_t> revoked_ms{};
  std::optional<int64_t> last_used_ms{};
  std::string source;  ///< the address it was issued to
};

/// Failed sign-ins counted under one key ("account:<user>" or "address:<ip>").
struct Throttle {
  std::string key;
  int64_t failures = 0;
  int64_t first_ms = 0;         ///< start of the counting window
  int64_t locked_until_ms = 0;  ///< refused until then (0 = not locked)
};

enum class Decision { pending, approved, refused };

/// An external user's self-registration: a pending user who applied to a unit.
struct Registration {
  std::string user;
  std::string unit;
  int64_t applied_ms = 0;
  Decision decision = Decision::pending;
  std::string decided_by;
  std::optional<int64_t> decided_ms{};
  std::string reason;
};

}  // namespace lg::server::identity
