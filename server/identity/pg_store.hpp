// The identity store on PostgreSQL.
#pragma once

#include <span>

#include "server/core/pg_db.hpp"
#include "server/identity/store.hpp"

namespace lg::server::identity {

/// The identity area's numbered migrations (PostgreSQL).
std::span<const db::Migration> pg_migrations();

class PgStore final : public Store {
 public:
  explicit PgStore(PgDb& db) : db_(db) {}
  Status set_password(const std::string& user, const std::string& phc, int64_t now_ms) override;
  Result<std::optional<Account>> account(const std::string& user) override;
  Status add_token(const Token& t) override;
  Result<std::optional<Token>> token_by_hash(const std::string& secret_hash) override;
  Result<std::vector<Token>> tokens_of(const std::string& user, TokenKind kind) override;
  Result<Token> revoke_token(const std::string& user, const std::string& id, int64_t now_ms) override;
  Result<int64_t> revoke_all(const std::string& user, int64_t now_ms) override;
  Status touch_token(const std::string& id, int64_t now_ms) override;
  Result<Throttle> throttle(const std::string& key) override;
  Status put_throttle(const Throttle& t) override;
  Status clear_throttle(const std::string& key) override;
  Status add_grant(const Grant& g) override;
  Result<std::optional<Grant>> grant(const std::string& id) override;
  Result<Grant> revoke_grant(const std::string& id, int64_t now_ms) override;
  Result<std::vector<Grant>> grants_of(const std::string& user) override;
  Result<PageOf<Grant>> grants(const Page& p) override;
  Status add_registration(const Registration& r) override;
  Result<std::optional<Registration>> registration(const std::string& user) override;
  Result<PageOf<Registration>> registrations(bool pending_only, const Page& p) override;
  Result<Registration> decide(const std::string& user, Decision d, const std::string& by, const std::string& reason,
                              int64_t now_ms) override;
  Result<std::optional<Place>> place(Kind kind, const std::string& id) override;
  Result<std::vector<std::string>> subtree(const std::string& unit) override;
  Result<std::optional<std::string>> user_status(const std::string& user) override;

 private:
  Result<std::vector<std::string>> chain(const std::string& unit);
  Result<std::optional<Token>> token_where(const std::string& sql, const std::string& a, const std::string& b);
  PgDb& db_;
};

}  // namespace lg::server::identity
