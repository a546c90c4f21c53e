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
  Result<StoredKeys> keys(const std::string& terminal, const proto::Record& r) override;
  Status insert_record(const std::string& terminal, const proto::Record& r, int64_t now_ms,
                       std::string_view refused) override;
  Result<StoredSession> session(const std::string& id) override;
  Status insert_access(const AccessEvent& e) override;
  Status open_session(const UsageSession& s, const std::string& start_record) override;
  Status close_session(const UsageSession& s, const std::string& end_record, bool exists) override;
  Result<std::vector<uint64_t>> seqs_above(const std::string& terminal, uint64_t after, int64_t limit) override;
  Status alarm(const std::string& terminal, std::string_view code, const std::string& detail, int64_t now_ms) override;
  Status count(std::string_view counter, int64_t n) override;
  Status count_rejection(std::string_view reason, int64_t n) override;
  Result<Stats> stats() override;
  Result<PageOf<AccessEvent>> access_events(const AccessFilter& f) override;
  Result<PageOf<UsageSession>> sessions(const SessionFilter& f) override;

 private:
  PgDb& db_;
};

}  // namespace lg::server::usage
