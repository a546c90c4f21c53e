#include "server/core/sqlite_db.hpp"

#include <stdexcept>

#include "server/core/errors.hpp"
#include "server/core/legacy_schema.hpp"

namespace lg::server {

namespace {

constexpr std::string_view kSchemaTable =
    "CREATE TABLE IF NOT EXISTS schema_migrations (area TEXT PRIMARY KEY, version INTEGER NOT NULL)";

Result<int> area_version(db::Database& d, std::string_view area) {
  auto q = d.prepare("SELECT version FROM schema_migrations WHERE area = ?");
  if (!q) return q.error();
  q->bind(1, area);
  auto row = q->step();
  if (!row) return row.error();
  const int v = *row ? static_cast<int>(q->column_int64(0)) : 0;
  q->reset();
  return v;
}

Status set_version(db::Database& d, std::string_view area, int version) {
  auto st = d.prepare(
      "INSERT INTO schema_migrations(area, version) VALUES (?, ?) ON CONFLICT(area) DO UPDATE SET version = "
      "excluded.version");
  if (!st) return st.error();
  st->bind(1, area).bind(2, static_cast<int64_t>(version));
  return st->run();
}

/// A database of the single-list schema (user_version > 0, no area rows): finish its list and
/// record at version 1 the areas that list held. An area born after it (audit) is not recorded:
/// its own migrations create its tables.
Status adopt_legacy(db::Database& d, std::span<const AreaSchema> areas) {
  auto uv = db::schema_version(d);
  if (!uv) return uv.error();
  auto rows = d.query_int("SELECT count(*) FROM schema_migrations");
  if (!rows) return rows.error();
  if (*uv == 0 || rows->value_or(0) > 0) return {};
  LG_TRY(db::migrate(d, legacy::migrations()));
  db::Transaction tx(d, db::TxKind::immediate);
  LG_TRY(tx.status());
  static constexpr std::string_view kLegacyAreas[] = {"directory", "qualification", "booking",
                                                       "terminals", "usage",     "billing"};
  for (const auto& a : areas) {
    bool legacy_area = false;
    for (auto name : kLegacyAreas) legacy_area = legacy_area || a.area == name;
    if (legacy_area && !a.steps.empty()) LG_TRY(set_version(d, a.area, 1));
  }
  return tx.commit();
}

}  // namespace

Status migrate_areas(db::Database& d, std::span<const AreaSchema> areas) {
  LG_TRY(d.exec(kSchemaTable));
  LG_TRY(adopt_legacy(d, areas));
  for (const auto& a : areas) {
    auto have = area_version(d, a.area);
    if (!have) return have.error();
    const int known = a.steps.empty() ? 0 : a.steps.back().version;
    if (*have > known) {
      return Error::invalid("database schema of area " + std::string(a.area) + " is version " +
                            std::to_string(*have) + ", newer than this program's " + std::to_string(known) +
                            ": refusing to touch it");
    }
    for (const auto& step : a.steps) {
      if (step.version <= *have) continue;
      db::Transaction tx(d, db::TxKind::immediate);
      LG_TRY(tx.status());
      if (auto s = d.exec(step.sql); !s) {
        return Error{s.error().code, std::string(a.area) + " migration " + std::to_string(step.version) + " (" +
                                         std::string(step.name) + "): " + s.error().reason};
      }
      LG_TRY(set_version(d, a.area, step.version));
      LG_TRY(tx.commit());
    }
  }
  return {};
}

Result<std::unique_ptr<SqliteDb>> SqliteDb::open(const std::string& path, std::span<const AreaSchema> areas,
                                                 std::size_t connections) {
  db::Options opts;
  opts.wal = true;
  opts.synchronous = db::Sync::full;
  opts.foreign_keys = true;
  opts.cache_kib = 65536;  // the hot ends of the ingest tables stay in memory (only what is read fills it)
  auto first = db::Database::open(path, opts);
  if (!first) return first.error();
  if (auto s = migrate_areas(*first, areas); !s) return s.error();
  std::unique_ptr<SqliteDb> out(new SqliteDb(path, opts));
  out->conns_[std::this_thread::get_id()] = std::make_unique<db::Database>(std::move(first).value());
  for (std::size_t i = 1; i < connections; ++i) {
    auto more = db::Database::open(path, opts);
    if (!more) return more.error();
    out->spare_.push_back(std::make_unique<db::Database>(std::move(more).value()));
  }
  return out;
}

db::Database& SqliteDb::conn() {
  std::lock_guard lock(m_);
  auto& slot = conns_[std::this_thread::get_id()];
  if (!slot && !spare_.empty()) {
    slot = std::move(spare_.back());
    spare_.pop_back();
  }
  if (!slot) {
    auto d = db::Database::open(path_, opts_);
    // The first connection is opened by open(), which reports its failure; a later one on a file
    // that opened before only fails when the system is out of descriptors or memory: fatal.
    if (!d) throw std::runtime_error("database " + path_ + ": " + d.error().message());
    slot = std::make_unique<db::Database>(std::move(d).value());
  }
  return *slot;
}

Status SqliteDb::run(const std::function<Status()>& body) {
  db::Database& d = conn();
  if (d.in_transaction()) {
    // Inside an open unit of work: a savepoint, so that a failing body undoes its own writes and
    // leaves the enclosing work (e.g. the other batches of a group commit) as it was.
    LG_TRY(d.exec("SAVEPOINT lg_nested"));
    Status s = body();
    if (!s) (void)d.exec("ROLLBACK TO lg_nested");
    if (auto r = d.exec("RELEASE lg_nested"); !r && s) return r;
    return s;
  }
  // One writer at a time, queued here rather than on SQLite's busy handler, which polls with
  // sleeps of up to 100 ms: under load (the ingest committer, heartbeats, HTTP writes) that left
  // the write lock idle while writers slept.
  std::lock_guard writer(write_m_);
  db::Transaction tx(d, db::TxKind::immediate);
  if (!tx.status()) return tx.status();
  LG_TRY(body());
  return tx.commit();
}

}  // namespace lg::server
