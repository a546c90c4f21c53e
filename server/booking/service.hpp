// Creating a booking as one unit of work: load the admission facts, let booking::admit decide,
// insert. Atomic against concurrent writers, so two overlapping requests cannot both pass.
#pragma once

#include <cstdint>
#include <string>

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

  /// Cancels the booking (kept, with when and why): not_found for an unknown id, conflict when
  /// cancelled already. From then on it overlaps nothing and opens nothing.
  Result<BookingChange> cancel(const std::string& id, const std::string& reason, int64_t now_ms);

  /// Moves an active booking to [start_ms, end_ms), admitted by the same rules as a new one
  /// (qualification over the new interval, validate(), no overlap with another active booking).
  /// not_found for an unknown id, conflict when cancelled, not_allowed for an invalid interval or
  /// a qualification that does not cover it. An overlap is not an error: the change names the
  /// booking it overlaps and nothing is written.
  Result<BookingChange> move(const std::string& id, int64_t start_ms, int64_t end_ms, int64_t now_ms);

  /// Where a booking on this instrument is, as a calendar shows it (the bookings feed): the
  /// instrument's name and its lab's; the instrument's id and no lab when the directory does not
  /// know them (any more).
  Result<EventPlace> place(const std::string& instrument);

  /// Called by create() inside its unit of work after the booking is stored (the app enqueues
  /// the booking's notice there): a failure rolls the booking back.
  void on_created(std::function<Status(const Booking&, int64_t now_ms)> f) { on_created_ = std::move(f); }

 private:
  /// Loads the admission facts for candidate (in the caller's unit of work).
  Result<AdmissionFacts> facts_for(const Booking& candidate);
  /// The booking with this id, or not_found.
  Result<Booking> load(const std::string& id);

  UnitOfWork& uow_;
  Store& bookings_;
  directory::Store& directory_;
  qualification::Store& qualifications_;
  std::function<Status(const Booking&, int64_t)> on_created_;
};

}  // namespace lg::server::booking
