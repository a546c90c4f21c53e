// Ingest of one verified evt batch as one unit of work: load the facts, let the usage and
// billing rules decide, apply the effects, advance the contiguous ack. Nothing is written if
// any step fails.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "labgate/common/protocol.hpp"
#include "server/billing/store.hpp"
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
};

class Service {
 public:
  /// currency: for charges of instruments without a fee standard.
  Service(BatchStores stores, std::string currency) : s_(stores), currency_(std::move(currency)) {}

  /// Commits a verified batch: records keyed by (terminal, seq) with dedupe, derived access
  /// events, sessions and charges, counters, and the terminal's contiguous acked seq.
  /// not_found when the terminal is not enrolled.
  Result<IngestOutcome> commit_batch(const proto::EventBatch& batch, int64_t now_ms);

  /// Group commit: every batch as commit_batch would, all in one unit of work (one durable
  /// commit for the group), each batch in a savepoint of its own so that one failing batch
  /// (an unknown terminal, a storage error of its own) leaves the others committed. Serialized
  /// against other nodes on every terminal of the group. Returns one result per batch, in order;
  /// when the group's commit itself fails, every batch fails with that error.
  std::vector<Result<IngestOutcome>> commit_group(std::span<const proto::EventBatch* const> batches, int64_t now_ms);

 private:
  BatchStores s_;
  std::string currency_;
};

}  // namespace lg::server::usage
