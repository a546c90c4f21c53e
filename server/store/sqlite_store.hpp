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

  Result<PageOf<Unit>> units(const Page& p) override;
  Result<PageOf<Lab>> labs(const Page& p) override;
  Result<PageOf<Instrument>> instruments(const Page& p) override;
  Result<PageOf<FeeStandard>> fee_standards(const Page& p) override;
  Result<PageOf<User>> users(const Page& p) override;
  Result<PageOf<Card>> cards(const Page& p) override;
  Result<PageOf<Qualification>> qualifications(const Page& p) override;
  Result<PageOf<Booking>> bookings(const Page& p) override;
  Result<PageOf<Terminal>> terminals(const Page& p) override;
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

  Result<PageOf<AccessEvent>> access_events(const AccessFilter& f) override;
  Result<PageOf<UsageSession>> sessions(const SessionFilter& f) override;
  Result<PageOf<Charge>> charges(int64_t from_ms, int64_t to_ms, const Page& p = {}) override;
  Result<std::vector<report::GroupSum>> usage_groups(report::GroupBy by, int64_t from_ms, int64_t to_ms) override;
  Result<report::GroupSum> usage_total(int64_t from_ms, int64_t to_ms) override;

 private:
  db::Database db_;
};

}  // namespace lg::server
