#include "server/core/backend.hpp"

#include "server/core/pg_backend.hpp"
#include "server/core/sqlite_backend.hpp"

namespace lg::server {

Result<std::unique_ptr<Backend>> open_backend(const StoreSettings& s) {
  if (s.kind == "sqlite") {
    auto b = SqliteBackend::open(s.sqlite_path, s.report_hold_ms, s.connections);
    if (!b) return b.error();
    return std::unique_ptr<Backend>(std::move(b).value());
  }
  if (s.kind == "postgres") {
    auto b = PgBackend::open(PgOptions{s.conninfo, s.schema, s.connections}, s.report_hold_ms);
    if (!b) return b.error();
    return std::unique_ptr<Backend>(std::move(b).value());
  }
  return Error::invalid("store.kind: '" + s.kind + "' is not one of sqlite, postgres");
}

}  // namespace lg::server
