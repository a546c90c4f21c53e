// The single-list schema of labgate before areas had their own migrations (PRAGMA
// user_version 1..4). Frozen: SqliteDb uses it only to bring an old database to the shape every
// area's migration 1 starts from.
#pragma once

#include <span>

#include "labgate/common/sqlite.hpp"

namespace lg::server::legacy {

/// The four steps of the old list.
std::span<const db::Migration> migrations();

}  // namespace lg::server::legacy
