// The outbox store on PostgreSQL.
#pragma once

#include <span>

#include "server/core/pg_db.hpp"
#include "server/notify/store.hpp"

namespace lg::server::notify {

/// The outbox's numbered PostgreSQL migrations.
std::span<const db::Migration> pg_migrations();

class PgStore final : public Store {
 public:
  explicit PgStore(PgDb& db) : db_(db) {}
  Result<bool> insert(const Notice& n) override;
  Result<std::optional<Notice>> get(const std::string& id) override;
  Result<PageOf<Notice>> list(const NoticeFilter& f, const Page& p = {}) override;
  Result<std::vector<Notice>> claim_due(int64_t now_ms, int64_t limit, const std::string& claim,
                                        int64_t lease_until_ms) override;
  Result<bool> mark_sent(const std::string& id, const std::string& claim, int64_t now_ms) override;
  Result<bool> mark_failed(const std::string& id, const std::string& claim, State state, int64_t next_attempt_ms,
                           const std::string& error) override;
  Result<bool> requeue(const std::string& id, const std::string& address, int64_t now_ms) override;

 private:
  PgDb& db_;
};

}  // namespace lg::server::notify
