// The audit store: an append-only chain of entries. There is no way to change or remove an
// entry through it, and the tables refuse UPDATE and DELETE (triggers on both backends).
#pragma once

#include <cstdint>
#include <vector>

#include "labgate/common/result.hpp"
#include "server/audit/model.hpp"
#include "server/core/paging.hpp"

namespace lg::server::audit {

class Store {
 public:
  virtual ~Store() = default;
  /// Appends the entry of change c after the chain's head, in the caller's unit of work (or a
  /// transaction of its own outside one), and returns it. Appends are serialized across every
  /// process sharing the database, so seq has no gaps and the chain stays linear; an append in a
  /// unit of work that rolls back leaves nothing.
  virtual Result<Entry> append(const Context& ctx, const Change& c, int64_t now_ms) = 0;
  /// Entries matching f, newest first (by seq descending), keyset-paged on (seq).
  virtual Result<PageOf<Entry>> list(const Filter& f) = 0;
  /// At most limit entries with seq > after_seq, ascending: the chain read in pieces, for
  /// verification.
  virtual Result<std::vector<Entry>> chain(uint64_t after_seq, int64_t limit) = 0;
};

}  // namespace lg::server::audit
