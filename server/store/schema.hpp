// The server's SQLite schema as numbered migrations (applied by lg::db::migrate).
#pragma once

#include <span>
#include <string>

#include "labgate/common/result.hpp"
#include "labgate/common/sqlite.hpp"

namespace lg::server::schema {

/// Every migration in order; versions 1, 2, ...
std::span<const db::Migration> migrations();

/// Opens the database at path (WAL, synchronous=FULL, foreign keys) and migrates it.
Result<db::Database> open_database(const std::string& path);

}  // namespace lg::server::schema
