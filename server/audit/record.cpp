#include "server/audit/record.hpp"

namespace lg::server::audit {

Status record(UnitOfWork& uow, Store& store, const Context& ctx, int64_t now_ms,
              const std::function<Result<std::optional<Change>>()>& write) {
  // Every audited write appends to one chain: queue on its lock before the transaction starts
  // (PostgreSQL: a session advisory lock taken before BEGIN, so the snapshot sees the previous
  // head), instead of racing for the head row and retrying (16 concurrent bookings exhausted
  // their retries). SQLite serializes writers anyway.
  static const std::string kChain = "audit:chain";
  return uow.run_serialized(std::span(&kChain, 1), [&]() -> Status {
    auto change = write();
    if (!change) return change.error();
    if (!*change) return {};
    auto e = store.append(ctx, **change, now_ms);
    if (!e) return e.error();
    return {};
  });
}

}  // namespace lg::server::audit
