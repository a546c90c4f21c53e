#include "server/booking/pg_store.hpp"

#include <array>

#include "server/core/pg_util.hpp"

namespace lg::server::booking {

using namespace pgsql;

namespace {

// booking::rules admit() decides; the exclusion constraint guards the rule against a second
// node admitting an overlapping booking at the same moment (half-open [start, end) ranges).
constexpr std::string_view kV1 = R"sql(
CREATE EXTENSION IF NOT EXISTS btree_gist;
CREATE TABLE bookings (
  id TEXT PRIMARY KEY,
  instrument TEXT NOT NULL REFERENCES instruments(id),
  user_id TEXT NOT NULL REFERENCES users(id),
  start_ms BIGINT NOT NULL,
  end_ms BIGINT NOT NULL,
  created_ms BIGINT NOT NULL,
  CHECK (end_ms > start_ms),
  CONSTRAINT bookings_no_overlap EXCLUDE USING gist (instrument WITH =, int8range(start_ms, end_ms) WITH &&)
);
CREATE INDEX bookings_by_start ON bookings(start_ms, id);
)sql";

// A booking is cancelled rather than deleted: kept with when and why, it overlaps nothing, so the
// exclusion constraint now covers active bookings only.
constexpr std::string_view kV2 = R"sql(
ALTER TABLE bookings ADD COLUMN status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'cancelled'));
ALTER TABLE bookings ADD COLUMN cancelled_ms BIGINT;
ALTER TABLE bookings ADD COLUMN cancel_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE bookings ADD COLUMN updated_ms BIGINT;
ALTER TABLE bookings DROP CONSTRAINT bookings_no_overlap;
ALTER TABLE bookings ADD CONSTRAINT bookings_no_overlap
  EXCLUDE USING gist (instrument WITH =, int8range(start_ms, end_ms) WITH &&) WHERE (status = 'active');
)sql";

// Booking policies and closures; bookings may wait for approval (pending: they hold their slot, so
// the exclusion constraint covers them too), be refused or expire, name the account to charge and
// who made them, and record a late cancellation.
constexpr std::string_view kV3 = R"sql(
ALTER TABLE bookings DROP CONSTRAINT bookings_status_check;
ALTER TABLE bookings ADD CONSTRAINT bookings_status_check
  CHECK (status IN ('active', 'cancelled', 'pending', 'refused', 'expired'));
ALTER TABLE bookings ADD COLUMN account TEXT NOT NULL DEFAULT '';
ALTER TABLE bookings ADD COLUMN booked_by TEXT NOT NULL DEFAULT '';
ALTER TABLE bookings ADD COLUMN hold_until_ms BIGINT;
ALTER TABLE bookings ADD COLUMN late_cancel BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE bookings ADD CONSTRAINT bookings_hold CHECK ((status = 'pending') = (hold_until_ms IS NOT NULL));
ALTER TABLE bookings DROP CONSTRAINT bookings_no_overlap;
ALTER TABLE bookings ADD CONSTRAINT bookings_no_overlap
  EXCLUDE USING gist (instrument WITH =, int8range(start_ms, end_ms) WITH &&) WHERE (status IN ('active', 'pending'));
CREATE INDEX bookings_pending ON bookings(hold_until_ms) WHERE status = 'pending';
CREATE TABLE booking_policies (
  instrument TEXT PRIMARY KEY REFERENCES instruments(id),
  opening TEXT,
  lead_min_s BIGINT NOT NULL,
  lead_max_s BIGINT NOT NULL,
  min_length_s BIGINT NOT NULL,
  max_length_s BIGINT NOT NULL,
  slot_s BIGINT NOT NULL,
  user_week_bookings BIGINT NOT NULL,
  user_week_s BIGINT NOT NULL,
  group_week_bookings BIGINT NOT NULL,
  group_week_s BIGINT NOT NULL,
  external_share_pct BIGINT NOT NULL CHECK (external_share_pct BETWEEN 0 AND 100),
  internal_priority TEXT NOT NULL,
  approval TEXT NOT NULL CHECK (approval IN ('none', 'all', 'external')),
  approval_hold_s BIGINT NOT NULL,
  cancel_free_s BIGINT NOT NULL,
  updated_ms BIGINT NOT NULL
);
CREATE TABLE booking_closures (
  id TEXT PRIMARY KEY,
  instrument TEXT REFERENCES instruments(id),
  kind TEXT NOT NULL CHECK (kind IN ('holiday', 'blackout', 'maintenance')),
  start_ms BIGINT NOT NULL,
  end_ms BIGINT NOT NULL,
  reason TEXT NOT NULL DEFAULT '',
  created_ms BIGINT NOT NULL,
  CHECK (end_ms > start_ms)
);
CREATE INDEX booking_closures_by_end ON booking_closures(end_ms);
)sql";

// Staffed bookings, staffed hours and the lapse of unused qualifications, as in the SQLite store.
constexpr std::string_view kV4 = R"sql(
ALTER TABLE bookings ADD COLUMN staffed BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE booking_policies ADD COLUMN staffed TEXT;
ALTER TABLE booking_policies ADD COLUMN lapse_months INTEGER NOT NULL DEFAULT 0 CHECK (lapse_months BETWEEN 0 AND 120);
)sql";

// Calendar feeds behind a secret URL, as in the SQLite store.
constexpr std::string_view kV5 = R"sql(
CREATE TABLE booking_feed_tokens (
  hash TEXT PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('user', 'instrument')),
  subject TEXT NOT NULL,
  created_ms BIGINT NOT NULL,
  UNIQUE (kind, subject)
);
CREATE INDEX bookings_by_user ON bookings(user_id, start_ms);
)sql";

// Waiting lists, as in the SQLite store.
constexpr std::string_view kV6 = R"sql(
CREATE TABLE booking_waitlist (
  id TEXT PRIMARY KEY,
  instrument TEXT NOT NULL REFERENCES instruments(id),
  user_id TEXT NOT NULL REFERENCES users(id),
  start_ms BIGINT NOT NULL,
  end_ms BIGINT NOT NULL,
  account TEXT NOT NULL DEFAULT '',
  booked_by TEXT NOT NULL DEFAULT '',
  created_ms BIGINT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('waiting', 'promoted', 'withdrawn', 'expired')),
  booking TEXT NOT NULL DEFAULT '',
  decided_ms BIGINT,
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

Result<BookingPolicy> policy_row(const pg::Rows& r, int i) {
  BookingPolicy p;
  p.instrument = r.text(i, 0);
  if (!r.null(i, 1)) {
    WeekHours w;
    if (auto why = parse_week_hours(r.text(i, 1), w))
      return Error::invalid("booking policy of " + p.instrument + ": opening: " + *why);
    p.opening = w;
  }
  p.lead_min_s = r.i64(i, 2);
  p.lead_max_s = r.i64(i, 3);
  p.min_length_s = r.i64(i, 4);
  p.max_length_s = r.i64(i, 5);
  p.slot_s = r.i64(i, 6);
  p.user_week_bookings = static_cast<int32_t>(r.i64(i, 7));
  p.user_week_s = r.i64(i, 8);
  p.group_week_bookings = static_cast<int32_t>(r.i64(i, 9));
  p.group_week_s = r.i64(i, 10);
  p.external_share_pct = static_cast<int32_t>(r.i64(i, 11));
  if (auto why = parse_week_hours(r.text(i, 12), p.internal_priority))
    return Error::invalid("booking policy of " + p.instrument + ": internal_priority: " + *why);
  p.approval = approval_from(r.text(i, 13)).value_or(Approval::none);
  p.approval_hold_s = r.i64(i, 14);
  p.cancel_free_s = r.i64(i, 15);
  if (!r.null(i, 16)) {
    WeekHours w;
    if (auto why = parse_week_hours(r.text(i, 16), w))
      return Error::invalid("booking policy of " + p.instrument + ": staffed: " + *why);
    p.staffed = w;
  }
  p.lapse_months = static_cast<int32_t>(r.i64(i, 17));
  return p;
}

constexpr std::string_view kClosureCols = "id, COALESCE(instrument, ''), kind, start_ms, end_ms, reason";

Closure closure_row(const pg::Rows& r, int i) {
  Closure c;
  c.id = r.text(i, 0);
  c.instrument = r.text(i, 1);
  c.kind = closure_kind_from(r.text(i, 2)).value_or(ClosureKind::blackout);
  c.start_ms = r.i64(i, 3);
  c.end_ms = r.i64(i, 4);
  c.reason = r.text(i, 5);
  return c;
}

constexpr auto booking_row = [](const pg::Rows& r, int i) { return pgrows::booking(r, i); };

}  // namespace

std::span<const db::Migration> pg_migrations() { return kMigrations; }

Booking pgrows::booking(const pg::Rows& r, int i) {
  Booking b{r.text(i, 0), r.text(i, 1), r.text(i, 2), r.i64(i, 3), r.i64(i, 4)};
  b.status = booking_status_from(r.text(i, 5)).value_or(BookingStatus::active);
  b.cancelled_ms = r.opt_i64(i, 6);
  b.cancel_reason = r.text(i, 7);
  b.account = r.text(i, 8);
  b.booked_by = r.text(i, 9);
  b.hold_until_ms = r.opt_i64(i, 10);
  b.late_cancel = r.boolean(i, 11);
  b.staffed = r.boolean(i, 12);
  return b;
}

Status PgStore::insert(const Booking& b, int64_t now_ms) {
  auto r = db_.conn().q(
      "INSERT INTO bookings(id, instrument, user_id, start_ms, end_ms, created_ms, status, account, booked_by, "
      "hold_until_ms, staffed) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
      b.id, b.instrument, b.user, b.start_ms, b.end_ms, now_ms, std::string(to_string(b.status)), b.account, b.booked_by,
      b.hold_until_ms, b.staffed);
  if (!r && pg::is_unique_violation(r.error())) {
    return domain_error(Errc::conflict, "id: booking " + b.id + " already exists");
  }
  if (!r && pg::is_exclusion_violation(r.error())) {
    // booking::Service read no overlap in this SERIALIZABLE unit of work, so a concurrent one
    // admitted an overlapping booking first: a lost race like a serialization failure. Run the
    // unit of work again; the rule then sees that booking and explains the refusal.
    return Error{pg::make_code("40001"), "booking " + b.id + " overlaps one admitted concurrently on " +
                                             b.instrument + " (" + r.error().reason + ")"};
  }
  return done(r);
}

Result<PageOf<Booking>> PgStore::list(const Page& p) {
  static constexpr Keyset q{
      "SELECT id, instrument, user_id, start_ms, end_ms, status, cancelled_ms, cancel_reason, account, booked_by, "
      "hold_until_ms, late_cancel, staffed, start_ms, id FROM bookings WHERE true",
      13, "(start_ms, id)", "is", false, "ORDER BY start_ms, id"};
  return read_all_page<Booking>(db_.conn(), q, p, booking_row);
}

Result<std::vector<Booking>> PgStore::overlapping(const std::string& instrument, int64_t from_ms, int64_t to_ms) {
  auto r = db_.conn().q(
      "SELECT " + std::string(pgrows::kCols) +
          " FROM bookings WHERE instrument = $1 AND int8range(start_ms, end_ms) && int8range($2, $3) "
          "AND status IN ('active', 'pending') ORDER BY start_ms, id",
      instrument, from_ms, to_ms);
  if (!r) return r.error();
  std::vector<Booking> out;
  out.reserve(static_cast<std::size_t>(r->size()));
  for (int i = 0; i < r->size(); ++i) out.push_back(booking_row(*r, i));
  return out;
}

Result<std::optional<Booking>> PgStore::get(const std::string& id) {
  auto r = db_.conn().q("SELECT " + std::string(pgrows::kCols) + " FROM bookings WHERE id = $1", id);
  if (!r) return r.error();
  std::optional<Booking> out;
  if (!r->empty()) out = booking_row(*r, 0);
  return out;
}

Status PgStore::update(const Booking& b, int64_t now_ms) {
  auto r = db_.conn().q(
      "UPDATE bookings SET start_ms = $1, end_ms = $2, status = $3, cancelled_ms = $4, cancel_reason = $5, "
      "updated_ms = $6, hold_until_ms = $7, late_cancel = $8, staffed = $9 WHERE id = $10",
      b.start_ms, b.end_ms, std::string(to_string(b.status)), b.cancelled_ms, b.cancel_reason, now_ms, b.hold_until_ms,
      b.late_cancel, b.staffed, b.id);
  if (!r && pg::is_exclusion_violation(r.error())) {
    // As in insert(): booking::Service read no overlap in this unit of work, so a concurrent one
    // admitted an overlapping booking first. Run the unit of work again; the rule then explains.
    return Error{pg::make_code("40001"), "booking " + b.id + " moved onto one admitted concurrently on " +
                                             b.instrument + " (" + r.error().reason + ")"};
  }
  if (!r) return r.error();
  if (r->affected() == 0) return domain_error(Errc::not_found, "booking: no booking '" + b.id + "'");
  return {};
}

Result<std::vector<WeekBooking>> PgStore::week(const std::string& instrument, int64_t from_ms, int64_t to_ms,
                                               const std::string& user) {
  auto r = db_.conn().q(
      "SELECT b.id, b.instrument, b.user_id, b.start_ms, b.end_ms, b.status, b.cancelled_ms, b.cancel_reason, b.account, "
      "b.booked_by, b.hold_until_ms, b.late_cancel, b.staffed, u.category, "
      "EXISTS (SELECT 1 FROM group_members a JOIN group_members m ON a.group_id = m.group_id "
      "WHERE a.user_id = b.user_id AND m.user_id = $4) "
      "FROM bookings b JOIN users u ON u.id = b.user_id "
      "WHERE b.instrument = $1 AND b.start_ms >= $2 AND b.start_ms < $3 AND b.status IN ('active', 'pending') "
      "ORDER BY b.start_ms, b.id",
      instrument, from_ms, to_ms, user);
  if (!r) return r.error();
  std::vector<WeekBooking> out;
  for (int i = 0; i < r->size(); ++i) {
    WeekBooking w{booking_row(*r, i)};
    w.category = category_from(r->text(i, 13)).value_or(UserCategory::internal_staff);
    w.shares_group = r->boolean(i, 14);
    out.push_back(std::move(w));
  }
  return out;
}

Result<std::vector<Booking>> PgStore::holds_due(int64_t now_ms, int32_t limit) {
  auto r = db_.conn().q("SELECT " + std::string(pgrows::kCols) +
                            " FROM bookings WHERE status = 'pending' AND hold_until_ms <= $1 ORDER BY hold_until_ms, id "
                            "LIMIT $2",
                        now_ms, static_cast<int64_t>(limit));
  if (!r) return r.error();
  std::vector<Booking> out;
  for (int i = 0; i < r->size(); ++i) out.push_back(booking_row(*r, i));
  return out;
}

Result<std::optional<BookingPolicy>> PgStore::policy(const std::string& instrument) {
  auto r = db_.conn().q("SELECT " + std::string(kPolicyCols) + " FROM booking_policies WHERE instrument = $1", instrument);
  if (!r) return r.error();
  std::optional<BookingPolicy> out;
  if (!r->empty()) {
    auto p = policy_row(*r, 0);
    if (!p) return p.error();
    out = std::move(*p);
  }
  return out;
}

Status PgStore::put_policy(const BookingPolicy& p, int64_t now_ms) {
  pg::Params params;
  params.add(p.instrument);
  if (p.opening) params.add(week_hours_text(*p.opening));
  else params.add(std::nullopt);
  params.add(p.lead_min_s).add(p.lead_max_s).add(p.min_length_s).add(p.max_length_s).add(p.slot_s);
  params.add(int64_t{p.user_week_bookings}).add(p.user_week_s).add(int64_t{p.group_week_bookings}).add(p.group_week_s);
  params.add(int64_t{p.external_share_pct}).add(week_hours_text(p.internal_priority)).add(to_string(p.approval));
  params.add(p.approval_hold_s).add(p.cancel_free_s);
  if (p.staffed) params.add(week_hours_text(*p.staffed));
  else params.add(std::nullopt);
  params.add(int64_t{p.lapse_months}).add(now_ms);
  auto r = db_.conn().exec(
      "INSERT INTO booking_policies(" + std::string(kPolicyCols) +
          ", updated_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, "
          "$19) "
          "ON CONFLICT (instrument) DO UPDATE SET opening = EXCLUDED.opening, lead_min_s = EXCLUDED.lead_min_s, "
          "lead_max_s = EXCLUDED.lead_max_s, min_length_s = EXCLUDED.min_length_s, max_length_s = EXCLUDED.max_length_s, "
          "slot_s = EXCLUDED.slot_s, user_week_bookings = EXCLUDED.user_week_bookings, user_week_s = EXCLUDED.user_week_s, "
          "group_week_bookings = EXCLUDED.group_week_bookings, group_week_s = EXCLUDED.group_week_s, "
          "external_share_pct = EXCLUDED.external_share_pct, internal_priority = EXCLUDED.internal_priority, "
          "approval = EXCLUDED.approval, approval_hold_s = EXCLUDED.approval_hold_s, "
          "cancel_free_s = EXCLUDED.cancel_free_s, staffed = EXCLUDED.staffed, lapse_months = EXCLUDED.lapse_months, "
          "updated_ms = EXCLUDED.updated_ms",
      params);
  if (!r && pg::is_foreign_key_violation(r.error()))
    return domain_error(Errc::unknown_reference, "instrument: unknown instrument '" + p.instrument + "'");
  return done(r);
}

Status PgStore::add_closure(const Closure& c, int64_t now_ms) {
  pg::Params params;
  params.add(c.id).add_or_null(c.instrument).add(to_string(c.kind)).add(c.start_ms).add(c.end_ms).add(c.reason).add(now_ms);
  auto r = db_.conn().exec(
      "INSERT INTO booking_closures(id, instrument, kind, start_ms, end_ms, reason, created_ms) "
      "VALUES ($1, $2, $3, $4, $5, $6, $7)",
      params);
  if (!r && pg::is_unique_violation(r.error())) return domain_error(Errc::conflict, "id: closure " + c.id + " already exists");
  if (!r && pg::is_foreign_key_violation(r.error()))
    return domain_error(Errc::unknown_reference, "instrument: unknown instrument '" + c.instrument + "'");
  return done(r);
}

Result<std::vector<Closure>> PgStore::closures(const std::string& instrument, int64_t from_ms, int64_t to_ms) {
  auto r = db_.conn().q("SELECT " + std::string(kClosureCols) +
                            " FROM booking_closures WHERE end_ms > $1 AND start_ms < $2 "
                            "AND ($3 = '' OR instrument IS NULL OR instrument = $3) ORDER BY start_ms, id",
                        from_ms, to_ms, instrument);
  if (!r) return r.error();
  std::vector<Closure> out;
  for (int i = 0; i < r->size(); ++i) out.push_back(closure_row(*r, i));
  return out;
}

Result<std::optional<Closure>> PgStore::closure(const std::string& id) {
  auto r = db_.conn().q("SELECT " + std::string(kClosureCols) + " FROM booking_closures WHERE id = $1", id);
  if (!r) return r.error();
  std::optional<Closure> out;
  if (!r->empty()) out = closure_row(*r, 0);
  return out;
}

Status PgStore::remove_closure(const std::string& id) {
  auto r = db_.conn().q("DELETE FROM booking_closures WHERE id = $1", id);
  if (!r) return r.error();
  if (r->affected() == 0) return domain_error(Errc::not_found, "closure: no closure '" + id + "'");
  return {};
}

Result<std::vector<Booking>> PgStore::of_user(const std::string& user, int64_t from_ms, int32_t limit) {
  auto r = db_.conn().q("SELECT " + std::string(pgrows::kCols) +
                            " FROM bookings WHERE user_id = $1 AND start_ms >= $2 ORDER BY start_ms, id LIMIT $3",
                        user, from_ms, int64_t{limit});
  if (!r) return r.error();
  std::vector<Booking> out;
  for (int i = 0; i < r->size(); ++i) out.push_back(pgrows::booking(*r, i));
  return out;
}

Result<std::vector<Booking>> PgStore::of_instrument(const std::string& instrument, int64_t from_ms, int32_t limit) {
  auto r = db_.conn().q("SELECT " + std::string(pgrows::kCols) +
                            " FROM bookings WHERE instrument = $1 AND start_ms >= $2 ORDER BY start_ms, id LIMIT $3",
                        instrument, from_ms, int64_t{limit});
  if (!r) return r.error();
  std::vector<Booking> out;
  for (int i = 0; i < r->size(); ++i) out.push_back(pgrows::booking(*r, i));
  return out;
}

Status PgStore::put_feed_token(const FeedToken& t) {
  auto& c = db_.conn();
  LG_TRY(done(c.q("DELETE FROM booking_feed_tokens WHERE kind = $1 AND subject = $2", t.kind, t.subject)));
  return done(c.q("INSERT INTO booking_feed_tokens(hash, kind, subject, created_ms) VALUES ($1, $2, $3, $4)", t.hash,
                  t.kind, t.subject, t.created_ms));
}

Result<std::optional<FeedToken>> PgStore::feed_token(const std::string& hash) {
  auto r = db_.conn().q("SELECT hash, kind, subject, created_ms FROM booking_feed_tokens WHERE hash = $1", hash);
  if (!r) return r.error();
  if (r->empty()) return std::optional<FeedToken>{};
  return std::optional<FeedToken>{FeedToken{r->text(0, 0), r->text(0, 1), r->text(0, 2), r->i64(0, 3)}};
}

namespace {
constexpr std::string_view kWaitCols =
    "id, instrument, user_id, start_ms, end_ms, account, booked_by, created_ms, status, booking, decided_ms";

std::vector<WaitEntry> wait_rows(const pg::Rows& r) {
  std::vector<WaitEntry> out;
  for (int i = 0; i < r.size(); ++i) {
    WaitEntry e;
    e.id = r.text(i, 0);
    e.instrument = r.text(i, 1);
    e.user = r.text(i, 2);
    e.start_ms = r.i64(i, 3);
    e.end_ms = r.i64(i, 4);
    e.account = r.text(i, 5);
    e.booked_by = r.text(i, 6);
    e.created_ms = r.i64(i, 7);
    e.status = wait_status_from(r.text(i, 8)).value_or(WaitStatus::waiting);
    e.booking = r.text(i, 9);
    e.decided_ms = r.opt_i64(i, 10);
    out.push_back(std::move(e));
  }
  return out;
}
}  // namespace

Status PgStore::add_wait(const WaitEntry& e) {
  auto r = db_.conn().q("INSERT INTO booking_waitlist(" + std::string(kWaitCols) +
                            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                        e.id, e.instrument, e.user, e.start_ms, e.end_ms, e.account, e.booked_by, e.created_ms,
                        std::string(to_string(e.status)), e.booking, e.decided_ms);
  if (!r && (pg::is_foreign_key_violation(r.error()) || pg::is_unique_violation(r.error())))
    return domain_error(Errc::unknown_reference, "waitlist: unknown instrument or user, or a repeated id");
  return done(r);
}

Status PgStore::update_wait(const WaitEntry& e) {
  auto r = db_.conn().q("UPDATE booking_waitlist SET status = $1, booking = $2, decided_ms = $3 WHERE id = $4",
                        std::string(to_string(e.status)), e.booking, e.decided_ms, e.id);
  if (!r) return r.error();
  if (r->affected() == 0) return domain_error(Errc::not_found, "waitlist: no entry '" + e.id + "'");
  return {};
}

Result<std::optional<WaitEntry>> PgStore::wait_entry(const std::string& id) {
  auto r = db_.conn().q("SELECT " + std::string(kWaitCols) + " FROM booking_waitlist WHERE id = $1", id);
  if (!r) return r.error();
  auto rows = wait_rows(*r);
  if (rows.empty()) return std::optional<WaitEntry>{};
  return std::optional<WaitEntry>{rows.front()};
}

Result<std::vector<WaitEntry>> PgStore::waiting(const std::string& instrument, int64_t from_ms, int64_t to_ms) {
  auto r = db_.conn().q("SELECT " + std::string(kWaitCols) +
                            " FROM booking_waitlist WHERE status = 'waiting' AND instrument = $1 AND end_ms > $2 "
                            "AND start_ms < $3 ORDER BY created_ms, id",
                        instrument, from_ms, to_ms);
  if (!r) return r.error();
  return wait_rows(*r);
}

Result<std::vector<WaitEntry>> PgStore::wait_entries(const std::string& instrument, const std::string& user,
                                                     int32_t limit) {
  auto r = db_.conn().q("SELECT " + std::string(kWaitCols) +
                            " FROM booking_waitlist WHERE ($1 = '' OR instrument = $1) AND ($2 = '' OR user_id = $2) "
                            "ORDER BY created_ms DESC, id LIMIT $3",
                        instrument, user, int64_t{limit});
  if (!r) return r.error();
  return wait_rows(*r);
}

Result<std::vector<WaitEntry>> PgStore::waits_due(int64_t now_ms, int32_t limit) {
  auto r = db_.conn().q("SELECT " + std::string(kWaitCols) +
                            " FROM booking_waitlist WHERE status = 'waiting' AND start_ms <= $1 ORDER BY start_ms, id "
                            "LIMIT $2",
                        now_ms, int64_t{limit});
  if (!r) return r.error();
  return wait_rows(*r);
}

Result<std::vector<BookingPolicy>> PgStore::lapsing_policies() {
  auto r = db_.conn().q("SELECT " + std::string(kPolicyCols) + " FROM booking_policies WHERE lapse_months > 0 ORDER BY instrument");
  if (!r) return r.error();
  std::vector<BookingPolicy> out;
  for (int i = 0; i < r->size(); ++i) {
    auto p = policy_row(*r, i);
    if (!p) return p.error();
    out.push_back(std::move(*p));
  }
  return out;
}

}  // namespace lg::server::booking
