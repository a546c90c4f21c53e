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

constexpr std::array<db::Migration, 2> kMigrations{
    {{1, "bookings", kV1}, {2, "bookings are cancelled and moved, not deleted", kV2}}};

constexpr auto booking_row = [](const pg::Rows& r, int i) { return pgrows::booking(r, i); };

}  // namespace

std::span<const db::Migration> pg_migrations() { return kMigrations; }

Booking pgrows::booking(const pg::Rows& r, int i) {
  Booking b{r.text(i, 0), r.text(i, 1), r.text(i, 2), r.i64(i, 3), r.i64(i, 4)};
  b.status = booking_status_from(r.text(i, 5)).value_or(BookingStatus::active);
  b.cancelled_ms = r.opt_i64(i, 6);
  b.cancel_reason = r.text(i, 7);
  return b;
}

Status PgStore::insert(const Booking& b, int64_t now_ms) {
  auto r = db_.conn().q(
      "INSERT INTO bookings(id, instrument, user_id, start_ms, end_ms, created_ms) VALUES ($1, $2, $3, $4, $5, $6)",
      b.id, b.instrument, b.user, b.start_ms, b.end_ms, now_ms);
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
      "SELECT id, instrument, user_id, start_ms, end_ms, status, cancelled_ms, cancel_reason, start_ms, id FROM bookings "
      "WHERE true",
      8, "(start_ms, id)", "is", false, "ORDER BY start_ms, id"};
  return read_all_page<Booking>(db_.conn(), q, p, booking_row);
}

Result<std::vector<Booking>> PgStore::overlapping(const std::string& instrument, int64_t from_ms, int64_t to_ms) {
  auto r = db_.conn().q(
      "SELECT " + std::string(pgrows::kCols) +
          " FROM bookings WHERE instrument = $1 AND int8range(start_ms, end_ms) && int8range($2, $3) "
          "AND status = 'active' ORDER BY start_ms, id",
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
      "updated_ms = $6 WHERE id = $7",
      b.start_ms, b.end_ms, std::string(to_string(b.status)), b.cancelled_ms, b.cancel_reason, now_ms, b.id);
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

}  // namespace lg::server::booking
