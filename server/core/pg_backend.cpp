#include "server/core/pg_backend.hpp"

#include <array>

namespace lg::server {

Result<std::unique_ptr<PgBackend>> PgBackend::open(const PgOptions& o, int64_t report_hold_ms) {
  // In dependency order: a table's references exist before it (charges name sessions).
  const std::array<AreaSchema, 14> areas{{
      {"directory", directory::pg_migrations()},
      {"qualification", qualification::pg_migrations()},
      {"booking", booking::pg_migrations()},
      {"terminals", terminals::pg_migrations()},
      {"usage", usage::pg_migrations()},
      {"billing", billing::pg_migrations()},
      {"audit", audit::pg_migrations()},
      {"identity", identity::pg_migrations()},
      {"orders", orders::pg_migrations()},
      {"notify", notify::pg_migrations()},
      {"training", training::pg_migrations()},
      {"conduct", conduct::pg_migrations()},
      {"ledger", ledger::pg_migrations()},
      {"settlement", settlement::pg_migrations()},
  }};
  auto db = PgDb::open(o, areas);
  if (!db) return db.error();
  return std::unique_ptr<PgBackend>(new PgBackend(std::move(db).value(), report_hold_ms));
}

}  // namespace lg::server
