// Store over one SQLite connection (WAL, synchronous=FULL). Not thread-safe: one per thread.
#pragma once

#include <memory>
#include <string>

#include "labgate/common/sqlite.hpp"
#include "server/store/store.hpp"

namespace lg::server {

class SqliteStore final : public Store {
 public:
  /// Wraps an open, migrated database.
  explicit SqliteStore(db::Database db);
  /// Opens (creating and migrating) the database file at path.
  static Result<std::unique_ptr<SqliteStore>> open(const std::string& path);
  /// The underlying connection (tests and diagnostics).
  db::Database& database() { return db_; }

  Status add_unit(const Unit& u, int64_t now_ms) override;
  Status add_lab(const Lab& l, int64_t now_ms) override;
  Status add_instrument(const Instrument& i, int64_t now_ms) override;
  Result<Instrument> update_instrument_policy(const std::string& id, const InstrumentPolicyPatch& p,
                                              int64_t now_ms) override;
  Status put_fee_standard(const FeeStandard& f, int64_t now_ms) override;
  Status add_user(const User& u, int64_t now_ms) override;
  Status add_card(const Card& c, int64_t now_ms) override;
  Status put_qualification(const Qualification& q, int64_t now_ms) override;
  Result<BookingOutcome> create_booking(const Booking& b, int64_t now_ms) override;
  Status add_terminal(const Terminal& t, int64_t now_ms) override;

  Result<std::vector<Unit>> units() override;
  Result<std::vector<Lab>> labs() override;
  Result<std::vector<Instrument>> instruments() override;
  Result<std::vector<FeeStandard>> fee_standards() override;
  Result<std::vector<User>> users() override;
  Result<std::vector<Card>> cards() override;
  Result<std::vector<Qualification>> qualifications() override;
  Result<std::vector<Booking>> bookings() override;
  Result<std::vector<Terminal>> terminals() override;
  Result<std::optional<Terminal>> terminal(const std::string& id) override;

  Result<sync::Inputs> sync_inputs(const Terminal& t, int64_t now_ms) override;
  Result<StoredSync> stored_sync(const std::string& terminal) override;
  Status save_sync(const std::string& terminal, const StoredSync& s) override;

  Result<IngestOutcome> commit_batch(const proto::EventBatch& batch, int64_t now_ms,
                                     const std::string& default_currency) override;
  Result<StateOutcome> apply_state(const StateUpdate& s) override;
  Status count_rejection(const std::string& reason) override;
  Status count_ack() override;
  Result<Stats> stats() override;

  Result<std::vector<AccessEvent>> access_events(const AccessFilter& f) override;
  Result<std::vector<UsageSession>> sessions(const SessionFilter& f) override;
  Result<std::vector<Charge>> charges(int64_t from_ms, int64_t to_ms) override;
  Result<std::vector<report::UsageItem>> usage_items(int64_t from_ms, int64_t to_ms) override;

 private:
  db::Database db_;
};

}  // namespace lg::server
