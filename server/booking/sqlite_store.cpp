#include "server/booking/sqlite_store.hpp"

#include <array>

#include "server/core/sqlite_util.hpp"

namespace lg::server::booking {

using namespace sqlite;

namespace {

constexpr std::string_view kV1 = R"sql(
CREATE TABLE bookings (
  id TEXT PRIMARY KEY,
  instrument TEXT NOT NULL REFERENCES instruments(id),
  user TEXT NOT NULL REFERENCES users(id),
  start_ms INTEGER NOT NULL,
  end_ms INTEGER NOT NULL,
  created_ms INTEGER NOT NULL,
  CHECK (end_ms > start_ms)
);
CREATE INDEX bookings_by_instrument ON bookings(instrument, end_ms);
CREATE INDEX bookings_by_start ON bookings(start_ms, id);
)sql";

// A booking is cancelled rather than deleted: kept with when and why, it overlaps nothing.
constexpr std::string_view kV2 = R"sql(
ALTER TABLE bookings ADD COLUMN status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'cancelled'));
ALTER TABLE bookings ADD COLUMN cancelled_ms INTEGER;
ALTER TABLE bookings ADD COLUMN cancel_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE bookings ADD COLUMN updated_ms INTEGER;
)sql";

// Booking policies and closures; bookings may wait for approval (pending, holding their slot until
// hold_until_ms), be refused or expire, name the account to charge and who made them, and record a
// late cancellation. SQLite cannot change a CHECK in place: the table is copied.
constexpr std::string_view kV3 = R"sql(
CREATE TABLE bookings_v3 (
  id TEXT PRIMARY KEY,
  instrument TEXT NOT NULL REFERENCES instruments(id),
  user TEXT NOT NULL REFERENCES users(id),
  start_ms INTEGER NOT NULL,
  end_ms INTEGER NOT NULL,
  created_ms INTEGER NOT NULL,
  status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'cancelled', 'pending', 'refused', 'expired')),
  cancelled_ms INTEGER,
  cancel_reason TEXT NOT NULL DEFAULT '',
  updated_ms INTEGER,
  account TEXT NOT NULL DEFAULT '',
  booked_by TEXT NOT NULL DEFAULT '',
  hold_until_ms INTEGER,
  late_cancel INTEGER NOT NULL DEFAULT 0 CHECK (late_cancel IN (0, 1)),
  CHECK (end_ms > start_ms),
  CHECK ((status = 'pending') = (hold_until_ms IS NOT NULL))
);
INSERT INTO bookings_v3(id, instrument, user, start_ms, end_ms, created_ms, status, cancelled_ms, cancel_reason, updated_ms)
  SELECT id, instrument, user, start_ms, end_ms, created_ms, status, cancelled_ms, cancel_reason, updated_ms FROM bookings;
DROP TABLE bookings;
ALTER TABLE bookings_v3 RENAME TO bookings;
CREATE INDEX bookings_by_instrument ON bookings(instrument, end_ms);
CREATE INDEX bookings_by_start ON bookings(start_ms, id);
CREATE INDEX bookings_pending ON bookings(hold_until_ms) WHERE status = 'pending';
CREATE TABLE booking_policies (
  instrument TEXT PRIMARY KEY REFERENCES instruments(id),
  opening TEXT,
  lead_min_s INTEGER NOT NULL,
  lead_max_s INTEGER NOT NULL,
  min_length_s INTEGER NOT NULL,
  max_length_s INTEGER NOT NULL,
  slot_s INTEGER NOT NULL,
  user_week_bookings INTEGER NOT NULL,
  user_week_s INTEGER NOT NULL,
  group_week_bookings INTEGER NOT NULL,
  group_week_s INTEGER NOT NULL,
  external_share_pct INTEGER NOT NULL CHECK (external_share_pct BETWEEN 0 AND 100),
  internal_priority TEXT NOT NULL,
  approval TEXT NOT NULL CHECK (approval IN ('none', 'all', 'external')),
  approval_hold_s INTEGER NOT NULL,
  cancel_free_s INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL
);
CREATE TABLE booking_closures (
  id TEXT PRIMARY KEY,
  instrument TEXT REFERENCES instruments(id),
  kind TEXT NOT NULL CHECK (kind IN ('holiday', 'blackout', 'maintenance')),
  start_ms INTEGER NOT NULL,
  end_ms INTEGER NOT NULL,
  reason TEXT NOT NULL DEFAULT '',
  created_ms INTEGER NOT NULL,
  CHECK (end_ms > start_ms)
);
CREATE INDEX booking_closures_by_end ON booking_closures(end_ms);
)sql";

// Staffed bookings, staffed hours and the lapse of unused qualifications (issue 10, levels).
constexpr std::string_view kV4 = R"sql(
ALTER TABLE bookings ADD COLUMN staffed INTEGER NOT NULL DEFAULT 0 CHECK (staffed IN (0, 1));
ALTER TABLE booking_policies ADD COLUMN staffed TEXT;
ALTER TABLE booking_policies ADD COLUMN lapse_months INTEGER NOT NULL DEFAULT 0 CHECK (lapse_months BETWEEN 0 AND 120);
)sql";

// Calendar feeds behind a secret URL (issue 10, "Notices and calendars").
constexpr std::string_view kV5 = R"sql(
CREATE TABLE booking_feed_tokens (
  hash TEXT PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('user', 'instrument')),
  subject TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  UNIQUE (kind, subject)
);
CREATE INDEX bookings_by_user ON bookings(user, start_ms);
)sql";

// Waiting lists (issue 10): a taken interval's queue, promoted when a booking frees it.
constexpr std::string_view kV6 = R"sql(
CREATE TABLE booking_waitlist (
  id TEXT PRIMARY KEY,
  instrument TEXT NOT NULL REFERENCES instruments(id),
  user TEXT NOT NULL REFERENCES users(id),
  start_ms INTEGER NOT NULL,
  end_ms INTEGER NOT NULL,
  account TEXT NOT NULL DEFAULT '',
  booked_by TEXT NOT NULL DEFAULT '',
  created_ms INTEGER NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('waiting', 'promoted', 'withdrawn', 'expired')),
  booking TEXT NOT NULL DEFAULT '',
  decided_ms INTEGER,
  CHECK (end_ms > start_ms)
);
CREATE INDEX booking_waitlist_waiting ON booking_waitlist(instrument, start_ms) WHERE status = 'waiting';
)sql";

constexpr std::array<db::Migration, 6> kMigrations{
    {{1, "bookings", kV1},
     {2, "bookings are cancelled and moved, not deleted", kV2},
     {3, "booking policies, closures, approval, accounts", kV3},
     {4, "staffed bookings and hours, qualification lapse", kV4},
     {5, "calendar feed tokens", kV5},
     {6, "waiting lists", kV6}}};

constexpr std::string_view kPolicyCols =
    "instrument, opening, lead_min_s, lead_max_s, min_length_s, max_length_s, slot_s, user_week_bookings, user_week_s, "
    "group_week_bookings, group_week_s, external_share_pct, internal_priority, approval, approval_hold_s, cancel_free_s, "
    "staffed, lapse_months";

Result<BookingPolicy> policy_row(db::Statement& r) {
  BookingPolicy p;
  p.instrument = r.column_text(0);
  if (!r.column_is_null(1)) {
    WeekHours w;
    if (auto why = parse_week_hours(r.column_text(1), w))
      return Error::invalid("booking policy of " + p.instrument + ": opening: " + *why);
    p.opening = w;
  }
  p.lead_min_s = r.column_int64(2);
  p.lead_max_s = r.column_int64(3);
  p.min_length_s = r.column_int64(4);
  p.max_length_s = r.column_int64(5);
  p.slot_s = r.column_int64(6);
  p.user_week_bookings = static_cast<int32_t>(r.column_int64(7));
  p.user_week_s = r.column_int64(8);
  p.group_week_bookings = static_cast<int32_t>(r.column_int64(9));
  p.group_week_s = r.column_int64(10);
  p.external_share_pct = static_cast<int32_t>(r.column_int64(11));
  if (auto why = parse_week_hours(r.column_text(12), p.internal_priority))
    return Error::invalid("booking policy of " + p.instrument + ": internal_priority: " + *why);
  p.approval = approval_from(r.column_text(13)).value_or(Approval::none);
  p.approval_hold_s = r.column_int64(14);
  p.cancel_free_s = r.column_int64(15);
  if (!r.column_is_null(16)) {
    WeekHours w;
    if (auto why = parse_week_hours(r.column_text(16), w))
      return Error::invalid("booking policy of " + p.instrument + ": staffed: " + *why);
    p.staffed = w;
  }
  p.lapse_months = static_cast<int32_t>(r.column_int64(17));
  return p;
}

constexpr std::string_view kClosureCols = "id, instrument, kind, start_ms, end_ms, reason";

Closure closure_row(db::Statement& r) {
  Closure c;
  c.id = r.column_text(0);
  c.instrument = r.column_is_null(1) ? std::string() : r.column_text(1);
  c.kind = closure_kind_from(r.column_text(2)).value_or(ClosureKind::blackout);
  c.start_ms = r.column_int64(3);
  c.end_ms = r.column_int64(4);
  c.reason = r.column_text(5);
  return c;
}


}  // namespace

std::span<const db::Migration> migrations() { return kMigrations; }

namespace rows {
Booking booking(db::Statement& r) {
  Booking b{r.column_text(0), r.column_text(1), r.column_text(2), r.column_int64(3), r.column_int64(4)};
  b.status = booking_status_from(r.column_text(5)).value_or(BookingStatus::active);
  b.cancelled_ms = opt_int(r, 6);
  b.cancel_reason = r.column_text(7);
  b.account = r.column_text(8);
  b.booked_by = r.column_text(9);
  b.hold_until_ms = opt_int(r, 10);
  b.late_cancel = r.column_int64(11) != 0;
  b.staffed = r.column_int64(12) != 0;
  return b;
}
}  // namespace rows

Status SqliteStore::insert(const Booking& b, int64_t now_ms) {
  auto ins = db_.conn().prepare(
      "INSERT INTO bookings(id, instrument, user, start_ms, end_ms, created_ms, status, account, booked_by, hold_until_ms, "
      "staffed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  if (!ins) return ins.error();
  ins->bind(1, b.id).bind(2, b.instrument).bind(3, b.user).bind(4, b.start_ms).bind(5, b.end_ms).bind(6, now_ms);
  ins->bind(7, std::string(to_string(b.status))).bind(8, b.account).bind(9, b.booked_by).bind(10, b.hold_until_ms);
  ins->bind(11, int64_t{b.staffed ? 1 : 0});
  if (auto s = ins->run(); !s) {
    if (db::is_constraint(s.error())) return domain_error(Errc::conflict, "id: booking " + b.id + " already exists");
    return s.error();
  }
  return {};
}

Result<PageOf<Booking>> SqliteStore::list(const Page& p) {
  static constexpr Keyset q{
      "SELECT id, instrument, user, start_ms, end_ms, status, cancelled_ms, cancel_reason, account, booked_by, "
      "hold_until_ms, late_cancel, staffed, start_ms, id FROM bookings WHERE 1",
      13,
                            "(start_ms, id)", "is", false, "ORDER BY start_ms, id"};
  return read_all_page<Booking>(db_.conn(), q, p, rows::booking);
}

Result<std::vector<Booking>> SqliteStore::overlapping(const std::string& instrument, int64_t from_ms, int64_t to_ms) {
  auto q = db_.conn().prepare("SELECT " + std::string(rows::kCols) +
                              " FROM bookings WHERE instrument = ? AND end_ms > ? AND start_ms < ? "
                              "AND status IN ('active', 'pending') ORDER BY start_ms, id");
  if (!q) return q.error();
  q->bind(1, instrument).bind(2, from_ms).bind(3, to_ms);
  std::vector<Booking> out;
  if (auto s = each_row(*q, [&](db::Statement& r) { out.push_back(rows::booking(r)); }); !s) return s.error();
  return out;
}

Result<std::optional<Booking>> SqliteStore::get(const std::string& id) {
  auto q = db_.conn().prepare("SELECT " + std::string(rows::kCols) + " FROM bookings WHERE id = ?");
  if (!q) return q.error();
  q->bind(1, id);
  auto row = q->step();
  if (!row) return row.error();
  std::optional<Booking> out;
  if (*row) out = rows::booking(*q);
  q->reset();
  return out;
}

Status SqliteStore::update(const Booking& b, int64_t now_ms) {
  auto st = db_.conn().prepare(
      "UPDATE bookings SET start_ms = ?, end_ms = ?, status = ?, cancelled_ms = ?, cancel_reason = ?, updated_ms = ?, "
      "hold_until_ms = ?, late_cancel = ?, staffed = ? WHERE id = ?");
  if (!st) return st.error();
  st->bind(1, b.start_ms)
      .bind(2, b.end_ms)
      .bind(3, std::string(to_string(b.status)))
      .bind(4, b.cancelled_ms)
      .bind(5, b.cancel_reason)
      .bind(6, now_ms)
      .bind(7, b.hold_until_ms)
      .bind(8, int64_t{b.late_cancel ? 1 : 0})
      .bind(9, int64_t{b.staffed ? 1 : 0})
      .bind(10, b.id);
  LG_TRY(st->run());
  if (db_.conn().changes() == 0) return domain_error(Errc::not_found, "booking: no booking '" + b.id + "'");
  return {};
}

Result<std::vector<WeekBooking>> SqliteStore::week(const std::string& instrument, int64_t from_ms, int64_t to_ms,
                                                   const std::string& user) {
  auto q = db_.conn().prepare(
      "SELECT b.id, b.instrument, b.user, b.start_ms, b.end_ms, b.status, b.cancelled_ms, b.cancel_reason, b.account, "
      "b.booked_by, b.hold_until_ms, b.late_cancel, b.staffed, u.category, "
      "EXISTS (SELECT 1 FROM group_members a JOIN group_members m ON a.group_id = m.group_id "
      "WHERE a.user_id = b.user AND m.user_id = ?4) "
      "FROM bookings b JOIN users u ON u.id = b.user "
      "WHERE b.instrument = ?1 AND b.start_ms >= ?2 AND b.start_ms < ?3 AND b.status IN ('active', 'pending') "
      "ORDER BY b.start_ms, b.id");
  if (!q) return q.error();
  q->bind(1, instrument).bind(2, from_ms).bind(3, to_ms).bind(4, user);
  std::vector<WeekBooking> out;
  auto s = each_row(*q, [&](db::Statement& r) {
    WeekBooking w{rows::booking(r)};
    w.category = category_from(r.column_text(13)).value_or(UserCategory::internal_staff);
    w.shares_group = r.column_int64(14) != 0;
    out.push_back(std::move(w));
  });
  if (!s) return s.error();
  return out;
}

Result<std::vector<Booking>> SqliteStore::holds_due(int64_t now_ms, int32_t limit) {
  auto q = db_.conn().prepare("SELECT " + std::string(rows::kCols) +
                              " FROM bookings WHERE status = 'pending' AND hold_until_ms <= ? ORDER BY hold_until_ms, id "
                              "LIMIT ?");
  if (!q) return q.error();
  q->bind(1, now_ms).bind(2, int64_t{limit});
  std::vector<Booking> out;
  if (auto s = each_row(*q, [&](db::Statement& r) { out.push_back(rows::booking(r)); }); !s) return s.error();
  return out;
}

Result<std::optional<BookingPolicy>> SqliteStore::policy(const std::string& instrument) {
  auto q = db_.conn().prepare("SELECT " + std::string(kPolicyCols) + " FROM booking_policies WHERE instrument = ?");
  if (!q) return q.error();
  q->bind(1, instrument);
  auto row = q->step();
  if (!row) return row.error();
  std::optional<BookingPolicy> out;
  if (*row) {
    auto p = policy_row(*q);
    if (!p) return p.error();
    out = std::move(*p);
  }
  q->reset();
  return out;
}

Status SqliteStore::put_policy(const BookingPolicy& p, int64_t now_ms) {
  auto st = db_.conn().prepare("INSERT OR REPLACE INTO booking_policies(" + std::string(kPolicyCols) +
                               ", updated_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  if (!st) return st.error();
  st->bind(1, p.instrument);
  if (p.opening) st->bind(2, week_hours_text(*p.opening));
  else st->bind_null(2);
  st->bind(3, p.lead_min_s).bind(4, p.lead_max_s).bind(5, p.min_length_s).bind(6, p.max_length_s).bind(7, p.slot_s);
  st->bind(8, int64_t{p.user_week_bookings}).bind(9, p.user_week_s).bind(10, int64_t{p.group_week_bookings});
  st->bind(11, p.group_week_s).bind(12, int64_t{p.external_share_pct}).bind(13, week_hours_text(p.internal_priority));
  st->bind(14, std::string(to_string(p.approval))).bind(15, p.approval_hold_s).bind(16, p.cancel_free_s);
  if (p.staffed) st->bind(17, week_hours_text(*p.staffed));
  else st->bind_null(17);
  st->bind(18, int64_t{p.lapse_months}).bind(19, now_ms);
  if (auto s = st->run(); !s) {
    if (db::is_constraint(s.error()))
      return domain_error(Errc::unknown_reference, "instrument: unknown instrument '" + p.instrument + "'");
    return s.error();
  }
  return {};
}

Status SqliteStore::add_closure(const Closure& c, int64_t now_ms) {
  auto st = db_.conn().prepare("INSERT INTO booking_closures(" + std::string(kClosureCols) +
                               ", created_ms) VALUES (?, ?, ?, ?, ?, ?, ?)");
  if (!st) return st.error();
  st->bind(1, c.id);
  if (c.instrument.empty()) st->bind_null(2);
  else st->bind(2, c.instrument);
  st->bind(3, std::string(to_string(c.kind))).bind(4, c.start_ms).bind(5, c.end_ms).bind(6, c.reason).bind(7, now_ms);
  if (auto s = st->run(); !s) {
    if (db::is_constraint(s.error())) {
      auto again = closure(c.id);
      if (again && *again) return domain_error(Errc::conflict, "id: closure " + c.id + " already exists");
      return domain_error(Errc::unknown_reference, "instrument: unknown instrument '" + c.instrument + "'");
    }
    return s.error();
  }
  return {};
}

Result<std::vector<Closure>> SqliteStore::closures(const std::string& instrument, int64_t from_ms, int64_t to_ms) {
  auto q = db_.conn().prepare("SELECT " + std::string(kClosureCols) +
                              " FROM booking_closures WHERE end_ms > ?1 AND start_ms < ?2 "
                              "AND (?3 = '' OR instrument IS NULL OR instrument = ?3) ORDER BY start_ms, id");
  if (!q) return q.error();
  q->bind(1, from_ms).bind(2, to_ms).bind(3, instrument);
  std::vector<Closure> out;
  if (auto s = each_row(*q, [&](db::Statement& r) { out.push_back(closure_row(r)); }); !s) return s.error();
  return out;
}

Result<std::optional<Closure>> SqliteStore::closure(const std::string& id) {
  auto q = db_.conn().prepare("SELECT " + std::string(kClosureCols) + " FROM booking_closures WHERE id = ?");
  if (!q) return q.error();
  q->bind(1, id);
  auto row = q->step();
  if (!row) return row.error();
  std::optional<Closure> out;
  if (*row) out = closure_row(*q);
  q->reset();
  return out;
}

Status SqliteStore::remove_closure(const std::string& id) {
  auto st = db_.conn().prepare("DELETE FROM booking_closures WHERE id = ?");
  if (!st) return st.error();
  st->bind(1, id);
  LG_TRY(st->run());
  if (db_.conn().changes() == 0) return domain_error(Errc::not_found, "closure: no closure '" + id + "'");
  return {};
}

namespace {
Result<std::vector<Booking>> bookings_where(db::Database& d, const char* column, const std::string& value, int64_t from_ms,
                                           int32_t limit) {
  auto q = d.prepare("SELECT " + std::string(rows::kCols) + " FROM bookings WHERE " + column +
                     " = ? AND start_ms >= ? ORDER BY start_ms, id LIMIT ?");
  if (!q) return q.error();
  q->bind(1, value).bind(2, from_ms).bind(3, int64_t{limit});
  std::vector<Booking> out;
  if (auto s = each_row(*q, [&](db::Statement& r) { out.push_back(rows::booking(r)); }); !s) return s.error();
  return out;
}
}  // namespace

Result<std::vector<Booking>> SqliteStore::of_user(const std::string& user, int64_t from_ms, int32_t limit) {
  return bookings_where(db_.conn(), "user", user, from_ms, limit);
}

Result<std::vector<Booking>> SqliteStore::of_instrument(const std::string& instrument, int64_t from_ms, int32_t limit) {
  return bookings_where(db_.conn(), "instrument", instrument, from_ms, limit);
}

Status SqliteStore::put_feed_token(const FeedToken& t) {
  auto& d = db_.conn();
  auto del = d.prepare("DELETE FROM booking_feed_tokens WHERE kind = ? AND subject = ?");
  if (!del) return del.error();
  del->bind(1, t.kind).bind(2, t.subject);
  LG_TRY(del->run());
  auto ins = d.prepare("INSERT INTO booking_feed_tokens(hash, kind, subject, created_ms) VALUES (?, ?, ?, ?)");
  if (!ins) return ins.error();
  ins->bind(1, t.hash).bind(2, t.kind).bind(3, t.subject).bind(4, t.created_ms);
  return ins->run();
}

Result<std::optional<FeedToken>> SqliteStore::feed_token(const std::string& hash) {
  auto q = db_.conn().prepare("SELECT hash, kind, subject, created_ms FROM booking_feed_tokens WHERE hash = ?");
  if (!q) return q.error();
  q->bind(1, hash);
  auto row = q->step();
  if (!row) return row.error();
  std::optional<FeedToken> out;
  if (*row) out = FeedToken{q->column_text(0), q->column_text(1), q->column_text(2), q->column_int64(3)};
  q->reset();
  return out;
}

namespace {
constexpr std::string_view kWaitCols =
    "id, instrument, user, start_ms, end_ms, account, booked_by, created_ms, status, booking, decided_ms";

WaitEntry wait_row(db::Statement& r) {
  WaitEntry e;
  e.id = r.column_text(0);
  e.instrument = r.column_text(1);
  e.user = r.column_text(2);
  e.start_ms = r.column_int64(3);
  e.end_ms = r.column_int64(4);
  e.account = r.column_text(5);
  e.booked_by = r.column_text(6);
  e.created_ms = r.column_int64(7);
  e.status = wait_status_from(r.column_text(8)).value_or(WaitStatus::waiting);
  e.booking = r.column_text(9);
  e.decided_ms = opt_int(r, 10);
  return e;
}

Result<std::vector<WaitEntry>> waits_where(db::Database& d, const std::string& where,
                                           const std::function<void(db::Statement&)>& bind) {
  auto q = d.prepare("SELECT " + std::string(kWaitCols) + " FROM booking_waitlist WHERE " + where);
  if (!q) return q.error();
  bind(*q);
  std::vector<WaitEntry> out;
  if (auto s = each_row(*q, [&](db::Statement& r) { out.push_back(wait_row(r)); }); !s) return s.error();
  return out;
}
}  // namespace

Status SqliteStore::add_wait(const WaitEntry& e) {
  auto st = db_.conn().prepare("INSERT INTO booking_waitlist(" + std::string(kWaitCols) +
                               ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  if (!st) return st.error();
  st->bind(1, e.id).bind(2, e.instrument).bind(3, e.user).bind(4, e.start_ms).bind(5, e.end_ms).bind(6, e.account);
  st->bind(7, e.booked_by).bind(8, e.created_ms).bind(9, std::string(to_string(e.status))).bind(10, e.booking);
  st->bind(11, e.decided_ms);
  if (auto s = st->run(); !s) {
    if (db::is_constraint(s.error()))
      return domain_error(Errc::unknown_reference, "waitlist: unknown instrument or user, or a repeated id");
    return s.error();
  }
  return {};
}

Status SqliteStore::update_wait(const WaitEntry& e) {
  auto st = db_.conn().prepare("UPDATE booking_waitlist SET status = ?, booking = ?, decided_ms = ? WHERE id = ?");
  if (!st) return st.error();
  st->bind(1, std::string(to_string(e.status))).bind(2, e.booking).bind(3, e.decided_ms).bind(4, e.id);
  LG_TRY(st->run());
  if (db_.conn().changes() == 0) return domain_error(Errc::not_found, "waitlist: no entry '" + e.id + "'");
  return {};
}

Result<std::optional<WaitEntry>> SqliteStore::wait_entry(const std::string& id) {
  auto rows = waits_where(db_.conn(), "id = ?", [&](db::Statement& q) { q.bind(1, id); });
  if (!rows) return rows.error();
  if (rows->empty()) return std::optional<WaitEntry>{};
  return std::optional<WaitEntry>{rows->front()};
}

Result<std::vector<WaitEntry>> SqliteStore::waiting(const std::string& instrument, int64_t from_ms, int64_t to_ms) {
  return waits_where(db_.conn(),
                     "status = 'waiting' AND instrument = ? AND end_ms > ? AND start_ms < ? ORDER BY created_ms, id",
                     [&](db::Statement& q) { q.bind(1, instrument).bind(2, from_ms).bind(3, to_ms); });
}

Result<std::vector<WaitEntry>> SqliteStore::wait_entries(const std::string& instrument, const std::string& user,
                                                         int32_t limit) {
  return waits_where(db_.conn(), "(? = '' OR instrument = ?) AND (? = '' OR user = ?) ORDER BY created_ms DESC, id LIMIT ?",
                     [&](db::Statement& q) {
                       q.bind(1, instrument).bind(2, instrument).bind(3, user).bind(4, user).bind(5, int64_t{limit});
                     });
}

Result<std::vector<WaitEntry>> SqliteStore::waits_due(int64_t now_ms, int32_t limit) {
  return waits_where(db_.conn(), "status = 'waiting' AND start_ms <= ? ORDER BY start_ms, id LIMIT ?",
                     [&](db::Statement& q) { q.bind(1, now_ms).bind(2, int64_t{limit}); });
}

Result<std::vector<BookingPolicy>> SqliteStore::lapsing_policies() {
  auto q = db_.conn().prepare("SELECT " + std::string(kPolicyCols) + " FROM booking_policies WHERE lapse_months > 0 ORDER BY instrument");
  if (!q) return q.error();
  std::vector<BookingPolicy> out;
  Status bad;
  if (auto s = each_row(*q, [&](db::Statement& r) {
        auto p = policy_row(r);
        if (!p) bad = p.error();
        else out.push_back(std::move(*p));
      });
      !s)
    return s.error();
  if (!bad) return bad.error();
  return out;
}

}  // namespace lg::server::booking
