// The rules that refuse signed records a buggy or compromised terminal sends.
#include <doctest/doctest.h>

#include "server/usage/rules.hpp"

using namespace lg;
using namespace lg::server::usage;

TEST_CASE("check_resource binds every resource-naming record to the terminal's resource") {
  proto::Record r;
  r.seq = 7;
  proto::Access a;
  a.resource = "inst-tem";
  r.body = a;
  auto bad = check_resource(r, "inst-xrd");
  REQUIRE(bad);
  CHECK(bad->reason == "resource_mismatch");
  CHECK(bad->detail == "access seq 7 names resource inst-tem, terminal is enrolled for inst-xrd");
  CHECK_FALSE(check_resource(r, "inst-tem"));
  r.body = proto::MeterSample{"inst-tem", 100, 5};
  CHECK(check_resource(r, "inst-xrd"));
  r.body = proto::Alarm{"relay_fault", "x"};  // names no resource
  CHECK_FALSE(check_resource(r, "inst-xrd"));
}

TEST_CASE("check_duration: ceiling, sign, and agreement with the wall clock when it is trusted") {
  const int64_t h = 3'600'000;
  CHECK_FALSE(check_duration({0, h, h, true}));
  CHECK(check_duration({0, h, -1, false})->reason == "bad_duration");
  CHECK(check_duration({0, 0, 366LL * 24 * h, false}));  // ceiling holds even unsynced
  CHECK_FALSE(check_duration({0, 31LL * 24 * h, 31LL * 24 * h, true}));
  CHECK(check_duration({0, 32LL * 24 * h, 32LL * 24 * h, true}));
  CHECK(check_duration({h, 0, 0, true}));           // end before start
  CHECK_FALSE(check_duration({h, 0, 0, false}));    // ...unless the clock was not synced
  // tolerance: 120 s + 1% of the span
  CHECK(duration_tolerance_ms(h) == 120'000 + 36'000);
  CHECK_FALSE(check_duration({0, h, h + 156'000, true}));
  CHECK(check_duration({0, h, h + 156'001, true}));
  CHECK_FALSE(check_duration({0, h, h - 156'000, true}));
  CHECK(check_duration({0, h, h - 156'001, true}));
  CHECK(check_duration({0, 0, 366LL * 24 * h, true})->detail.find("longer than") != std::string::npos);
}

namespace {
lg::proto::Record rec(uint64_t seq, std::string id) {
  lg::proto::Record r;
  r.seq = seq;
  r.id = std::move(id);
  return r;
}
}  // namespace

TEST_CASE("dedupe: same record again is a duplicate, another record at the seq or a reused id is rejected") {
  CHECK(dedupe(rec(5, "a"), StoredKeys{}).kind == Dedupe::fresh);
  CHECK(dedupe(rec(5, "a"), StoredKeys{std::string("a"), {}, 0}).kind == Dedupe::duplicate);
  auto other = dedupe(rec(5, "b"), StoredKeys{std::string("a"), {}, 0});
  CHECK(other.kind == Dedupe::seq_conflict);
  CHECK(other.detail == "seq 5 already holds record a, got b");
  auto reused = dedupe(rec(6, "a"), StoredKeys{std::nullopt, std::string("t1"), 5});
  CHECK(reused.kind == Dedupe::record_id_conflict);
  CHECK(reused.detail == "record id a already stored as t1#5, got seq 6");
}

TEST_CASE("charge-once: a session is closed (and charged) by exactly one end record") {
  CHECK(close_session(SessionFacts{false, false, "", ""}) == Close::insert_closed);
  CHECK(close_session(SessionFacts{true, false, "alice", ""}) == Close::close_open);
  CHECK(close_session(SessionFacts{true, true, "alice", "r9"}) == Close::already_closed);
}

TEST_CASE("attribution: reported user, else the session's, else the card's active owner") {
  CHECK(attribute("bob", "alice", "carol").user == "bob");
  CHECK_FALSE(attribute("bob", "alice", "carol").from_card);
  CHECK(attribute("", "alice", "carol").user == "alice");
  auto by_card = attribute("", "", "carol");
  CHECK(by_card.user == "carol");
  CHECK(by_card.from_card);
  CHECK(attribute("", "", "").user.empty());
  CHECK_FALSE(attribute("", "", "").from_card);
}

TEST_CASE("a session's wall-clock span is trusted only when both ends are known to be synced") {
  CHECK(wall_clock_trusted(true, {}, true));
  CHECK_FALSE(wall_clock_trusted(true, {}, false));
  // the start record has not arrived (yet): its clock is unknown, so the span is not compared;
  // the verdict does not depend on which record came first in a way that refuses a good session
  CHECK_FALSE(wall_clock_trusted(true, {}, std::nullopt));
  CHECK_FALSE(wall_clock_trusted(false, {}, true));
  CHECK_FALSE(wall_clock_trusted(true, {"clock_unsynced"}, true));
  CHECK_FALSE(wall_clock_trusted(true, {"start_clock_unsynced"}, true));
}

TEST_CASE("the contiguous ack stops at the first gap and never goes back") {
  CHECK(contiguous_ack(0, {}) == 0);
  CHECK(contiguous_ack(0, {1, 2, 3}) == 3);
  CHECK(contiguous_ack(0, {2, 3}) == 0);
  CHECK(contiguous_ack(4, {5, 6, 8, 9}) == 6);
  CHECK(contiguous_ack(7, {3, 4}) == 7);
}

TEST_CASE("access_reason: an unknown card with a known holder is not_qualified, everything else as the terminal said") {
  using lg::proto::Reason;
  const Attribution known{"alice", true};
  const Attribution nobody{"", false};
  CHECK(access_reason(Reason::unknown_card, known) == Reason::not_qualified);
  CHECK(access_reason(Reason::unknown_card, nobody) == Reason::unknown_card);
  for (const auto r : {Reason::card_revoked, Reason::user_suspended, Reason::instrument_unavailable,
                       Reason::not_valid_now, Reason::qualified, Reason::admin}) {
    CHECK(access_reason(r, known) == r);
  }
}
