// Who a request's bearer token names: the bootstrap admin token, a session or personal token
// (stored hashed), or nobody. And how tokens are made.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "server/identity/model.hpp"
#include "server/identity/store.hpp"

namespace lg::server::identity {

/// A resolved caller, or why the token presented was refused.
struct Credential {
  std::shared_ptr<const Principal> principal;  ///< null: anonymous (no token, or a refused one)
  std::string problem;                         ///< "" when accepted or when no token was presented
  bool unavailable = false;                    ///< the store failed: the caller cannot be known now
};

/// Resolves an Authorization header ("Bearer <token>"). The bootstrap token (when configured, not
/// empty) is a system admin; a session or personal token must exist, be live, and belong to a user
/// who is active (or pending: a pending principal holds nothing but its own account). Records the
/// token's use.
Credential resolve(Store& store, std::string_view authorization, std::string_view bootstrap_token, int64_t now_ms);

/// The principal of a signed-in user: their grants now (pending users hold none).
Result<Principal> principal_of(Store& store, const std::string& user, CallerKind kind, const std::string& token_id);

/// A token just made: its stored record and the secret handed out once.
struct Issued {
  Token token;
  std::string secret;
};

/// Makes a token for user: a random secret of the kind's prefix, its sha256 stored, a uuid7 id.
Issued issue(TokenKind kind, const std::string& user, std::string name, std::vector<Right> rights, int64_t now_ms,
             int64_t ttl_ms, std::string source);

/// sha256 hex of a token's secret (what the store keeps).
std::string secret_hash(std::string_view secret);

}  // namespace lg::server::identity
