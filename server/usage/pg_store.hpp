// The usage store on PostgreSQL.
#pragma once

#include <span>

#include "server/core/pg_db.hpp"
#include "server/usage/store.hpp"

namespace lg::server::usage {

/// Usage's numbered PostgreSQL migrations.
std::span<const db::Migration> pg_migrations();

class PgStore final : public Store {
 public:
  explicit PgStore(PgDb& db) : db_(db) {}
  Result<Prefetched> prefetch(const PrefetchQuery& q) override;
  Status write(const UsageEffects& e) override;
  Result<std::vector<uint64_t>> seqs_above(const std::string& terminal, uint64_t after, int64_t limit) override;
  Status count(std::string_view counter, int64_t n) override;
  Status count_rejection(std::string_view reason, int64_t n) override;
  Result<Stats> stats() override;
  Status keep_pseudonyms(const std::string& terminal,
                         const std::vector<std::pair<std::string, std::string>>& pairs) override;
  Result<std::map<std::string, std::string>> pseudonym_users(const std::string& terminal,
                                                            const std::vector<std::string>& pseudonyms) override;
  Result<PageOf<AccessEvent>> access_events(const AccessFilter& f) override;
  Result<PageOf<UsageSession>> sessions(const SessionFilter& f) override;

 private:
  PgDb& db_;
};

}  // namespace lg::server::usage
