// The unit of work: one transaction around the loads and effects of one business operation,
// whatever backend holds the data. Stores called inside run() on the same thread take part in
// the same transaction.
#pragma once

#include <functional>
#include <optional>
#include <span>
#include <string>
#include <utility>

#include "labgate/common/result.hpp"

namespace lg::server {

class UnitOfWork {
 public:
  virtual ~UnitOfWork() = default;
  /// Runs body inside one transaction that is atomic against concurrent writers (it takes the
  /// write lock before the first read, so check-then-write is safe). Commits when body succeeds
  /// and rolls everything back when it fails. Called while a transaction is already open on
  /// this thread, body runs in a savepoint of it: its writes are undone if it fails, and the
  /// outer run commits or rolls back the rest (a group commit keeps the batches that succeeded).
  virtual Status run(const std::function<Status()>& body) = 0;
  /// run(), serialized against every other unit of work naming one of the same keys, in any
  /// process sharing the database (e.g. one terminal's batches reaching several nodes), so that
  /// such work queues instead of racing. A backend whose writers are serialized anyway (SQLite)
  /// simply runs body. The body may run more than once (a backend retries a transaction that
  /// lost a race): it must not have effects outside the stores. The keys are what serializes
  /// such work: PostgreSQL runs it at snapshot isolation (PgDb::run_serialized), so a rule that
  /// depends on rows outside its keys must have them guarded by a constraint.
  virtual Status run_serialized(std::span<const std::string> keys, const std::function<Status()>& body) {
    (void)keys;
    return run(body);
  }
  /// Runs fn (which may open units of work of its own, and publish) while holding a lock named
  /// key that every process sharing the database respects: e.g. one terminal's bundle is built,
  /// saved and published by one node at a time, so a node never publishes an older bundle after
  /// another node's newer one. Not inside a unit of work. A single-process backend runs fn.
  virtual Status with_lock(const std::string& key, const std::function<Status()>& fn) {
    (void)key;
    return fn();
  }
};

/// run_serialized() for a body that returns a value (the value of its last, committed run).
template <typename T, typename F>
Result<T> transact_serialized(UnitOfWork& uow, std::span<const std::string> keys, F&& body) {
  std::optional<Result<T>> out;
  Status s = uow.run_serialized(keys, [&]() -> Status {
    out.emplace(body());
    if (!*out) return out->error();
    return {};
  });
  if (!s) return s.error();
  return std::move(*out);
}

/// run() for a body that returns a value (the value of its last, committed run).
template <typename T, typename F>
Result<T> transact(UnitOfWork& uow, F&& body) {
  return transact_serialized<T>(uow, {}, std::forward<F>(body));
}

}  // namespace lg::server
