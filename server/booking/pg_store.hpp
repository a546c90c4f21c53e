// The bookings' store on PostgreSQL.
#pragma once

#include <span>

#include "server/booking/store.hpp"
#include "server/core/pg.hpp"
#include "server/core/pg_db.hpp"

namespace lg::server::booking {

/// The bookings' numbered PostgreSQL migrations.
std::span<const db::Migration> pg_migrations();

class PgStore final : public Store {
 public:
  explicit PgStore(PgDb& db) : db_(db) {}
  Status insert(const Booking& b, int64_t now_ms) override;
  Result<PageOf<Booking>> list(const Page& p) override;
  Result<std::vector<Booking>> overlapping(const std::string& instrument, int64_t from_ms, int64_t to_ms) override;
  Result<std::optional<Booking>> get(const std::string& id) override;
  Status update(const Booking& b, int64_t now_ms) override;
  Result<std::vector<WeekBooking>> week(const std::string& instrument, int64_t from_ms, int64_t to_ms,
                                        const std::string& user) override;
  Result<std::vector<Booking>> holds_due(int64_t now_ms, int32_t limit) override;
  Result<std::optional<BookingPolicy>> policy(const std::string& instrument) override;
  Status put_policy(const BookingPolicy& p, int64_t now_ms) override;
  Result<std::vector<BookingPolicy>> lapsing_policies() override;
  Status add_closure(const Closure& c, int64_t now_ms) override;
  Result<std::vector<Closure>> closures(const std::string& instrument, int64_t from_ms, int64_t to_ms) override;
  Result<std::optional<Closure>> closure(const std::string& id) override;
  Status remove_closure(const std::string& id) override;
  Result<std::vector<Booking>> of_user(const std::string& user, int64_t from_ms, int32_t limit) override;
  Result<std::vector<Booking>> of_instrument(const std::string& instrument, int64_t from_ms, int32_t limit) override;
  Status put_feed_token(const FeedToken& t) override;
  Result<std::optional<FeedToken>> feed_token(const std::string& hash) override;
  Status add_wait(const WaitEntry& e) override;
  Status update_wait(const WaitEntry& e) override;
  Result<std::optional<WaitEntry>> wait_entry(const std::string& id) override;
  Result<std::vector<WaitEntry>> waiting(const std::string& instrument, int64_t from_ms, int64_t to_ms) override;
  Result<std::vector<WaitEntry>> wait_entries(const std::string& instrument, const std::string& user,
                                              int32_t limit) override;
  Result<std::vector<WaitEntry>> waits_due(int64_t now_ms, int32_t limit) override;

 private:
  PgDb& db_;
};


/// Row reader other areas' PostgreSQL stores share (same table, same columns).
namespace pgrows {
/// Columns read by booking(), in its order.
inline constexpr std::string_view kCols =
    "id, instrument, user_id, start_ms, end_ms, status, cancelled_ms, cancel_reason, account, booked_by, hold_until_ms, "
    "late_cancel, staffed";
Booking booking(const pg::Rows& r, int i);
}  // namespace pgrows

}  // namespace lg::server::booking
