// Creating a booking as one unit of work: load the admission facts, let booking::admit decide,
// insert. Atomic against concurrent writers, so two overlapping requests cannot both pass.
#pragma once

#include <cstdint>

#include "server/booking/rules.hpp"
#include "server/booking/store.hpp"
#include "server/core/unit_of_work.hpp"
#include "server/directory/store.hpp"
#include "server/qualification/store.hpp"

namespace lg::server::booking {

class Service {
 public:
  Service(UnitOfWork& uow, Store& bookings, directory::Store& directory, qualification::Store& qualifications)
      : uow_(uow), bookings_(bookings), directory_(directory), qualifications_(qualifications) {}

  /// Creates the booking (interval already validated; id generated when empty). An overlap is
  /// not an error: the outcome names the booking it overlaps. unknown_reference for an unknown
  /// instrument or user, not_allowed without a covering qualification (unless admin).
  Result<BookingOutcome> create(const Booking& b, int64_t now_ms);

 private:
  UnitOfWork& uow_;
  Store& bookings_;
  directory::Store& directory_;
  qualification::Store& qualifications_;
};

}  // namespace lg::server::booking
