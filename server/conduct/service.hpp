// The conduct use cases, each one unit of work: the scheduler's scan (detect what bookings earned,
// record it, block a user whose score fell below the line, tell them and the site admins), an
// admin's waiver (audited by the route; it lifts a block the score no longer justifies), the end
// of blocks (told to the user), and the standing of a user. Notices go through the outbox in the
// same unit of work as the change that causes them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "server/conduct/rules.hpp"
#include "server/conduct/store.hpp"
#include "server/core/unit_of_work.hpp"
#include "server/notify/outbox.hpp"

namespace lg::server::conduct {

/// What one scan did.
struct ScanResult {
  std::vector<Event> recorded;   ///< new events
  std::vector<Event> withdrawn;  ///< no-shows the system waived: a session reached the server late
  std::vector<Block> blocks;     ///< new blocks
  int32_t settled = 0;           ///< bookings done with
};

/// An event before and after a waiver, and the block lifted by it (if any).
struct Waiver {
  Event before;
  Event after;
  std::optional<Block> lifted;
  int32_t score = 0;  ///< the user's score after it
};

class Service {
 public:
  /// outbox may be null (no notices). time_zone: how times appear in notices.
  Service(UnitOfWork& uow, Store& store, notify::Outbox* outbox, Policy policy, std::string time_zone)
      : uow_(uow), store_(store), outbox_(outbox), policy_(std::move(policy)), tz_(std::move(time_zone)) {}

  /// Looks at the bookings not yet settled that started in the last 30 days (at most `limit`),
  /// each in a unit of work of its own: records the events detect() finds, withdraws a no-show a
  /// late session contradicts, settles the booking once nothing can change, and blocks its user
  /// when new events drop the score below block_below.
  Result<ScanResult> scan(int64_t now_ms, int32_t limit = 500);

  /// Waives event `id` (by, reason for the audit), lifting the user's block when the score is
  /// back at block_below or above. not_found for an unknown id; conflict when waived already.
  Result<Waiver> waive(const std::string& id, const std::string& by, const std::string& reason, int64_t now_ms);

  /// Tells the users whose block ended (its time ran out or it was lifted) and marks it told.
  /// Returns the blocks told.
  Result<std::vector<Block>> notify_ended(int64_t now_ms, int32_t limit = 100);

  /// The user's standing at now_ms.
  Result<Credit> credit(const std::string& user, int64_t now_ms);

  /// The block keeping the user from booking at now_ms, or nullopt. Runs in the caller's unit of
  /// work when one is open (booking admission).
  Result<std::optional<Block>> block_in_force(const std::string& user, int64_t now_ms);

  /// One event; not_found when unknown.
  Result<Event> event(const std::string& id);

  /// Events with at_ms in [from_ms, to_ms), newest first, at most limit; "" instrument = any.
  Result<std::vector<Event>> recent(const std::string& instrument, int64_t from_ms, int64_t to_ms, int32_t limit) {
    return store_.recent(instrument, from_ms, to_ms, limit);
  }

  const Policy& policy() const { return policy_; }

 private:
  Result<std::optional<Block>> block_if_due(const std::string& user, int64_t now_ms);
  Status tell(const std::string& user, notify::Kind kind, notify::Fields fields, const std::string& dedupe, int64_t now_ms);
  std::string local(int64_t ms) const;

  UnitOfWork& uow_;
  Store& store_;
  notify::Outbox* outbox_;
  Policy policy_;
  std::string tz_;
};

}  // namespace lg::server::conduct
