// A store backend as the app sees it: every area's store and the unit of work over one
// database. SQLite (core/sqlite_backend.hpp) is the embedded default; PostgreSQL
// (core/pg_backend.hpp) serves several nodes. open_backend() picks one from the config.
#pragma once

#include <memory>
#include <string>

#include "labgate/common/result.hpp"
#include "server/core/stores.hpp"

namespace lg::server {

class Backend {
 public:
  virtual ~Backend() = default;
  /// The stores (valid as long as this object).
  virtual Stores stores() = 0;
  /// "sqlite" or "postgres".
  virtual std::string_view kind() const = 0;
};

/// Which backend and where its data lives ([store] in the server config).
struct StoreSettings {
  std::string kind = "sqlite";  ///< "sqlite" | "postgres"
  std::string sqlite_path;      ///< sqlite: the database file
  std::string conninfo;         ///< postgres: libpq conninfo or URI
  std::string schema;           ///< postgres: the schema holding the tables ("" = search_path)
  int64_t report_hold_ms = 0;   ///< [testing] see reports::SqliteStore
  std::size_t connections = 1;  ///< one per thread that uses the database
};

/// Opens (creating and migrating) the backend the settings name.
Result<std::unique_ptr<Backend>> open_backend(const StoreSettings& s);

}  // namespace lg::server
