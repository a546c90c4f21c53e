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

constexpr std::array<db::Migration, 2> kMigrations{
    {{1, "bookings", kV1}, {2, "bookings are cancelled and moved, not deleted", kV2}}};


}  // namespace

std::span<const db::Migration> migrations() { return kMigrations; }

namespace rows {
Booking booking(db::Statement& r) {
  Booking b{r.column_text(0), r.column_text(1), r.column_text(2), r.column_int64(3), r.column_int64(4)};
  b.status = booking_status_from(r.column_text(5)).value_or(BookingStatus::active);
  b.cancelled_ms = opt_int(r, 6);
  b.cancel_reason = r.column_text(7);
  return b;
}
}  // namespace rows

Status SqliteStore::insert(const Booking& b, int64_t now_ms) {
  auto ins = db_.conn().prepare(
      "INSERT INTO bookings(id, instrument, user, start_ms, end_ms, created_ms) VALUES (?, ?, ?, ?, ?, ?)");
  if (!ins) return ins.error();
  ins->bind(1, b.id).bind(2, b.instrument).bind(3, b.user).bind(4, b.start_ms).bind(5, b.end_ms).bind(6, now_ms);
  if (auto s = ins->run(); !s) {
    if (db::is_constraint(s.error())) return domain_error(Errc::conflict, "id: booking " + b.id + " already exists");
    return s.error();
  }
  return {};
}

Result<PageOf<Booking>> SqliteStore::list(const Page& p) {
  static constexpr Keyset q{
      "SELECT id, instrument, user, start_ms, end_ms, status, cancelled_ms, cancel_reason, start_ms, id FROM bookings "
      "WHERE 1",
      8,
                            "(start_ms, id)", "is", false, "ORDER BY start_ms, id"};
  return read_all_page<Booking>(db_.conn(), q, p, rows::booking);
}

Result<std::vector<Booking>> SqliteStore::overlapping(const std::string& instrument, int64_t from_ms, int64_t to_ms) {
  auto q = db_.conn().prepare("SELECT " + std::string(rows::kCols) +
                              " FROM bookings WHERE instrument = ? AND end_ms > ? AND start_ms < ? AND status = 'active' "
                              "ORDER BY start_ms, id");
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
      "UPDATE bookings SET start_ms = ?, end_ms = ?, status = ?, cancelled_ms = ?, cancel_reason = ?, updated_ms = ? "
      "WHERE id = ?");
  if (!st) return st.error();
  st->bind(1, b.start_ms)
      .bind(2, b.end_ms)
      .bind(3, std::string(to_string(b.status)))
      .bind(4, b.cancelled_ms)
      .bind(5, b.cancel_reason)
      .bind(6, now_ms)
      .bind(7, b.id);
  LG_TRY(st->run());
  if (db_.conn().changes() == 0) return domain_error(Errc::not_found, "booking: no booking '" + b.id + "'");
  return {};
}

}  // namespace lg::server::booking
