// One area's numbered migrations, for any backend (each backend's store lists its own SQL).
#pragma once

#include <span>
#include <string_view>

#include "labgate/common/sqlite.hpp"

namespace lg::server {

/// One area's numbered migrations (versions 1, 2, ... of that area alone). The SQL is the
/// backend's own: SQLite stores and PostgreSQL stores keep separate lists.
struct AreaSchema {
  std::string_view area;
  std::span<const db::Migration> steps;
};

}  // namespace lg::server
