// Creating a booking as one unit of work: load the admission facts, let booking::admit decide,
// insert. Atomic against concurrent writers, so two overlapping requests cannot both pass.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "labgate/common/defaults.hpp"

#include "server/booking/rules.hpp"
#include "server/booking/store.hpp"
#include "server/core/unit_of_work.hpp"
#include "server/directory/store.hpp"
#include "server/qualification/store.hpp"

namespace lg::server::booking {

class Service {
 public:
  /// tz: the site time zone, in which the booking policies' hours, grids and weeks are read.
  Service(UnitOfWork& uow, Store& bookings, directory::Store& directory, qualification::Store& qualifications,
          std::string tz = std::string(defaults::kTimeZone))
      : uow_(uow), bookings_(bookings), directory_(directory), qualifications_(qualifications), tz_(std::move(tz)) {}

  /// Creates the booking (interval already validated; id generated when empty; booked_by and
  /// account as given). An overlap or a booking rule's refusal is not an error: the outcome names
  /// the booking it overlaps or the rule. A booking the instrument's policy sends for approval is
  /// stored pending, holding its slot until hold_until(). unknown_reference for an unknown
  /// instrument or user, not_allowed without a covering qualification (unless admin).
  Result<BookingOutcome> create(const Booking& b, int64_t now_ms);

  /// Cancels an active or pending booking (kept, with when and why, and whether it was late under
  /// the policy's cancel_free_s): not_found for an unknown id, conflict when it holds no slot. From
  /// then on it overlaps nothing and opens nothing.
  Result<BookingChange> cancel(const std::string& id, const std::string& reason, int64_t now_ms);
  /// Books every occurrence (intervals) of a series for tmpl's instrument, user, account and booker,
  /// in one unit of work, each admitted like create() (the series' earlier occurrences count
  /// toward the quotas). skip_conflicts: the refused occurrences are left out and listed; else
  /// one refusal books nothing and the outcome lists every refused occurrence (created empty).
  /// unknown_reference for an unknown instrument or user.
  /// Puts e (instrument, user, interval, account, booker) on the waiting list of a taken interval,
  /// when the user could book it were it free (refusal says why not, or that it is free).
  Result<WaitOutcome> join_waitlist(WaitEntry e, int64_t now_ms);
  /// Takes a waiting entry off the list; not_found, or conflict when it is no longer waiting.
  Result<std::pair<WaitEntry, WaitEntry>> withdraw_wait(const std::string& id, int64_t now_ms);
  /// Marks the waiting entries whose start has passed expired; returns them.
  Result<std::vector<WaitEntry>> expire_waits(int64_t now_ms, int32_t limit = 500);
  /// Called inside the unit of work that promoted a waiting entry, with the booking it became.
  void on_promoted(std::function<Status(const WaitEntry&, const Booking&, int64_t now_ms)> f) {
    on_promoted_ = std::move(f);
  }

  Result<SeriesOutcome> create_series(const Booking& tmpl, const std::vector<std::pair<int64_t, int64_t>>& intervals,
                                      bool skip_conflicts, int64_t now_ms);

  /// Approves a pending booking (it becomes active): not_found, or conflict when not pending.
  Result<BookingChange> approve(const std::string& id, int64_t now_ms);
  /// Marks whether staff will be present during the booking (a supervised user may use the
  /// instrument only in a staffed booking). conflict when it holds no slot (cancelled, refused,
  /// expired) or is marked so already.
  Result<BookingChange> set_staffed(const std::string& id, bool staffed, int64_t now_ms);
  /// Refuses a pending booking with a reason (kept; it frees its slot): not_found, or conflict
  /// when not pending.
  Result<BookingChange> refuse(const std::string& id, const std::string& reason, int64_t now_ms);
  /// Expires the pending bookings whose hold ran out by now_ms (at most limit), each in its own
  /// unit of work; returns them as changed.
  Result<std::vector<BookingChange>> expire_holds(int64_t now_ms, int32_t limit = 100);

  /// The instrument's booking policy, or default_policy() when it has none; not_found for an
  /// unknown instrument.
  Result<BookingPolicy> policy(const std::string& instrument);
  /// Replaces the instrument's policy (validate_policy passed); returns the one before.
  Result<BookingPolicy> put_policy(const BookingPolicy& p, int64_t now_ms);

  /// Adds a closure (validate_closure passed; id generated when empty). Maintenance cancels the
  /// instrument's active and pending bookings it overlaps in the same unit of work, reason
  /// "maintenance: <its reason>"; they are returned.
  Result<std::vector<BookingChange>> add_closure(Closure& c, int64_t now_ms);

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
  /// Called inside the unit of work of a decision the booking's user should hear of, with the
  /// booking after it: approved (active), refused, expired, or cancelled by maintenance. A
  /// failure rolls the decision back.
  void on_decided(std::function<Status(const Booking&, int64_t now_ms)> f) { on_decided_ = std::move(f); }
  /// Asked inside create() and move()'s unit of work: why the user may not book now (a block from
  /// booking after no-shows: "..."), or nullopt. Unset: nobody is blocked.
  void blocked_by(std::function<Result<std::optional<std::string>>(const std::string& user, int64_t now_ms)> f) {
    blocked_ = std::move(f);
  }

 private:
  /// Books, first come first, the waiting entries over [from_ms, to_ms) on the instrument that are
  /// admitted now (in the caller's unit of work, after a change freed that interval).
  Result<std::vector<WaitEntry>> promote(const std::string& instrument, int64_t from_ms, int64_t to_ms, int64_t now_ms);
  /// create() inside the caller's unit of work.
  Result<BookingOutcome> create_in_uow(const Booking& b, int64_t now_ms);
  /// Loads the admission facts for candidate (in the caller's unit of work).
  Result<AdmissionFacts> facts_for(const Booking& candidate);
  /// The booking with this id, or not_found.
  Result<Booking> load(const std::string& id);

  /// The instrument's policy or the defaults (in the caller's unit of work).
  Result<BookingPolicy> policy_in_uow(const std::string& instrument);

  UnitOfWork& uow_;
  Store& bookings_;
  directory::Store& directory_;
  qualification::Store& qualifications_;
  std::function<Status(const Booking&, int64_t)> on_created_;
  std::function<Status(const Booking&, int64_t)> on_decided_;
  std::function<Result<std::optional<std::string>>(const std::string&, int64_t)> blocked_;
  std::function<Status(const WaitEntry&, const Booking&, int64_t)> on_promoted_;
  std::string tz_;
};

}  // namespace lg::server::booking
