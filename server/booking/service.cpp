#include "server/booking/service.hpp"

#include "labgate/common/crypto.hpp"
#include "server/core/errors.hpp"

namespace lg::server::booking {

Result<BookingOutcome> Service::create(const Booking& b, int64_t now_ms) {
  return transact<BookingOutcome>(uow_, [&]() -> Result<BookingOutcome> {
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
    Booking candidate = b;
    if (candidate.id.empty()) candidate.id = crypto::uuid7();
    const Admission a = admit(candidate, f);
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
    return BookingOutcome{candidate.id, ""};
  });
}

}  // namespace lg::server::booking
