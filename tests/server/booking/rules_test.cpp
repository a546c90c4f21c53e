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
