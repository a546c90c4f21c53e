#include "server/core/sqlite_backend.hpp"

#include <array>

namespace lg::server {

Result<std::unique_ptr<SqliteBackend>> SqliteBackend::open(const std::string& path, int64_t report_hold_ms,
                                                           std::size_t connections) {
  // In dependency order: a table's references exist before it (charges name sessions).
  const std::array<AreaSchema, 14> areas{{
      {"directory", directory::migrations()},
      {"qualification", qualification::migrations()},
      {"booking", booking::migrations()},
      {"terminals", terminals::migrations()},
      {"usage", usage::migrations()},
      {"billing", billing::migrations()},
      {"audit", audit::migrations()},
      {"identity", identity::migrations()},
      {"orders", orders::migrations()},
      {"notify", notify::migrations()},
      {"training", training::migrations()},
      {"conduct", conduct::migrations()},
      {"ledger", ledger::migrations()},
      {"settlement", settlement::migrations()},
  }};
  auto db = SqliteDb::open(path, areas, connections);
  if (!db) return db.error();
  return std::unique_ptr<SqliteBackend>(new SqliteBackend(std::move(db).value(), report_hold_ms));
}

}  // namespace lg::server
