// A write and its audit entry in one unit of work: what every audited route calls.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <utility>

#include "labgate/common/result.hpp"
#include "server/audit/model.hpp"
#include "server/audit/store.hpp"
#include "server/core/unit_of_work.hpp"

namespace lg::server::audit {

/// What a write body returns when it made change c.
inline Result<std::optional<Change>> changed(Change c) { return std::optional<Change>(std::move(c)); }

/// What a write body returns when it changed nothing (nothing is appended).
inline Result<std::optional<Change>> unchanged() { return std::optional<Change>(); }

/// Runs write in one unit of work (a savepoint when one is already open) and, when it succeeds
/// and reports a change, appends that change's entry in the same unit of work: both are
/// committed or neither. write returns the change it made, or nullopt when it changed nothing
/// (then nothing is appended); an error from write, or from the append, rolls the write back.
/// write may run more than once (PostgreSQL runs a unit of work again after a lost race).
Status record(UnitOfWork& uow, Store& store, const Context& ctx, int64_t now_ms,
              const std::function<Result<std::optional<Change>>()>& write);

}  // namespace lg::server::audit
