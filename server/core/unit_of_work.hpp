// The unit of work: one transaction around the loads and effects of one business operation,
// whatever backend holds the data. Stores called inside run() on the same thread take part in
// the same transaction.
#pragma once

#include <functional>
#include <optional>
#include <utility>

#include "labgate/common/result.hpp"

namespace lg::server {

class UnitOfWork {
 public:
  virtual ~UnitOfWork() = default;
  /// Runs body inside one transaction that is atomic against concurrent writers (it takes the
  /// write lock before the first read, so check-then-write is safe). Commits when body succeeds
  /// and rolls everything back when it fails. Called while a transaction is already open on
  /// this thread, body joins it (the outer run commits or rolls back).
  virtual Status run(const std::function<Status()>& body) = 0;
};

/// run() for a body that returns a value.
template <typename T, typename F>
Result<T> transact(UnitOfWork& uow, F&& body) {
  std::optional<Result<T>> out;
  Status s = uow.run([&]() -> Status {
    out.emplace(body());
    if (!*out) return out->error();
    return {};
  });
  if (!s) return s.error();
  return std::move(*out);
}

}  // namespace lg::server
