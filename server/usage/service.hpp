// Ingest of verified evt batches as one unit of work: load the facts of all their records at
// once, let the usage and billing rules decide every record in order (in memory, on top of what
// the earlier records of the same group did), write the effects at once, advance each
// terminal's contiguous ack. The database work is a fixed number of statements per group (plus
// one read and one write of each terminal), not a handful per record. Nothing of a batch is
// written if any of its steps fails.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "labgate/common/defaults.hpp"
#include "labgate/common/protocol.hpp"
#include "server/billing/store.hpp"
#include "server/booking/store.hpp"
#include "server/core/unit_of_work.hpp"
#include "server/directory/store.hpp"
#include "server/terminals/store.hpp"
#include "server/usage/store.hpp"

namespace lg::server::usage {

/// The stores a batch touches.
struct BatchStores {
  UnitOfWork& uow;
  Store& usage;
  terminals::Store& terminals;
  directory::Store& directory;
  billing::Store& billing;
  /// The bookings sessions name (a session is priced with its booking's interval); none: every
  /// session is priced as used.
  booking::Store* booking = nullptr;
  /// The site zone: fee standards' night windows and weekends.
  std::string zone{defaults::kTimeZone};
};

class Service {
 public:
  /// currency: for charges of instruments without a fee standard.
  Service(BatchStores stores, std::string currency) : s_(stores), currency_(std::move(currency)) {}

  /// Commits a verified batch: records keyed by (terminal, seq) with dedupe, derived access
  /// events, sessions and charges, counters, and the terminal's contiguous acked seq.
  /// not_found when the terminal is not enrolled. (commit_group of one batch.)
  Result<IngestOutcome> commit_batch(const proto::EventBatch& batch, int64_t now_ms);

  /// Group commit: every batch as commit_batch would, one after the other, all in one unit of
  /// work (one durable commit for the group). The group is loaded, decided and written as a
  /// whole; when that write fails (a storage error), each batch is committed again on its own in
  /// a savepoint, so that one failing batch leaves the others committed. A batch of a terminal
  /// that is not enrolled fails alone (not_found) and changes nothing. Serialized against other
  /// nodes on every terminal of the group. Returns one result per batch, in order; when the
  /// group's commit itself fails, every batch fails with that error.
  std::vector<Result<IngestOutcome>> commit_group(std::span<const proto::EventBatch* const> batches, int64_t now_ms);

 private:
  BatchStores s_;
  std::string currency_;
};

}  // namespace lg::server::usage
