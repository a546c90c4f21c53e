#include "server/core/pg_db.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <random>
#include <stdexcept>

#include "labgate/common/crypto.hpp"

namespace lg::server {

namespace {

/// The advisory lock key held while migrating (any constant no other code uses).
constexpr int64_t kMigrationLock = 0x6c67'6d69'6772;  // "lgmigr"

constexpr std::string_view kSchemaTable =
    "CREATE TABLE IF NOT EXISTS schema_migrations (area TEXT PRIMARY KEY, version INTEGER NOT NULL)";

Result<int> area_version(pg::Conn& c, std::string_view area) {
  auto r = c.q("SELECT version FROM schema_migrations WHERE area = $1", area);
  if (!r) return r.error();
  return r->empty() ? 0 : static_cast<int>(r->i64(0, 0));
}

Status migrate_locked(pg::Conn& c, std::span<const AreaSchema> areas) {
  LG_TRY(c.script(kSchemaTable));
  for (const auto& a : areas) {
    auto have = area_version(c, a.area);
    if (!have) return have.error();
    const int known = a.steps.empty() ? 0 : a.steps.back().version;
    if (*have > known) {
      return Error::invalid("database schema of area " + std::string(a.area) + " is version " +
                            std::to_string(*have) + ", newer than this program's " + std::to_string(known) +
                            ": refusing to touch it");
    }
    for (const auto& step : a.steps) {
      if (step.version <= *have) continue;
      LG_TRY(c.script("BEGIN"));
      Status s = c.script(step.sql);
      if (s) {
        auto v = c.q("INSERT INTO schema_migrations(area, version) VALUES ($1, $2) ON CONFLICT (area) DO UPDATE SET "
                     "version = excluded.version",
                     a.area, static_cast<int64_t>(step.version));
        if (!v) s = v.error();
      }
      if (s) s = c.script("COMMIT");
      if (!s) {
        (void)c.script("ROLLBACK");
        return Error{s.error().code, std::string(a.area) + " migration " + std::to_string(step.version) + " (" +
                                         std::string(step.name) + "): " + s.error().reason};
      }
    }
  }
  return {};
}

}  // namespace

Status migrate_areas(pg::Conn& c, std::span<const AreaSchema> areas) {
  LG_TRY(c.q("SELECT pg_advisory_lock($1)", kMigrationLock));
  Status s = migrate_locked(c, areas);
  auto u = c.q("SELECT pg_advisory_unlock($1)", kMigrationLock);
  if (!s) return s;
  if (!u) return u.error();
  return {};
}

PgDb::PgDb(PgOptions o) : opts_(std::move(o)) {
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  node_ = std::string(host) + ":" + std::to_string(::getpid()) + ":" + crypto::uuid4().substr(0, 8);
}

Result<std::unique_ptr<PgDb>> PgDb::open(const PgOptions& o, std::span<const AreaSchema> areas) {
  std::unique_ptr<PgDb> out(new PgDb(o));
  const pg::ConnectOptions co{o.conninfo, o.schema, "labgate-server"};
  auto first = pg::Conn::connect(co);
  if (!first) return first.error();
  LG_TRY(migrate_areas(**first, areas));
  out->spare_.push_back(std::move(first).value());
  for (std::size_t i = 1; i < o.connections; ++i) {
    auto more = pg::Conn::connect(co);
    if (!more) return more.error();
    out->spare_.push_back(std::move(more).value());
  }
  return out;
}

PgDb::Slot& PgDb::slot() {
  std::lock_guard lock(m_);
  auto& s = slots_[std::this_thread::get_id()];
  if (!s.conn) {
    if (!spare_.empty()) {
      s.conn = std::move(spare_.back());
      spare_.pop_back();
    } else {
      auto c = pg::Conn::connect(pg::ConnectOptions{opts_.conninfo, opts_.schema, "labgate-server"});
      // The first connection is opened by open(), which reports its failure; a later one only
      // fails when the server is gone or out of connections: fatal for this thread's work.
      if (!c) throw std::runtime_error(c.error().message());
      s.conn = std::move(c).value();
    }
    s.shard = node_ + "/" + std::to_string(next_slot_++);
  }
  return s;
}

pg::Conn& PgDb::conn() { return *slot().conn; }
const std::string& PgDb::shard() { return slot().shard; }

Status PgDb::attempt(pg::Conn& c, std::string_view begin, const std::function<Status()>& body) {
  if (!c.ok()) LG_TRY(c.reconnect());
  LG_TRY(c.script(std::string(begin)));
  Status s = body();
  if (s) s = c.script("COMMIT");
  if (!s && c.in_transaction()) (void)c.script("ROLLBACK");
  return s;
}

Status PgDb::run(const std::function<Status()>& body) { return run_serialized({}, body); }

Status PgDb::run_serialized(std::span<const std::string> keys, const std::function<Status()>& body) {
  pg::Conn& c = conn();
  if (c.in_transaction()) {
    // Inside an open unit of work (whose caller holds the locks): a savepoint, so that a failing
    // body undoes its own writes and leaves the enclosing work as it was. A serialization failure
    // is returned as it is: the enclosing unit of work runs again as a whole.
    LG_TRY(c.script("SAVEPOINT lg_nested"));
    Status s = body();
    if (!s) (void)c.script("ROLLBACK TO SAVEPOINT lg_nested");
    if (auto r = c.script("RELEASE SAVEPOINT lg_nested"); !r && s) return r;
    return s;
  }
  if (!c.ok()) LG_TRY(c.reconnect());
  std::vector<std::string> sorted(keys.begin(), keys.end());
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  // All the keys in one round trip each way (a group commit holds one per terminal, thousands in
  // a herd): unnest yields the sorted array in order and the locks are taken row by row in it.
  std::string keys_array;
  if (!sorted.empty()) {
    pg::ArrayLiteral a;
    for (const auto& k : sorted) a.add(k);
    keys_array = a.str();
    if (auto r = c.q("SELECT count(pg_advisory_lock(hashtextextended(k, 0))) FROM unnest($1::text[]) AS t(k)",
                     keys_array);
        !r) {
      // A statement that failed part way leaves the locks it took held by the session.
      (void)c.q("SELECT count(pg_advisory_unlock(hashtextextended(k, 0))) FROM unnest($1::text[]) AS t(k)",
                keys_array);
      return r.error();
    }
  }
  thread_local std::minstd_rand rng{std::random_device{}()};
  Status s;
  for (int i = 0; i < kAttempts; ++i) {
    s = attempt(c, sorted.empty() ? "BEGIN ISOLATION LEVEL SERIALIZABLE" : "BEGIN ISOLATION LEVEL REPEATABLE READ",
                body);
    if (s || !pg::is_retryable(s.error())) break;
    retries_.fetch_add(1, std::memory_order_relaxed);
    // Back off a little, at random, so two racing units of work do not collide again.
    const int cap = 1 << std::min(i, 6);
    std::this_thread::sleep_for(std::chrono::microseconds(200 * (1 + static_cast<int>(rng() % cap))));
  }
  if (!sorted.empty()) {
    (void)c.q("SELECT count(pg_advisory_unlock(hashtextextended(k, 0))) FROM unnest($1::text[]) AS t(k)",
              keys_array);
  }
  return s;
}

Status PgDb::with_lock(const std::string& key, const std::function<Status()>& fn) {
  pg::Conn& c = conn();
  if (c.in_transaction()) return Error::invalid("with_lock(" + key + ") inside a unit of work");
  if (!c.ok()) LG_TRY(c.reconnect());
  LG_TRY(c.q("SELECT pg_advisory_lock(hashtextextended($1, 0))", key));
  Status s = fn();
  (void)c.q("SELECT pg_advisory_unlock(hashtextextended($1, 0))", key);
  return s;
}

}  // namespace lg::server
