#include "server/terminals/sqlite_store.hpp"

#include <array>

#include "server/core/sqlite_util.hpp"

namespace lg::server::terminals {

using namespace sqlite;

namespace {

constexpr std::string_view kV1 = R"sql(
CREATE TABLE terminals (
  id TEXT PRIMARY KEY,
  resource TEXT NOT NULL REFERENCES instruments(id),
  public_key TEXT NOT NULL,
  enrolled_ms INTEGER NOT NULL,
  online INTEGER NOT NULL DEFAULT 0,
  boot INTEGER NOT NULL DEFAULT 0,
  firmware TEXT NOT NULL DEFAULT '',
  board TEXT NOT NULL DEFAULT '',
  acl_version INTEGER NOT NULL DEFAULT 0,
  outbox_depth INTEGER NOT NULL DEFAULT 0,
  clock_synced INTEGER NOT NULL DEFAULT 0,
  last_seen_ms INTEGER,
  acked_seq INTEGER NOT NULL DEFAULT 0,
  sync_version INTEGER NOT NULL DEFAULT 0,
  sync_hash TEXT NOT NULL DEFAULT '',
  sync_payload TEXT NOT NULL DEFAULT ''
);
)sql";

constexpr std::string_view kV2 = R"sql(
ALTER TABLE terminals ADD COLUMN retired_ms INTEGER;
)sql";

constexpr std::array<db::Migration, 2> kMigrations{{{1, "terminals", kV1}, {2, "terminals can be retired", kV2}}};

constexpr std::string_view kCols =
    "id, resource, public_key, online, boot, firmware, board, acl_version, sync_version, outbox_depth, "
    "clock_synced, acked_seq, last_seen_ms, retired_ms";

Terminal from(db::Statement& r) {
  Terminal t;
  t.id = r.column_text(0);
  t.resource = r.column_text(1);
  t.public_key = r.column_text(2);
  t.online = r.column_int64(3) != 0;
  t.boot = static_cast<uint64_t>(r.column_int64(4));
  t.firmware = r.column_text(5);
  t.board = r.column_text(6);
  t.acl_version = static_cast<uint64_t>(r.column_int64(7));
  t.sync_version = static_cast<uint64_t>(r.column_int64(8));
  t.outbox_depth = static_cast<uint64_t>(r.column_int64(9));
  t.clock_synced = r.column_int64(10) != 0;
  t.acked_seq = static_cast<uint64_t>(r.column_int64(11));
  t.last_seen_ms = opt_int(r, 12);
  t.retired_ms = opt_int(r, 13);
  return t;
}

}  // namespace

std::span<const db::Migration> migrations() { return kMigrations; }

Status SqliteStore::add(const Terminal& t, int64_t now_ms) {
  return db_.run([&]() -> Status {
    auto& d = db_.conn();
    LG_TRY(require_ref(d, "instruments", "resource", t.resource, "instrument"));
    LG_TRY(require_absent(d, "terminals", t.id, "terminal"));
    auto st = d.prepare("INSERT INTO terminals(id, resource, public_key, enrolled_ms) VALUES (?, ?, ?, ?)");
    if (!st) return st.error();
    st->bind(1, t.id).bind(2, t.resource).bind(3, t.public_key).bind(4, now_ms);
    return st->run();
  });
}

Result<PageOf<Terminal>> SqliteStore::list(const Page& p) {
  static const std::string select = "SELECT " + std::string(kCols) + " FROM terminals WHERE 1";
  const Keyset q = by_id(select);
  return read_all_page<Terminal>(db_.conn(), q, p, from);
}

Result<std::vector<Terminal>> SqliteStore::all() {
  auto q = db_.conn().prepare("SELECT " + std::string(kCols) + " FROM terminals ORDER BY id");
  if (!q) return q.error();
  std::vector<Terminal> out;
  if (auto s = each_row(*q, [&](db::Statement& r) { out.push_back(from(r)); }); !s) return s.error();
  return out;
}

Result<std::optional<Terminal>> SqliteStore::get(const std::string& id) {
  auto q = db_.conn().prepare("SELECT " + std::string(kCols) + " FROM terminals WHERE id = ?");
  if (!q) return q.error();
  q->bind(1, id);
  auto row = q->step();
  if (!row) return row.error();
  std::optional<Terminal> out;
  if (*row) out = from(*q);
  q->reset();
  return out;
}

Result<StateOutcome> SqliteStore::apply_state(const StateUpdate& u) {
  return transact<StateOutcome>(db_, [&]() -> Result<StateOutcome> {
    auto& d = db_.conn();
    auto q = d.prepare("SELECT boot, sync_version, online, firmware, board FROM terminals WHERE id = ?");
    if (!q) return q.error();
    q->bind(1, u.state.terminal);
    auto row = q->step();
    if (!row) return row.error();
    if (!*row) return domain_error(Errc::not_found, "terminal " + u.state.terminal + " is not enrolled");
    const auto current_boot = static_cast<uint64_t>(q->column_int64(0));
    StateOutcome out;
    out.sync_version = static_cast<uint64_t>(q->column_int64(1));
    out.changed = (q->column_int64(2) != 0) != u.state.online || current_boot != u.state.boot ||
                  q->column_text(3) != u.state.firmware || q->column_text(4) != u.state.board;
    q->reset();
    // A Last Will from an older connection (lower boot counter) arrives late: ignore it.
    if (!u.state.online && u.state.boot < current_boot) {
      out.changed = false;
      return out;
    }
    auto st = d.prepare(
        "UPDATE terminals SET online = ?, boot = ?, firmware = ?, board = ?, acl_version = ?, outbox_depth = ?, "
        "clock_synced = ?, last_seen_ms = ? WHERE id = ?");
    if (!st) return st.error();
    st->bind(1, b64(u.state.online)).bind(2, static_cast<int64_t>(u.state.boot)).bind(3, u.state.firmware);
    st->bind(4, u.state.board).bind(5, static_cast<int64_t>(u.state.acl_version));
    st->bind(6, static_cast<int64_t>(u.state.outbox_depth)).bind(7, b64(u.state.clock_synced));
    st->bind(8, u.seen_ms).bind(9, u.state.terminal);
    if (auto s = st->run(); !s) return s.error();
    out.applied = true;
    return out;
  });
}

Status SqliteStore::set_acked(const std::string& id, uint64_t acked_seq, int64_t seen_ms) {
  auto st = db_.conn().prepare(
      "UPDATE terminals SET acked_seq = max(acked_seq, ?), last_seen_ms = ? WHERE id = ?");
  if (!st) return st.error();
  st->bind(1, static_cast<int64_t>(acked_seq)).bind(2, seen_ms).bind(3, id);
  return st->run();
}

Result<Terminal> SqliteStore::retire(const std::string& id, int64_t now_ms) {
  Terminal out;
  auto s = db_.run([&]() -> Status {
    auto got = get(id);
    if (!got) return got.error();
    if (!*got) return domain_error(Errc::not_found, "terminal: no terminal '" + id + "'");
    out = **got;
    if (out.retired_ms) return domain_error(Errc::conflict, "terminal: '" + id + "' is retired already");
    auto st = db_.conn().prepare("UPDATE terminals SET retired_ms = ? WHERE id = ?");
    if (!st) return st.error();
    st->bind(1, now_ms).bind(2, id);
    return st->run();
  });
  if (!s) return s.error();
  return out;
}

}  // namespace lg::server::terminals
