// The bookings' store.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "labgate/common/result.hpp"
#include "server/booking/model.hpp"
#include "server/booking/rules.hpp"
#include "server/core/paging.hpp"

namespace lg::server::booking {

class Store {
 public:
  virtual ~Store() = default;
  /// Stores an admitted booking (booking::Service decides admission in the same unit of work);
  /// conflict if the id exists.
  virtual Status insert(const Booking& b, int64_t now_ms) = 0;
  /// All bookings (active and cancelled) by (start_ms, id), ascending.
  virtual Result<PageOf<Booking>> list(const Page& p) = 0;
  /// Slot-holding bookings (active, pending) on the instrument overlapping [from_ms, to_ms), by
  /// start then id (cancelled, refused and expired ones overlap nothing).
  virtual Result<std::vector<Booking>> overlapping(const std::string& instrument, int64_t from_ms, int64_t to_ms) = 0;
  /// Slot-holding bookings on the instrument starting in [from_ms, to_ms) (the quotas' week), each
  /// with its user's category and whether that user shares a research group with `user`.
  virtual Result<std::vector<WeekBooking>> week(const std::string& instrument, int64_t from_ms, int64_t to_ms,
                                                const std::string& user) = 0;
  /// Pending bookings whose hold ran out by now_ms, oldest hold first, at most limit.
  virtual Result<std::vector<Booking>> holds_due(int64_t now_ms, int32_t limit) = 0;

  /// The instrument's booking policy; nullopt when it has none (it books under default_policy()).
  virtual Result<std::optional<BookingPolicy>> policy(const std::string& instrument) = 0;
  /// The policies that let unused qualifications lapse (lapse_months > 0).
  virtual Result<std::vector<BookingPolicy>> lapsing_policies() = 0;
  /// Stores the instrument's policy, replacing the one it had; unknown_reference for an unknown instrument.
  virtual Status put_policy(const BookingPolicy& p, int64_t now_ms) = 0;

  /// Stores a closure (validate_closure passed); conflict if the id exists, unknown_reference for
  /// an unknown instrument.
  virtual Status add_closure(const Closure& c, int64_t now_ms) = 0;
  /// Closures overlapping [from_ms, to_ms) that close `instrument`: the site's holidays and its
  /// own, by start then id. instrument "" lists every closure of the site.
  virtual Result<std::vector<Closure>> closures(const std::string& instrument, int64_t from_ms, int64_t to_ms) = 0;
  /// One closure; nullopt if there is none with this id.
  virtual Result<std::optional<Closure>> closure(const std::string& id) = 0;
  /// Removes a closure (the span may be booked again); not_found for an unknown id.
  virtual Status remove_closure(const std::string& id) = 0;
  /// One booking, active or cancelled; nullopt if there is none with this id.
  virtual Result<std::optional<Booking>> get(const std::string& id) = 0;
  /// Stores a changed booking (interval, status, cancellation) as booking::Service decided it in
  /// the same unit of work; not_found if the id is unknown. Instrument and user do not change.
  virtual Status update(const Booking& b, int64_t now_ms) = 0;

  /// Bookings of the user (every status) starting at or after from_ms, by start then id, at most limit.
  virtual Result<std::vector<Booking>> of_user(const std::string& user, int64_t from_ms, int32_t limit) = 0;
  /// Bookings on the instrument (every status) starting at or after from_ms, by start then id, at most limit.
  virtual Result<std::vector<Booking>> of_instrument(const std::string& instrument, int64_t from_ms, int32_t limit) = 0;
  /// Sets the calendar feed token of a subject ("user" or "instrument" and its id): its SHA-256,
  /// replacing the subject's previous one (which stops working).
  virtual Status put_feed_token(const FeedToken& t) = 0;
  /// The feed a token hash opens; nullopt when none.
  virtual Result<std::optional<FeedToken>> feed_token(const std::string& hash) = 0;

  /// Stores a new waiting-list entry.
  virtual Status add_wait(const WaitEntry& e) = 0;
  /// Stores a changed entry (status, booking, decided_ms); not_found for an unknown id.
  virtual Status update_wait(const WaitEntry& e) = 0;
  /// One entry; nullopt when unknown.
  virtual Result<std::optional<WaitEntry>> wait_entry(const std::string& id) = 0;
  /// Waiting entries on the instrument overlapping [from_ms, to_ms), first come first (created, id).
  virtual Result<std::vector<WaitEntry>> waiting(const std::string& instrument, int64_t from_ms, int64_t to_ms) = 0;
  /// Entries (any status) on the instrument ("" = any) or of the user ("" = any), newest first, at most limit.
  virtual Result<std::vector<WaitEntry>> wait_entries(const std::string& instrument, const std::string& user,
                                                      int32_t limit) = 0;
  /// Waiting entries whose start has passed by now_ms, at most limit.
  virtual Result<std::vector<WaitEntry>> waits_due(int64_t now_ms, int32_t limit) = 0;
};

}  // namespace lg::server::booking
