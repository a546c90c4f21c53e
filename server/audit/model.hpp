// The audit log: one append-only, hash-chained entry per change to people, cards, rights,
// instruments, bookings, fees and money. Plain data.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "server/core/paging.hpp"

namespace lg::server::audit {

/// Who made a change, from where, in which request: what an HTTP handler (or a job) knows.
struct Context {
  std::string actor;       ///< "admin-token" today; later a user id; "system:<job>" for jobs
  std::string source;      ///< the peer address, or "local"
  std::string request_id;  ///< the request's id (X-Request-Id), "" for jobs
};

/// What changed: the entity before and after, as JSON text ("" when it did not exist / is gone).
struct Change {
  std::string action;     ///< "create" | "update" | "retire" | ...
  std::string entity;     ///< e.g. "booking", "fee_standard"
  std::string entity_id;  ///< the entity's id (composite keys joined with '/')
  std::string before;
  std::string after;
};

/// One stored entry of the chain: seq counts 1, 2, 3... without gaps; hash seals every other
/// field and prev_hash (the hash of entry seq-1, or kGenesis for the first).
struct Entry {
  uint64_t seq = 0;
  int64_t at_ms = 0;  ///< UTC
  std::string actor;
  std::string source;
  std::string request_id;
  std::string action;
  std::string entity;
  std::string entity_id;
  std::string before;
  std::string after;
  std::string prev_hash;  ///< lower-case hex sha256
  std::string hash;       ///< lower-case hex sha256
};

/// Which entries a list shows: every non-empty text must match exactly; times are [from, to).
struct Filter {
  std::string entity;
  std::string entity_id;
  std::string actor;
  std::optional<int64_t> from_ms;
  std::optional<int64_t> to_ms;
  Page page;  ///< newest first: the key is (seq)
};

}  // namespace lg::server::audit
