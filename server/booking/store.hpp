// The bookings' store.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "labgate/common/result.hpp"
#include "server/booking/model.hpp"
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
  /// Active bookings on the instrument overlapping [from_ms, to_ms), by start then id (cancelled
  /// ones overlap nothing).
  virtual Result<std::vector<Booking>> overlapping(const std::string& instrument, int64_t from_ms, int64_t to_ms) = 0;
  /// One booking, active or cancelled; nullopt if there is none with this id.
  virtual Result<std::optional<Booking>> get(const std::string& id) = 0;
  /// Stores a changed booking (interval, status, cancellation) as booking::Service decided it in
  /// the same unit of work; not_found if the id is unknown. Instrument and user do not change.
  virtual Status update(const Booking& b, int64_t now_ms) = 0;
};

}  // namespace lg::server::booking
