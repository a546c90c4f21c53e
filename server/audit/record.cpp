#include "server/audit/record.hpp"

namespace lg::server::audit {

Status record(UnitOfWork& uow, Store& store, const Context& ctx, int64_t now_ms,
              const std::function<Result<std::optional<Change>>()>& write) {
  return uow.run([&]() -> Status {
    auto change = write();
    if (!change) return change.error();
    if (!*change) return {};
    auto e = store.append(ctx, **change, now_ms);
    if (!e) return e.error();
    return {};
  });
}

}  // namespace lg::server::audit
