#include "server/booking/rules.hpp"

#include "labgate/common/time.hpp"
#include "server/qualification/rules.hpp"

namespace lg::server {

const char* to_string(BookingStatus s) {
  switch (s) {
    case BookingStatus::active:
      return "active";
    case BookingStatus::cancelled:
      return "cancelled";
  }
  return "active";
}

std::optional<BookingStatus> booking_status_from(std::string_view s) {
  for (auto v : {BookingStatus::active, BookingStatus::cancelled})
    if (s == to_string(v)) return v;
  return std::nullopt;
}

}  // namespace lg::server

namespace lg::server::booking {

bool overlaps(int64_t a_start, int64_t a_end, int64_t b_start, int64_t b_end) {
  return a_start < b_end && b_start < a_end;
}

std::optional<std::string> validate(int64_t start_ms, int64_t end_ms) {
  if (end_ms <= start_ms) return std::string("end: must be after start");
  if (end_ms - start_ms > kMaxBookingMs) return std::string("end: booking longer than 31 days");
  return std::nullopt;
}

const Booking* find_conflict(const std::vector<Booking>& existing, const Booking& candidate) {
  for (const auto& b : existing) {
    if (b.instrument != candidate.instrument || b.id == candidate.id) continue;
    if (b.status != BookingStatus::active) continue;
    if (overlaps(b.start_ms, b.end_ms, candidate.start_ms, candidate.end_ms)) return &b;
  }
  return nullptr;
}

Admission admit(const Booking& b, const AdmissionFacts& f) {
  if (!f.instrument_known) return {Admit::unknown_instrument, "instrument: unknown instrument '" + b.instrument + "'", ""};
  if (!f.user_known) return {Admit::unknown_user, "user: unknown user '" + b.user + "'", ""};
  if (!f.user_admin) {
    const std::string who = "user " + b.user + " has no ";
    if (!f.qualification) return {Admit::not_qualified, who + "qualification on instrument " + b.instrument, ""};
    const Qualification& q = *f.qualification;
    if (!qualification::covers(q, b.start_ms, b.end_ms)) {
      const std::string valid = "valid from " + time::format_utc(q.valid_from_ms) +
                                (q.valid_until_ms ? " until " + time::format_utc(*q.valid_until_ms) : "");
      return {Admit::not_qualified,
              who + "qualification on instrument " + b.instrument + " covering the booking (" +
                  time::format_utc(b.start_ms) + " to " + time::format_utc(b.end_ms) + "; " + valid + ")",
              ""};
    }
  }
  if (const Booking* c = find_conflict(f.overlapping, b)) {
    return {Admit::overlaps, "booking overlaps booking " + c->id, c->id};
  }
  return {};
}

std::optional<std::string> can_cancel(const Booking& b) {
  if (b.status == BookingStatus::cancelled) return "booking: " + b.id + " is cancelled already";
  return std::nullopt;
}

Booking cancelled(const Booking& b, int64_t now_ms, std::string reason) {
  Booking out = b;
  out.status = BookingStatus::cancelled;
  out.cancelled_ms = now_ms;
  out.cancel_reason = std::move(reason);
  return out;
}

std::optional<std::string> can_move(const Booking& b, int64_t start_ms, int64_t end_ms) {
  if (b.status == BookingStatus::cancelled) return "booking: " + b.id + " is cancelled; a cancelled booking is not moved";
  return validate(start_ms, end_ms);
}

Booking moved(const Booking& b, int64_t start_ms, int64_t end_ms) {
  Booking out = b;
  out.start_ms = start_ms;
  out.end_ms = end_ms;
  return out;
}

int64_t feed_from(int64_t now_ms) { return now_ms - kMaxBookingMs; }

ical::Event calendar_event(const Booking& b, const EventPlace& where, std::string_view site, int64_t stamp_ms) {
  ical::Event e;
  e.uid = b.id + "@" + std::string(site);
  e.stamp_ms = stamp_ms;
  e.start_ms = b.start_ms;
  e.end_ms = b.end_ms;
  e.summary = where.instrument.empty() ? b.instrument : where.instrument;
  e.location = where.lab;
  e.description = "Booking " + b.id + "\nInstrument: " + b.instrument + "\nUser: " + b.user;
  switch (b.status) {
    case BookingStatus::active:
      e.status = ical::EventStatus::confirmed;
      break;
    case BookingStatus::cancelled:
      e.status = ical::EventStatus::cancelled;
      e.description += "\nCancelled" + (b.cancel_reason.empty() ? std::string() : ": " + b.cancel_reason);
      break;
  }
  return e;
}

}  // namespace lg::server::booking
