// The terminals' store on PostgreSQL.
#pragma once

#include <span>

#include "server/core/pg_db.hpp"
#include "server/terminals/store.hpp"

namespace lg::server::terminals {

/// The terminals' numbered PostgreSQL migrations (the table also holds each terminal's stored bundle,
/// which the sync area reads and writes).
std::span<const db::Migration> pg_migrations();

class PgStore final : public Store {
 public:
  explicit PgStore(PgDb& db) : db_(db) {}
  Status add(const Terminal& t, int64_t now_ms) override;
  Result<PageOf<Terminal>> list(const Page& p) override;
  Result<std::vector<Terminal>> all() override;
  Result<std::optional<Terminal>> get(const std::string& id) override;
  Result<Terminal> retire(const std::string& id, int64_t now_ms) override;
  Result<StateOutcome> apply_state(const StateUpdate& s) override;
  Status set_acked(const std::string& id, uint64_t acked_seq, int64_t seen_ms) override;
  Status add_enrol_token(const EnrolToken& t) override;
  Result<std::optional<EnrolToken>> enrol_token(const std::string& hash) override;
  Result<Enrolled> enrol(const std::string& token_hash, const std::string& public_key, CertRecord cert,
                         int64_t now_ms) override;
  Status add_certificate(const CertRecord& c) override;
  Result<std::vector<CertRecord>> certificates(const std::string& terminal) override;
  Result<std::vector<CertRecord>> revoked_certificates() override;
  Result<Terminal> revoke(const std::string& id, const std::string& reason, int64_t now_ms) override;

 private:
  PgDb& db_;
};

}  // namespace lg::server::terminals
