#include <doctest/doctest.h>

#include "server/booking/rules.hpp"

using namespace lg::server;
using namespace lg::server::booking;

TEST_CASE("overlaps treats bookings as half-open intervals") {
  CHECK(overlaps(0, 10, 5, 15));
  CHECK(overlaps(5, 15, 0, 10));
  CHECK(overlaps(0, 10, 2, 3));   // contained
  CHECK(overlaps(2, 3, 0, 10));   // containing
  CHECK(overlaps(0, 10, 0, 10));  // identical
  CHECK_FALSE(overlaps(0, 10, 10, 20));  // back to back
  CHECK_FALSE(overlaps(10, 20, 0, 10));
  CHECK_FALSE(overlaps(0, 10, 11, 20));
}

TEST_CASE("validate requires end after start and a bounded length") {
  CHECK_FALSE(validate(0, 1).has_value());
  REQUIRE(validate(10, 10).has_value());
  CHECK(validate(10, 10)->find("end") == 0);
  CHECK(validate(10, 5).has_value());
  CHECK(validate(0, kMaxBookingMs + 1).has_value());
  CHECK_FALSE(validate(0, kMaxBookingMs).has_value());
}

TEST_CASE("find_conflict only looks at the same instrument") {
  std::vector<Booking> existing{{"b1", "xrd", "alice", 0, 100}, {"b2", "sem", "bob", 100, 200}};
  Booking c{"", "xrd", "bob", 50, 150};
  const Booking* hit = find_conflict(existing, c);
  REQUIRE(hit != nullptr);
  CHECK(hit->id == "b1");
  CHECK(find_conflict(existing, Booking{"", "xrd", "bob", 100, 200}) == nullptr);
  CHECK(find_conflict(existing, Booking{"", "tem", "bob", 0, 1000}) == nullptr);
}

TEST_CASE("admission: instrument and user known, qualified for the whole booking (or admin), no overlap") {
  using namespace lg::server::booking;
  const int64_t h = 3'600'000;
  const Booking b{"new", "xrd", "alice", 10 * h, 12 * h};
  AdmissionFacts f;
  f.instrument_known = true;
  f.user_known = true;
  CHECK(admit(b, f).verdict == Admit::not_qualified);
  f.qualification = Qualification{"alice", "xrd", 0, std::nullopt};
  CHECK(admit(b, f).verdict == Admit::ok);
  f.qualification = Qualification{"alice", "xrd", 0, 11 * h};  // ends inside the booking
  auto partial = admit(b, f);
  CHECK(partial.verdict == Admit::not_qualified);
  CHECK(partial.reason.find("covering the booking") != std::string::npos);
  f.user_admin = true;  // an admin needs no qualification
  CHECK(admit(b, f).verdict == Admit::ok);
  f.overlapping = {Booking{"b1", "xrd", "bob", 11 * h, 13 * h}};
  auto clash = admit(b, f);
  CHECK(clash.verdict == Admit::overlaps);
  CHECK(clash.conflict == "b1");
  f.overlapping = {Booking{"b2", "xrd", "bob", 12 * h, 13 * h}};  // back to back
  CHECK(admit(b, f).verdict == Admit::ok);
  f.user_known = false;
  CHECK(admit(b, f).verdict == Admit::unknown_user);
  f.instrument_known = false;
  CHECK(admit(b, f).verdict == Admit::unknown_instrument);
}

TEST_CASE("cancel and move rules: a cancelled booking is not cancelled again nor moved, and overlaps nothing") {
  const Booking b{"b1", "xrd", "alice", 100, 200};
  CHECK_FALSE(can_cancel(b).has_value());
  const Booking c = cancelled(b, 50, "sample not ready");
  CHECK(c.status == BookingStatus::cancelled);
  CHECK(c.cancelled_ms == 50);
  CHECK(c.cancel_reason == "sample not ready");
  CHECK(c.start_ms == 100);
  REQUIRE(can_cancel(c).has_value());
  CHECK(can_cancel(c)->find("cancelled already") != std::string::npos);

  CHECK_FALSE(can_move(b, 300, 400).has_value());
  REQUIRE(can_move(b, 400, 300).has_value());  // validate() applies
  CHECK(can_move(b, 400, 300)->find("end") == 0);
  CHECK(can_move(c, 300, 400).has_value());
  const Booking m = moved(b, 300, 400);
  CHECK(m.id == "b1");
  CHECK(m.start_ms == 300);
  CHECK(m.end_ms == 400);

  // a cancelled booking is no conflict; the booking itself (same id) is none either
  CHECK(find_conflict({c}, Booking{"new", "xrd", "bob", 150, 250}) == nullptr);
  CHECK(find_conflict({b}, moved(b, 150, 250)) == nullptr);
  CHECK(find_conflict({b}, Booking{"new", "xrd", "bob", 150, 250}) != nullptr);
  CHECK(to_string(BookingStatus::cancelled) == std::string("cancelled"));
  CHECK(booking_status_from("active") == BookingStatus::active);
  CHECK_FALSE(booking_status_from("deleted").has_value());
}

TEST_CASE("calendar_event: a booking as the feed's event, its status, names and the feed's first start") {
  const Booking b{"b1", "xrd", "alice", 3'600'000, 7'200'000};
  const auto e = calendar_event(b, EventPlace{"Powder XRD", "X-ray lab"}, "demo", 42'000);
  CHECK(e.uid == "b1@demo");
  CHECK(e.stamp_ms == 42'000);
  CHECK(e.start_ms == 3'600'000);
  CHECK(e.end_ms == 7'200'000);
  CHECK(e.summary == "Powder XRD");
  CHECK(e.location == "X-ray lab");
  CHECK(e.description == "Booking b1\nInstrument: xrd\nUser: alice");
  CHECK(e.status == lg::ical::EventStatus::confirmed);

  // Cancelled: CANCELLED, with the reason when one was given.
  const auto c = calendar_event(cancelled(b, 1000, "sample not ready"), EventPlace{"Powder XRD", ""}, "demo", 42'000);
  CHECK(c.status == lg::ical::EventStatus::cancelled);
  CHECK(c.description == "Booking b1\nInstrument: xrd\nUser: alice\nCancelled: sample not ready");
  CHECK(c.location.empty());
  CHECK(calendar_event(cancelled(b, 1000, ""), EventPlace{}, "demo", 0).description ==
        "Booking b1\nInstrument: xrd\nUser: alice\nCancelled");
  // An instrument the directory no longer names: its id.
  CHECK(calendar_event(b, EventPlace{}, "demo", 0).summary == "xrd");

  // The feed starts the longest booking back, so a booking still running at now is in it.
  CHECK(feed_from(kMaxBookingMs + 5) == 5);
}
