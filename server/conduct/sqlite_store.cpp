#include "server/conduct/sqlite_store.hpp"

#include <array>

#include "server/conduct/rules.hpp"
#include "server/core/sqlite_util.hpp"

namespace lg::server::conduct {

using namespace sqlite;

namespace {

constexpr std::string_view kV1 = R"sql(
CREATE TABLE conduct_events (
  id TEXT PRIMARY KEY,
  user TEXT NOT NULL,
  instrument TEXT NOT NULL,
  booking TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('no_show', 'late_arrival', 'overtime', 'late_cancel')),
  at_ms INTEGER NOT NULL,
  points INTEGER NOT NULL CHECK (points >= 0),
  detail TEXT NOT NULL DEFAULT '',
  waived_ms INTEGER,
  waived_by TEXT NOT NULL DEFAULT '',
  waive_reason TEXT NOT NULL DEFAULT '',
  UNIQUE (booking, kind)
);
CREATE INDEX conduct_events_by_user ON conduct_events(user, at_ms);
CREATE INDEX conduct_events_by_at ON conduct_events(at_ms);
CREATE TABLE conduct_settled (
  booking TEXT PRIMARY KEY,
  settled_ms INTEGER NOT NULL
);
CREATE TABLE credit_blocks (
  user TEXT NOT NULL,
  from_ms INTEGER NOT NULL,
  until_ms INTEGER NOT NULL,
  score INTEGER NOT NULL,
  reason TEXT NOT NULL,
  lifted_ms INTEGER,
  end_notified INTEGER NOT NULL DEFAULT 0 CHECK (end_notified IN (0, 1)),
  PRIMARY KEY (user, from_ms),
  CHECK (until_ms > from_ms)
);
CREATE INDEX credit_blocks_open ON credit_blocks(until_ms) WHERE end_notified = 0;
)sql";

constexpr std::array<db::Migration, 1> kMigrations{{{1, "conduct events and credit blocks", kV1}}};

constexpr std::string_view kEventCols =
    "id, user, instrument, booking, kind, at_ms, points, detail, waived_ms, waived_by, waive_reason";

Event event_row(db::Statement& r) {
  Event e;
  e.id = r.column_text(0);
  e.user = r.column_text(1);
  e.instrument = r.column_text(2);
  e.booking = r.column_text(3);
  e.kind = kind_from(r.column_text(4)).value_or(Kind::no_show);
  e.at_ms = r.column_int64(5);
  e.points = static_cast<int32_t>(r.column_int64(6));
  e.detail = r.column_text(7);
  e.waived_ms = opt_int(r, 8);
  e.waived_by = r.column_text(9);
  e.waive_reason = r.column_text(10);
  return e;
}

constexpr std::string_view kBlockCols = "user, from_ms, until_ms, score, reason, lifted_ms, end_notified";

Block block_row(db::Statement& r) {
  Block b;
  b.user = r.column_text(0);
  b.from_ms = r.column_int64(1);
  b.until_ms = r.column_int64(2);
  b.score = static_cast<int32_t>(r.column_int64(3));
  b.reason = r.column_text(4);
  b.lifted_ms = opt_int(r, 5);
  b.end_notified = r.column_int64(6) != 0;
  return b;
}

}  // namespace

std::span<const db::Migration> migrations() { return kMigrations; }

Result<std::vector<BookingFacts>> SqliteStore::due(int64_t from_ms, int64_t to_ms, int32_t limit) {
  auto& d = db_.conn();
  auto q = d.prepare(
      "SELECT b.id, b.user, b.instrument, b.start_ms, b.end_ms, b.status, b.late_cancel, b.cancelled_ms FROM bookings b "
      "WHERE b.start_ms BETWEEN ? AND ? AND (b.status = 'active' OR (b.status = 'cancelled' AND b.late_cancel = 1)) "
      "AND NOT EXISTS (SELECT 1 FROM conduct_settled s WHERE s.booking = b.id) ORDER BY b.start_ms, b.id LIMIT ?");
  if (!q) return q.error();
  q->bind(1, from_ms).bind(2, to_ms).bind(3, int64_t{limit});
  std::vector<BookingFacts> out;
  if (auto s = each_row(*q, [&](db::Statement& r) {
        BookingFacts f;
        f.booking = r.column_text(0);
        f.user = r.column_text(1);
        f.instrument = r.column_text(2);
        f.start_ms = r.column_int64(3);
        f.end_ms = r.column_int64(4);
        f.cancelled = r.column_text(5) == "cancelled";
        f.late_cancel = r.column_int64(6) != 0;
        f.cancelled_ms = opt_int(r, 7);
        out.push_back(std::move(f));
      });
      !s)
    return s.error();
  auto sessions = d.prepare(
      "SELECT start_ms, end_ms FROM usage_sessions WHERE resource = ? AND user = ? AND start_ms < ? "
      "AND (end_ms IS NULL OR end_ms > ?) ORDER BY start_ms");
  if (!sessions) return sessions.error();
  for (auto& f : out) {
    if (f.cancelled) continue;
    sessions->bind(1, f.instrument).bind(2, f.user).bind(3, f.end_ms).bind(4, f.start_ms - int64_t{86400} * 1000);
    if (auto s = each_row(*sessions, [&](db::Statement& r) {
          f.sessions.push_back(BookingFacts::Session{r.column_int64(0), opt_int(r, 1)});
        });
        !s)
      return s.error();
    sessions->reset();
  }
  return out;
}

Status SqliteStore::settle(const std::string& booking, int64_t now_ms) {
  auto st = db_.conn().prepare("INSERT OR IGNORE INTO conduct_settled(booking, settled_ms) VALUES (?, ?)");
  if (!st) return st.error();
  st->bind(1, booking).bind(2, now_ms);
  return st->run();
}

Result<bool> SqliteStore::insert(const Event& e) {
  auto st = db_.conn().prepare("INSERT OR IGNORE INTO conduct_events(" + std::string(kEventCols) +
                               ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  if (!st) return st.error();
  st->bind(1, e.id).bind(2, e.user).bind(3, e.instrument).bind(4, e.booking).bind(5, std::string(to_string(e.kind)));
  st->bind(6, e.at_ms).bind(7, int64_t{e.points}).bind(8, e.detail).bind(9, e.waived_ms).bind(10, e.waived_by);
  st->bind(11, e.waive_reason);
  LG_TRY(st->run());
  return db_.conn().changes() > 0;
}

Status SqliteStore::update(const Event& e) {
  auto st = db_.conn().prepare("UPDATE conduct_events SET waived_ms = ?, waived_by = ?, waive_reason = ? WHERE id = ?");
  if (!st) return st.error();
  st->bind(1, e.waived_ms).bind(2, e.waived_by).bind(3, e.waive_reason).bind(4, e.id);
  LG_TRY(st->run());
  if (db_.conn().changes() == 0) return domain_error(Errc::not_found, "conduct event: no event '" + e.id + "'");
  return {};
}

Result<std::vector<Event>> SqliteStore::events_where(const std::string& where,
                                                     const std::function<void(db::Statement&)>& bind) {
  auto q = db_.conn().prepare("SELECT " + std::string(kEventCols) + " FROM conduct_events WHERE " + where);
  if (!q) return q.error();
  bind(*q);
  std::vector<Event> out;
  if (auto s = each_row(*q, [&](db::Statement& r) { out.push_back(event_row(r)); }); !s) return s.error();
  return out;
}

Result<std::optional<Event>> SqliteStore::get(const std::string& id) {
  auto rows = events_where("id = ?", [&](db::Statement& q) { q.bind(1, id); });
  if (!rows) return rows.error();
  if (rows->empty()) return std::optional<Event>{};
  return std::optional<Event>{rows->front()};
}

Result<std::vector<Event>> SqliteStore::of_user(const std::string& user) {
  return events_where("user = ? ORDER BY at_ms DESC, id", [&](db::Statement& q) { q.bind(1, user); });
}

Result<std::vector<Event>> SqliteStore::of_booking(const std::string& booking) {
  return events_where("booking = ? ORDER BY kind", [&](db::Statement& q) { q.bind(1, booking); });
}

Result<std::vector<Event>> SqliteStore::recent(const std::string& instrument, int64_t from_ms, int64_t to_ms,
                                               int32_t limit) {
  return events_where("at_ms >= ? AND at_ms < ? AND (? = '' OR instrument = ?) ORDER BY at_ms DESC, id LIMIT ?",
                      [&](db::Statement& q) {
                        q.bind(1, from_ms).bind(2, to_ms).bind(3, instrument).bind(4, instrument).bind(5, int64_t{limit});
                      });
}

Status SqliteStore::add_block(const Block& b) {
  auto st = db_.conn().prepare("INSERT INTO credit_blocks(" + std::string(kBlockCols) + ") VALUES (?, ?, ?, ?, ?, ?, ?)");
  if (!st) return st.error();
  st->bind(1, b.user).bind(2, b.from_ms).bind(3, b.until_ms).bind(4, int64_t{b.score}).bind(5, b.reason);
  st->bind(6, b.lifted_ms).bind(7, int64_t{b.end_notified ? 1 : 0});
  return st->run();
}

Result<std::optional<Block>> SqliteStore::latest_block(const std::string& user) {
  auto q = db_.conn().prepare("SELECT " + std::string(kBlockCols) +
                              " FROM credit_blocks WHERE user = ? ORDER BY from_ms DESC LIMIT 1");
  if (!q) return q.error();
  q->bind(1, user);
  auto row = q->step();
  if (!row) return row.error();
  std::optional<Block> out;
  if (*row) out = block_row(*q);
  q->reset();
  return out;
}

Status SqliteStore::update_block(const Block& b) {
  auto st = db_.conn().prepare("UPDATE credit_blocks SET lifted_ms = ?, end_notified = ? WHERE user = ? AND from_ms = ?");
  if (!st) return st.error();
  st->bind(1, b.lifted_ms).bind(2, int64_t{b.end_notified ? 1 : 0}).bind(3, b.user).bind(4, b.from_ms);
  LG_TRY(st->run());
  if (db_.conn().changes() == 0) return domain_error(Errc::not_found, "credit block: none of " + b.user);
  return {};
}

Result<std::vector<Block>> SqliteStore::ended_unnotified(int64_t now_ms, int32_t limit) {
  auto q = db_.conn().prepare("SELECT " + std::string(kBlockCols) +
                              " FROM credit_blocks WHERE end_notified = 0 AND (until_ms <= ? OR lifted_ms IS NOT NULL) "
                              "ORDER BY until_ms LIMIT ?");
  if (!q) return q.error();
  q->bind(1, now_ms).bind(2, int64_t{limit});
  std::vector<Block> out;
  if (auto s = each_row(*q, [&](db::Statement& r) { out.push_back(block_row(r)); }); !s) return s.error();
  return out;
}

Result<std::vector<std::string>> SqliteStore::site_admins() {
  auto q = db_.conn().prepare("SELECT id FROM users WHERE admin = 1 AND status = 'active' ORDER BY id");
  if (!q) return q.error();
  std::vector<std::string> out;
  if (auto s = each_row(*q, [&](db::Statement& r) { out.push_back(r.column_text(0)); }); !s) return s.error();
  return out;
}

}  // namespace lg::server::conduct
