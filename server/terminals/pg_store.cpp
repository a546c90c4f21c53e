#include "server/terminals/pg_store.hpp"

#include <array>

#include "server/core/pg_util.hpp"

namespace lg::server::terminals {

using namespace pgsql;

namespace {

constexpr std::string_view kV1 = R"sql(
CREATE TABLE terminals (
  id TEXT PRIMARY KEY,
  resource TEXT NOT NULL REFERENCES instruments(id),
  public_key TEXT NOT NULL,
  enrolled_ms BIGINT NOT NULL,
  online BOOLEAN NOT NULL DEFAULT false,
  boot BIGINT NOT NULL DEFAULT 0,
  firmware TEXT NOT NULL DEFAULT '',
  board TEXT NOT NULL DEFAULT '',
  acl_version BIGINT NOT NULL DEFAULT 0,
  outbox_depth BIGINT NOT NULL DEFAULT 0,
  clock_synced BOOLEAN NOT NULL DEFAULT false,
  last_seen_ms BIGINT,
  acked_seq BIGINT NOT NULL DEFAULT 0,
  sync_version BIGINT NOT NULL DEFAULT 0,
  sync_hash TEXT NOT NULL DEFAULT '',
  sync_payload TEXT NOT NULL DEFAULT ''
);
)sql";

constexpr std::string_view kV2 = R"sql(
ALTER TABLE terminals ADD COLUMN retired_ms BIGINT;
)sql";

constexpr std::array<db::Migration, 2> kMigrations{{{1, "terminals", kV1}, {2, "terminals can be retired", kV2}}};

constexpr std::string_view kCols =
    "id, resource, public_key, online, boot, firmware, board, acl_version, sync_version, outbox_depth, "
    "clock_synced, acked_seq, last_seen_ms, retired_ms";

Terminal from(const pg::Rows& r, int i) {
  Terminal t;
  t.id = r.text(i, 0);
  t.resource = r.text(i, 1);
  t.public_key = r.text(i, 2);
  t.online = r.boolean(i, 3);
  t.boot = static_cast<uint64_t>(r.i64(i, 4));
  t.firmware = r.text(i, 5);
  t.board = r.text(i, 6);
  t.acl_version = static_cast<uint64_t>(r.i64(i, 7));
  t.sync_version = static_cast<uint64_t>(r.i64(i, 8));
  t.outbox_depth = static_cast<uint64_t>(r.i64(i, 9));
  t.clock_synced = r.boolean(i, 10);
  t.acked_seq = static_cast<uint64_t>(r.i64(i, 11));
  t.last_seen_ms = r.opt_i64(i, 12);
  t.retired_ms = r.opt_i64(i, 13);
  return t;
}

}  // namespace

std::span<const db::Migration> pg_migrations() { return kMigrations; }

Status PgStore::add(const Terminal& t, int64_t now_ms) {
  return db_.run([&]() -> Status {
    auto& c = db_.conn();
    LG_TRY(require_ref(c, "instruments", "resource", t.resource, "instrument"));
    LG_TRY(require_absent(c, "terminals", t.id, "terminal"));
    return done(c.q("INSERT INTO terminals(id, resource, public_key, enrolled_ms) VALUES ($1, $2, $3, $4)", t.id,
                    t.resource, t.public_key, now_ms));
  });
}

Result<PageOf<Terminal>> PgStore::list(const Page& p) {
  static const std::string select = "SELECT " + std::string(kCols) + " FROM terminals WHERE true";
  const Keyset q = by_id(select);
  return read_all_page<Terminal>(db_.conn(), q, p, from);
}

Result<std::vector<Terminal>> PgStore::all() {
  auto r = db_.conn().q("SELECT " + std::string(kCols) + " FROM terminals ORDER BY id");
  if (!r) return r.error();
  std::vector<Terminal> out;
  out.reserve(static_cast<std::size_t>(r->size()));
  for (int i = 0; i < r->size(); ++i) out.push_back(from(*r, i));
  return out;
}

Result<std::optional<Terminal>> PgStore::get(const std::string& id) {
  auto r = db_.conn().q("SELECT " + std::string(kCols) + " FROM terminals WHERE id = $1", id);
  if (!r) return r.error();
  std::optional<Terminal> out;
  if (!r->empty()) out = from(*r, 0);
  return out;
}

Result<StateOutcome> PgStore::apply_state(const StateUpdate& u) {
  const std::string key = lock_key(u.state.terminal);  // queues behind an evt group holding this terminal
  return transact_serialized<StateOutcome>(db_, std::span(&key, 1), [&]() -> Result<StateOutcome> {
    auto& c = db_.conn();
    auto r = c.q("SELECT boot, sync_version, online, firmware, board FROM terminals WHERE id = $1 FOR UPDATE",
                 u.state.terminal);
    if (!r) return r.error();
    if (r->empty()) return domain_error(Errc::not_found, "terminal " + u.state.terminal + " is not enrolled");
    const auto current_boot = static_cast<uint64_t>(r->i64(0, 0));
    StateOutcome out;
    out.sync_version = static_cast<uint64_t>(r->i64(0, 1));
    out.changed = r->boolean(0, 2) != u.state.online || current_boot != u.state.boot ||
                  r->text(0, 3) != u.state.firmware || r->text(0, 4) != u.state.board;
    // A Last Will from an older connection (lower boot counter) arrives late: ignore it.
    if (!u.state.online && u.state.boot < current_boot) {
      out.changed = false;
      return out;
    }
    LG_TRY(done(c.q("UPDATE terminals SET online = $1, boot = $2, firmware = $3, board = $4, acl_version = $5, "
                    "outbox_depth = $6, clock_synced = $7, last_seen_ms = $8 WHERE id = $9",
                    u.state.online, static_cast<int64_t>(u.state.boot), u.state.firmware, u.state.board,
                    static_cast<int64_t>(u.state.acl_version), static_cast<int64_t>(u.state.outbox_depth),
                    u.state.clock_synced, u.seen_ms, u.state.terminal)));
    out.applied = true;
    return out;
  });
}

Status PgStore::set_acked(const std::string& id, uint64_t acked_seq, int64_t seen_ms) {
  return done(db_.conn().q("UPDATE terminals SET acked_seq = GREATEST(acked_seq, $1), last_seen_ms = $2 WHERE id = $3",
                           static_cast<int64_t>(acked_seq), seen_ms, id));
}

Result<Terminal> PgStore::retire(const std::string& id, int64_t now_ms) {
  Terminal out;
  auto s = db_.run([&]() -> Status {
    auto r = db_.conn().q("SELECT " + std::string(kCols) + " FROM terminals WHERE id = $1 FOR UPDATE", id);
    if (!r) return r.error();
    if (r->empty()) return domain_error(Errc::not_found, "terminal: no terminal '" + id + "'");
    out = from(*r, 0);
    if (out.retired_ms) return domain_error(Errc::conflict, "terminal: '" + id + "' is retired already");
    return done(db_.conn().q("UPDATE terminals SET retired_ms = $1 WHERE id = $2", now_ms, id));
  });
  if (!s) return s.error();
  return out;
}

}  // namespace lg::server::terminals
