// The identity store: local accounts, session and personal tokens, failed sign-in counters,
// role grants, registrations, and the places of objects in the organisation tree (read from
// the directory's tables) that rights are checked against.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "labgate/common/result.hpp"
#include "server/core/paging.hpp"
#include "server/identity/model.hpp"

namespace lg::server::identity {

/// The kinds of object a route's scope is checked on.
enum class Kind { unit, lab, instrument, user, card, group, booking, terminal, registration };
/// "unit", "lab", ...
const char* to_string(Kind k);

class Store {
 public:
  virtual ~Store() = default;

  /// Sets a user's password hash (creates the account); unknown_reference for an unknown user.
  virtual Status set_password(const std::string& user, const std::string& phc, int64_t now_ms) = 0;
  /// A user's local account, nullopt when they have none (sign-on through LDAP or CAS only).
  virtual Result<std::optional<Account>> account(const std::string& user) = 0;

  /// Stores a new token (conflict if its id or secret hash exists).
  virtual Status add_token(const Token& t) = 0;
  /// The token whose secret hashes to secret_hash, nullopt when none.
  virtual Result<std::optional<Token>> token_by_hash(const std::string& secret_hash) = 0;
  /// A user's tokens of one kind, newest first, revoked and expired ones included.
  virtual Result<std::vector<Token>> tokens_of(const std::string& user, TokenKind kind) = 0;
  /// Revokes one of the user's tokens; not_found when the user has no token with this id;
  /// conflict when it is revoked already. Returns it as stored afterwards.
  virtual Result<Token> revoke_token(const std::string& user, const std::string& id, int64_t now_ms) = 0;
  /// Revokes every live token of a user (suspension, departure, password change); returns how many.
  virtual Result<int64_t> revoke_all(const std::string& user, int64_t now_ms) = 0;
  /// Records a use of a token (at most about once a minute is written).
  virtual Status touch_token(const std::string& id, int64_t now_ms) = 0;

  /// The failed sign-in counter under key (zero when none).
  virtual Result<Throttle> throttle(const std::string& key) = 0;
  /// Stores a counter.
  virtual Status put_throttle(const Throttle& t) = 0;
  /// Forgets a counter (a successful sign-in clears its account's).
  virtual Status clear_throttle(const std::string& key) = 0;

  /// Stores an explicit grant; conflict when the user holds the same role in the same scope;
  /// unknown_reference for an unknown user or scope object.
  virtual Status add_grant(const Grant& g) = 0;
  /// One explicit grant, nullopt when unknown.
  virtual Result<std::optional<Grant>> grant(const std::string& id) = 0;
  /// Revokes an explicit grant (kept as history); not_found, conflict when revoked already.
  virtual Result<Grant> revoke_grant(const std::string& id, int64_t now_ms) = 0;
  /// Every grant that holds for the user now: the live explicit ones, their own user role when
  /// active, and pi over each live group they lead.
  virtual Result<std::vector<Grant>> grants_of(const std::string& user) = 0;
  /// The explicit grants, live and revoked, by id.
  virtual Result<PageOf<Grant>> grants(const Page& p) = 0;

  /// Stores a registration (conflict if the user has one).
  virtual Status add_registration(const Registration& r) = 0;
  /// A user's registration, nullopt when none.
  virtual Result<std::optional<Registration>> registration(const std::string& user) = 0;
  /// Registrations by (applied_ms, user), oldest first; only pending ones when pending_only.
  virtual Result<PageOf<Registration>> registrations(bool pending_only, const Page& p) = 0;
  /// Records the decision on a pending registration; not_found, conflict when decided already.
  virtual Result<Registration> decide(const std::string& user, Decision d, const std::string& by,
                                      const std::string& reason, int64_t now_ms) = 0;

  /// Where an object sits (identity/model.hpp Place); nullopt when it does not exist.
  virtual Result<std::optional<Place>> place(Kind kind, const std::string& id) = 0;
  /// A unit and every unit below it, nullopt for an unknown unit.
  virtual Result<std::vector<std::string>> subtree(const std::string& unit) = 0;
  /// A user's status ("pending", "active", ...), nullopt for an unknown user.
  virtual Result<std::optional<std::string>> user_status(const std::string& user) = 0;
};

}  // namespace lg::server::identity
