// Conduct and credit rules over plain values: detection of no-shows, late arrivals, overtime
// and late cancellations, the score and its recovery, blocks and waivers.
#include <doctest/doctest.h>

#include "labgate/common/time.hpp"
#include "server/conduct/rules.hpp"

using namespace lg::server::conduct;

namespace {
constexpr int64_t M = 60'000;
constexpr int64_t H = 60 * M;
constexpr int64_t D = 24 * H;
constexpr int64_t T = 1'800'000'000'000;  // the booking's start

BookingFacts booking(std::vector<BookingFacts::Session> sessions = {}) {
  BookingFacts b;
  b.booking = "b1";
  b.user = "alice";
  b.instrument = "nmr";
  b.start_ms = T;
  b.end_ms = T + 2 * H;
  b.sessions = std::move(sessions);
  return b;
}

std::vector<Kind> kinds(const std::vector<Event>& es) {
  std::vector<Kind> out;
  for (const auto& e : es) out.push_back(e.kind);
  return out;
}
}  // namespace

TEST_CASE("no-show: nothing before start + no_show_after, then a no-show when no session began by then") {
  const Policy p;  // 15 min, late after 5 min
  CHECK(detect(booking(), T + 15 * M - 1, p).empty());
  auto e = detect(booking(), T + 15 * M, p);
  REQUIRE(e.size() == 1);
  CHECK(e[0].kind == Kind::no_show);
  CHECK(e[0].at_ms == T + 15 * M);
  CHECK(e[0].points == p.no_show_points);
  CHECK(e[0].user == "alice");
  CHECK(e[0].booking == "b1");
  CHECK(e[0].detail.find("15 min") != std::string::npos);
  // the same facts later give the same event (detection is a function of the facts)
  CHECK(detect(booking(), T + 5 * D, p) == e);
  // a session that came after the threshold does not undo the no-show
  CHECK(kinds(detect(booking({{T + 20 * M, T + H}}), T + 3 * H, p)) == std::vector<Kind>{Kind::no_show});
  // a session that ended before the booking began is not this booking's
  CHECK(kinds(detect(booking({{T - 3 * H, T - 2 * H}}), T + 3 * H, p)) == std::vector<Kind>{Kind::no_show});
}

TEST_CASE("showing up: on time, early (a session already running), or late") {
  const Policy p;
  CHECK(detect(booking({{T + 2 * M, T + H}}), T + 3 * H, p).empty());        // within the late grace
  CHECK(detect(booking({{T - 10 * M, std::nullopt}}), T + H, p).empty());    // started early, still open
  CHECK(detect(booking({{T - 10 * M, T + H}}), T + 3 * H, p).empty());
  auto late = detect(booking({{T + 10 * M, T + H}}), T + 3 * H, p);
  REQUIRE(kinds(late) == std::vector<Kind>{Kind::late_arrival});
  CHECK(late[0].at_ms == T + 10 * M);
  CHECK(late[0].detail.find("10 min") != std::string::npos);
  // the first of several sessions counts
  CHECK(detect(booking({{T + 10 * M, T + 20 * M}, {T + 3 * M, T + 5 * M}}), T + 3 * H, p).empty());
}

TEST_CASE("overtime: a session past end + grace, closed or still running") {
  const Policy p;  // grace 15 min
  CHECK(detect(booking({{T, T + 2 * H + 15 * M}}), T + 4 * H, p).empty());
  auto over = detect(booking({{T, T + 2 * H + 40 * M}}), T + 4 * H, p);
  REQUIRE(kinds(over) == std::vector<Kind>{Kind::overtime});
  CHECK(over[0].at_ms == T + 2 * H + 40 * M);
  CHECK(over[0].detail.find("40 min") != std::string::npos);
  CHECK(detect(booking({{T, std::nullopt}}), T + 2 * H + 15 * M, p).empty());
  auto open = detect(booking({{T, std::nullopt}}), T + 2 * H + 16 * M, p);
  REQUIRE(kinds(open) == std::vector<Kind>{Kind::overtime});
  CHECK(open[0].at_ms == T + 2 * H + 15 * M);
  // late and over both
  CHECK(kinds(detect(booking({{T + 10 * M, T + 3 * H}}), T + 4 * H, p)) ==
        std::vector<Kind>{Kind::late_arrival, Kind::overtime});
}

TEST_CASE("cancellations: a late one is an event, a free one is nothing, and neither is a no-show") {
  const Policy p;
  BookingFacts late = booking();
  late.cancelled = true;
  late.late_cancel = true;
  late.cancelled_ms = T - H;
  auto e = detect(late, T + D, p);
  REQUIRE(kinds(e) == std::vector<Kind>{Kind::late_cancel});
  CHECK(e[0].at_ms == T - H);
  CHECK(e[0].points == p.late_cancel_points);
  BookingFacts free = late;
  free.late_cancel = false;
  CHECK(detect(free, T + D, p).empty());
  CHECK(settled(late, T - H, p));
}

TEST_CASE("settled only after end + grace + kSettleMs: an offline terminal's sessions may still come") {
  const Policy p;
  const int64_t last = T + 2 * H + 15 * M + kSettleMs;
  CHECK_FALSE(settled(booking(), last, p));
  CHECK(settled(booking(), last + 1, p));
}

TEST_CASE("score: each event's cost falls evenly to nothing over recovery_days, waived ones cost nothing") {
  Policy p;  // start 100, recovery 90 days
  Event e;
  e.at_ms = T;
  e.points = 20;
  CHECK(remaining_cost(e, T, p) == 20);
  CHECK(remaining_cost(e, T + 45 * D, p) == 10);
  CHECK(remaining_cost(e, T + 45 * D + 1, p) == 10);  // rounded up
  CHECK(remaining_cost(e, T + 89 * D, p) == 1);
  CHECK(remaining_cost(e, T + 90 * D, p) == 0);
  CHECK(score({e, e}, T, p) == 60);
  CHECK(score({e, e}, T + 45 * D, p) == 80);
  Event w = waived(e, T + D, "root", "the NMR was down");
  CHECK(remaining_cost(w, T + D, p) == 0);
  CHECK(score({e, w}, T + D, p) == 80);
  CHECK(w.waived_by == "root");
  CHECK(waive_refusal(w).has_value());
  CHECK_FALSE(waive_refusal(e).has_value());
  // never below 0
  Event big = e;
  big.points = 100;
  CHECK(score({big, big}, T, p) == 0);
}

TEST_CASE("blocks: a score below the line blocks for block_days, once, and a recovered score lifts it") {
  Policy p;  // below 60, 14 days
  CHECK_FALSE(block_for("alice", 60, T, std::nullopt, p));
  auto b = block_for("alice", 59, T, std::nullopt, p);
  REQUIRE(b);
  CHECK(b->user == "alice");
  CHECK(b->from_ms == T);
  CHECK(b->until_ms == T + 14 * D);
  CHECK(b->score == 59);
  CHECK(b->reason.find("59") != std::string::npos);
  CHECK(in_force(*b, T));
  CHECK(in_force(*b, T + 14 * D - 1));
  CHECK_FALSE(in_force(*b, T + 14 * D));
  // one in force: no second block; once it ended, a new event can block again
  CHECK_FALSE(block_for("alice", 40, T + D, b, p));
  CHECK(block_for("alice", 40, T + 15 * D, b, p));
  CHECK(lift(*b, 60, T + D, p));
  CHECK_FALSE(lift(*b, 59, T + D, p));
  Block lifted = *b;
  lifted.lifted_ms = T + D;
  CHECK_FALSE(in_force(lifted, T + 2 * D));
}

TEST_CASE("the policy is checked: thresholds in order, points within the score") {
  Policy p;
  CHECK_FALSE(validate(p));
  p.late_after_s = p.no_show_after_s;
  CHECK(validate(p)->find("late_after_s") == 0);
  p = Policy{};
  p.block_below = p.start_score + 1;
  CHECK(validate(p)->find("block_below") == 0);
  p = Policy{};
  p.no_show_points = 101;
  CHECK(validate(p).has_value());
  CHECK(kind_from("overtime") == Kind::overtime);
  CHECK_FALSE(kind_from("rude"));
  CHECK(std::string(to_string(Kind::late_cancel)) == "late_cancel");
}
