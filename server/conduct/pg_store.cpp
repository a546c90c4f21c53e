#include "server/conduct/pg_store.hpp"

#include <array>

#include "server/conduct/rules.hpp"
#include "server/core/pg_util.hpp"

namespace lg::server::conduct {

using namespace pgsql;

namespace {

constexpr std::string_view kV1 = R"sql(
CREATE TABLE conduct_events (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  instrument TEXT NOT NULL,
  booking TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('no_show', 'late_arrival', 'overtime', 'late_cancel')),
  at_ms BIGINT NOT NULL,
  points INTEGER NOT NULL CHECK (points >= 0),
  detail TEXT NOT NULL DEFAULT '',
  waived_ms BIGINT,
  waived_by TEXT NOT NULL DEFAULT '',
  waive_reason TEXT NOT NULL DEFAULT '',
  UNIQUE (booking, kind)
);
CREATE INDEX conduct_events_by_user ON conduct_events(user_id, at_ms);
CREATE INDEX conduct_events_by_at ON conduct_events(at_ms);
CREATE TABLE conduct_settled (
  booking TEXT PRIMARY KEY,
  settled_ms BIGINT NOT NULL
);
CREATE TABLE credit_blocks (
  user_id TEXT NOT NULL,
  from_ms BIGINT NOT NULL,
  until_ms BIGINT NOT NULL,
  score INTEGER NOT NULL,
  reason TEXT NOT NULL,
  lifted_ms BIGINT,
  end_notified BOOLEAN NOT NULL DEFAULT false,
  PRIMARY KEY (user_id, from_ms),
  CHECK (until_ms > from_ms)
);
CREATE INDEX credit_blocks_open ON credit_blocks(until_ms) WHERE NOT end_notified;
)sql";

constexpr std::array<db::Migration, 1> kMigrations{{{1, "conduct events and credit blocks", kV1}}};

constexpr std::string_view kEventCols =
    "id, user_id, instrument, booking, kind, at_ms, points, detail, waived_ms, waived_by, waive_reason";

Event event_row(const pg::Rows& r, int i) {
  Event e;
  e.id = r.text(i, 0);
  e.user = r.text(i, 1);
  e.instrument = r.text(i, 2);
  e.booking = r.text(i, 3);
  e.kind = kind_from(r.text(i, 4)).value_or(Kind::no_show);
  e.at_ms = r.i64(i, 5);
  e.points = static_cast<int32_t>(r.i64(i, 6));
  e.detail = r.text(i, 7);
  e.waived_ms = r.opt_i64(i, 8);
  e.waived_by = r.text(i, 9);
  e.waive_reason = r.text(i, 10);
  return e;
}

std::vector<Event> events_of(const pg::Rows& r) {
  std::vector<Event> out;
  for (int i = 0; i < r.size(); ++i) out.push_back(event_row(r, i));
  return out;
}

constexpr std::string_view kBlockCols = "user_id, from_ms, until_ms, score, reason, lifted_ms, end_notified";

Block block_row(const pg::Rows& r, int i) {
  Block b;
  b.user = r.text(i, 0);
  b.from_ms = r.i64(i, 1);
  b.until_ms = r.i64(i, 2);
  b.score = static_cast<int32_t>(r.i64(i, 3));
  b.reason = r.text(i, 4);
  b.lifted_ms = r.opt_i64(i, 5);
  b.end_notified = r.boolean(i, 6);
  return b;
}

}  // namespace

std::span<const db::Migration> pg_migrations() { return kMigrations; }

Result<std::vector<BookingFacts>> PgStore::due(int64_t from_ms, int64_t to_ms, int32_t limit) {
  auto& c = db_.conn();
  auto r = c.q(
      "SELECT b.id, b.user_id, b.instrument, b.start_ms, b.end_ms, b.status, b.late_cancel, b.cancelled_ms "
      "FROM bookings b WHERE b.start_ms BETWEEN $1 AND $2 "
      "AND (b.status = 'active' OR (b.status = 'cancelled' AND b.late_cancel)) "
      "AND NOT EXISTS (SELECT 1 FROM conduct_settled s WHERE s.booking = b.id) ORDER BY b.start_ms, b.id LIMIT $3",
      from_ms, to_ms, int64_t{limit});
  if (!r) return r.error();
  std::vector<BookingFacts> out;
  for (int i = 0; i < r->size(); ++i) {
    BookingFacts f;
    f.booking = r->text(i, 0);
    f.user = r->text(i, 1);
    f.instrument = r->text(i, 2);
    f.start_ms = r->i64(i, 3);
    f.end_ms = r->i64(i, 4);
    f.cancelled = r->text(i, 5) == "cancelled";
    f.late_cancel = r->boolean(i, 6);
    f.cancelled_ms = r->opt_i64(i, 7);
    if (!f.cancelled) {
      auto s = c.q("SELECT start_ms, end_ms FROM usage_sessions WHERE resource = $1 AND user_id = $2 AND start_ms < $3 "
                   "AND (end_ms IS NULL OR end_ms > $4) ORDER BY start_ms",
                   f.instrument, f.user, f.end_ms, f.start_ms - int64_t{86400} * 1000);
      if (!s) return s.error();
      for (int j = 0; j < s->size(); ++j) f.sessions.push_back(BookingFacts::Session{s->i64(j, 0), s->opt_i64(j, 1)});
    }
    out.push_back(std::move(f));
  }
  return out;
}

Status PgStore::settle(const std::string& booking, int64_t now_ms) {
  return done(db_.conn().q("INSERT INTO conduct_settled(booking, settled_ms) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                           booking, now_ms));
}

Result<bool> PgStore::insert(const Event& e) {
  auto r = db_.conn().q("INSERT INTO conduct_events(" + std::string(kEventCols) +
                            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (booking, kind) DO NOTHING",
                        e.id, e.user, e.instrument, e.booking, std::string(to_string(e.kind)), e.at_ms,
                        int64_t{e.points}, e.detail, e.waived_ms, e.waived_by, e.waive_reason);
  if (!r) return r.error();
  return r->affected() > 0;
}

Status PgStore::update(const Event& e) {
  auto r = db_.conn().q("UPDATE conduct_events SET waived_ms = $1, waived_by = $2, waive_reason = $3 WHERE id = $4",
                        e.waived_ms, e.waived_by, e.waive_reason, e.id);
  if (!r) return r.error();
  if (r->affected() == 0) return domain_error(Errc::not_found, "conduct event: no event '" + e.id + "'");
  return {};
}

Result<std::optional<Event>> PgStore::get(const std::string& id) {
  auto r = db_.conn().q("SELECT " + std::string(kEventCols) + " FROM conduct_events WHERE id = $1", id);
  if (!r) return r.error();
  if (r->empty()) return std::optional<Event>{};
  return std::optional<Event>{event_row(*r, 0)};
}

Result<std::vector<Event>> PgStore::of_user(const std::string& user) {
  auto r = db_.conn().q("SELECT " + std::string(kEventCols) + " FROM conduct_events WHERE user_id = $1 "
                        "ORDER BY at_ms DESC, id", user);
  if (!r) return r.error();
  return events_of(*r);
}

Result<std::vector<Event>> PgStore::of_booking(const std::string& booking) {
  auto r = db_.conn().q("SELECT " + std::string(kEventCols) + " FROM conduct_events WHERE booking = $1 ORDER BY kind",
                        booking);
  if (!r) return r.error();
  return events_of(*r);
}

Result<std::vector<Event>> PgStore::recent(const std::string& instrument, int64_t from_ms, int64_t to_ms,
                                           int32_t limit) {
  auto r = db_.conn().q("SELECT " + std::string(kEventCols) +
                            " FROM conduct_events WHERE at_ms >= $1 AND at_ms < $2 AND ($3 = '' OR instrument = $3) "
                            "ORDER BY at_ms DESC, id LIMIT $4",
                        from_ms, to_ms, instrument, int64_t{limit});
  if (!r) return r.error();
  return events_of(*r);
}

Status PgStore::add_block(const Block& b) {
  return done(db_.conn().q("INSERT INTO credit_blocks(" + std::string(kBlockCols) +
                               ") VALUES ($1, $2, $3, $4, $5, $6, $7)",
                           b.user, b.from_ms, b.until_ms, int64_t{b.score}, b.reason, b.lifted_ms, b.end_notified));
}

Result<std::optional<Block>> PgStore::latest_block(const std::string& user) {
  auto r = db_.conn().q("SELECT " + std::string(kBlockCols) +
                            " FROM credit_blocks WHERE user_id = $1 ORDER BY from_ms DESC LIMIT 1",
                        user);
  if (!r) return r.error();
  if (r->empty()) return std::optional<Block>{};
  return std::optional<Block>{block_row(*r, 0)};
}

Status PgStore::update_block(const Block& b) {
  auto r = db_.conn().q("UPDATE credit_blocks SET lifted_ms = $1, end_notified = $2 WHERE user_id = $3 AND from_ms = $4",
                        b.lifted_ms, b.end_notified, b.user, b.from_ms);
  if (!r) return r.error();
  if (r->affected() == 0) return domain_error(Errc::not_found, "credit block: none of " + b.user);
  return {};
}

Result<std::vector<Block>> PgStore::ended_unnotified(int64_t now_ms, int32_t limit) {
  auto r = db_.conn().q("SELECT " + std::string(kBlockCols) +
                            " FROM credit_blocks WHERE NOT end_notified AND (until_ms <= $1 OR lifted_ms IS NOT NULL) "
                            "ORDER BY until_ms LIMIT $2",
                        now_ms, int64_t{limit});
  if (!r) return r.error();
  std::vector<Block> out;
  for (int i = 0; i < r->size(); ++i) out.push_back(block_row(*r, i));
  return out;
}

Result<std::vector<std::string>> PgStore::site_admins() {
  auto r = db_.conn().q("SELECT id FROM users WHERE admin AND status = 'active' ORDER BY id");
  if (!r) return r.error();
  std::vector<std::string> out;
  for (int i = 0; i < r->size(); ++i) out.push_back(r->text(i, 0));
  return out;
}

}  // namespace lg::server::conduct
