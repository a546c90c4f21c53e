#include "server/booking/service.hpp"

#include "labgate/common/crypto.hpp"
#include "server/core/errors.hpp"

namespace lg::server::booking {

Result<AdmissionFacts> Service::facts_for(const Booking& b) {
  AdmissionFacts f;
  auto inst = directory_.instrument(b.instrument);
  if (!inst) return inst.error();
  f.instrument_known = inst->has_value();
  auto user = directory_.user(b.user);
  if (!user) return user.error();
  f.user_known = user->has_value();
  f.user_admin = f.user_known && (*user)->admin;
  if (f.instrument_known && f.user_known) {
    auto q = qualifications_.get(b.user, b.instrument);
    if (!q) return q.error();
    f.qualification = *q;
    auto o = bookings_.overlapping(b.instrument, b.start_ms, b.end_ms);
    if (!o) return o.error();
    f.overlapping = std::move(*o);
  }
  return f;
}

Result<Booking> Service::load(const std::string& id) {
  auto got = bookings_.get(id);
  if (!got) return got.error();
  if (!*got) return domain_error(Errc::not_found, "booking: no booking '" + id + "'");
  return **got;
}

Result<BookingOutcome> Service::create(const Booking& b, int64_t now_ms) {
  return transact<BookingOutcome>(uow_, [&]() -> Result<BookingOutcome> {
    auto f = facts_for(b);
    if (!f) return f.error();
    Booking candidate = b;
    if (candidate.id.empty()) candidate.id = crypto::uuid7();
    const Admission a = admit(candidate, *f);
    switch (a.verdict) {
      case Admit::ok:
        break;
      case Admit::unknown_instrument:
      case Admit::unknown_user:
        return domain_error(Errc::unknown_reference, a.reason);
      case Admit::not_qualified:
        return domain_error(Errc::not_allowed, a.reason);
      case Admit::overlaps:
        return BookingOutcome{"", a.conflict};
    }
    LG_TRY(bookings_.insert(candidate, now_ms));
    if (on_created_) LG_TRY(on_created_(candidate, now_ms));
    return BookingOutcome{candidate.id, ""};
  });
}

Result<BookingChange> Service::cancel(const std::string& id, const std::string& reason, int64_t now_ms) {
  return transact<BookingChange>(uow_, [&]() -> Result<BookingChange> {
    auto before = load(id);
    if (!before) return before.error();
    if (auto why = can_cancel(*before)) return domain_error(Errc::conflict, *why);
    const Booking after = cancelled(*before, now_ms, reason);
    LG_TRY(bookings_.update(after, now_ms));
    return BookingChange{*before, after, ""};
  });
}

Result<BookingChange> Service::move(const std::string& id, int64_t start_ms, int64_t end_ms, int64_t now_ms) {
  return transact<BookingChange>(uow_, [&]() -> Result<BookingChange> {
    auto before = load(id);
    if (!before) return before.error();
    if (auto why = can_move(*before, start_ms, end_ms)) {
      return domain_error(before->status == BookingStatus::cancelled ? Errc::conflict : Errc::not_allowed, *why);
    }
    const Booking after = moved(*before, start_ms, end_ms);
    auto f = facts_for(after);
    if (!f) return f.error();
    const Admission a = admit(after, *f);
    switch (a.verdict) {
      case Admit::ok:
        break;
      case Admit::unknown_instrument:
      case Admit::unknown_user:
        return domain_error(Errc::unknown_reference, a.reason);
      case Admit::not_qualified:
        return domain_error(Errc::not_allowed, a.reason);
      case Admit::overlaps:
        return BookingChange{*before, *before, a.conflict};
    }
    LG_TRY(bookings_.update(after, now_ms));
    return BookingChange{*before, after, ""};
  });
}

Result<EventPlace> Service::place(const std::string& instrument) {
  EventPlace where{instrument, ""};
  auto inst = directory_.instrument(instrument);
  if (!inst) return inst.error();
  if (!*inst) return where;
  if (!(*inst)->name.empty()) where.instrument = (*inst)->name;
  auto lab = directory_.lab((*inst)->lab);
  if (!lab) return lab.error();
  if (*lab) where.lab = (*lab)->name;
  return where;
}

}  // namespace lg::server::booking
