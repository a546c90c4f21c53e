#include "server/usage/rules.hpp"

#include <algorithm>

#include <cstdlib>
#include <variant>

namespace lg::server::usage {

namespace {
std::string hours(int64_t ms) {
  const int64_t tenths = ms / 360'000;
  return std::to_string(tenths / 10) + "." + std::to_string(std::llabs(tenths % 10)) + " h";
}
}  // namespace

std::string_view record_resource(const proto::Record& r) {
  return std::visit(
      [](const auto& b) -> std::string_view {
        using T = std::decay_t<decltype(b)>;
        if constexpr (std::is_same_v<T, proto::Access> || std::is_same_v<T, proto::SessionStart> ||
                      std::is_same_v<T, proto::SessionEnd> || std::is_same_v<T, proto::MeterSample>) {
          return b.resource;
        } else {
          return {};
        }
      },
      r.body);
}

std::optional<Refusal> check_resource(const proto::Record& r, std::string_view terminal_resource) {
  const std::string_view named = record_resource(r);
  if (named.empty() || named == terminal_resource) return std::nullopt;
  return Refusal{"resource_mismatch", std::string(proto::to_string(r.kind())) + " seq " + std::to_string(r.seq) +
                                          " names resource " + std::string(named) + ", terminal is enrolled for " +
                                          std::string(terminal_resource)};
}

int64_t duration_tolerance_ms(int64_t span_ms) {
  const int64_t span = span_ms < 0 ? 0 : span_ms;
  return kClockStepToleranceMs + span / 1000 * kClockDriftPerMille;
}

std::optional<Refusal> check_duration(const DurationFacts& f) {
  if (f.duration_ms < 0) return Refusal{"bad_duration", "duration_ms " + std::to_string(f.duration_ms) + " is negative"};
  if (f.duration_ms > kMaxSessionMs) {
    return Refusal{"bad_duration", "duration " + hours(f.duration_ms) + " is longer than the " +
                                       hours(kMaxSessionMs) + " a session may be billed without review"};
  }
  if (!f.wall_clock_trusted) return std::nullopt;
  const int64_t span = f.end_ms - f.start_ms;
  if (span < 0) return Refusal{"bad_duration", "end is " + std::to_string(-span) + " ms before start"};
  const int64_t tolerance = duration_tolerance_ms(span);
  const int64_t diff = f.duration_ms - span;
  if (diff > tolerance || -diff > tolerance) {
    return Refusal{"bad_duration", "duration " + std::to_string(f.duration_ms) + " ms against a wall-clock span of " +
                                       std::to_string(span) + " ms (allowed difference " +
                                       std::to_string(tolerance) + " ms)"};
  }
  return std::nullopt;
}

bool wall_clock_trusted(bool end_synced, const std::vector<std::string>& end_flags, std::optional<bool> start_synced) {
  if (!end_synced) return false;
  for (const auto& f : end_flags) {
    if (f == "clock_unsynced" || f == "start_clock_unsynced") return false;
  }
  return start_synced.value_or(false);
}

DedupeVerdict dedupe(const proto::Record& r, const StoredKeys& stored) {
  if (stored.id_at_seq) {
    if (*stored.id_at_seq == r.id) return {Dedupe::duplicate, ""};
    return {Dedupe::seq_conflict,
            "seq " + std::to_string(r.seq) + " already holds record " + *stored.id_at_seq + ", got " + r.id};
  }
  if (stored.terminal_of_id) {
    return {Dedupe::record_id_conflict, "record id " + r.id + " already stored as " + *stored.terminal_of_id + "#" +
                                            std::to_string(stored.seq_of_id) + ", got seq " + std::to_string(r.seq)};
  }
  return {Dedupe::fresh, ""};
}

proto::Reason access_reason(proto::Reason terminal_reason, const Attribution& who) {
  if (terminal_reason == proto::Reason::unknown_card && !who.user.empty()) return proto::Reason::not_qualified;
  return terminal_reason;
}

Attribution attribute(std::string_view reported, std::string_view session_user, std::string_view card_owner) {
  if (!reported.empty()) return {std::string(reported), false};
  if (!session_user.empty()) return {std::string(session_user), false};
  return {std::string(card_owner), !card_owner.empty()};
}

Close close_session(const SessionFacts& s) {
  if (!s.exists) return Close::insert_closed;
  if (s.closed) return Close::already_closed;
  return Close::close_open;
}

uint64_t contiguous_ack(uint64_t acked, const std::vector<uint64_t>& stored_above) {
  for (uint64_t seq : stored_above) {
    if (seq <= acked) continue;
    if (seq != acked + 1) break;
    acked = seq;
  }
  return acked;
}

}  // namespace lg::server::usage
