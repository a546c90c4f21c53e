// One seeded run of labgate-sim: real terminal agents (lg::terminal::Agent on SQLite files) and
// the real server (lg::server::App on a SqliteStore file) wired through the in-memory broker,
// on virtual time, with a card-swipe workload and seeded faults (message loss, duplication,
// reordering and delay, partitions, broker outages, crashes and restarts of terminals and
// server). Invariants are checked as the run goes and after a quiet period in which faults stop
// and everything drains. docs/SIMULATION.md describes the model and the invariants.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace lg::sim {

/// What to run.
struct Options {
  uint64_t seed = 1;
  int steps = 300;                ///< workload decisions (about 2 virtual seconds apart)
  int terminals = 3;
  std::filesystem::path dir;      ///< an existing directory for this run's SQLite files
  /// Self-test of the checker: "ack-ahead" (one ack goes out beyond what the server holds),
  /// "server-forgets" (the server loses one record it acked) or "stranger-after-swap" (after a
  /// device was replaced, a third key sends a state for the id). The run must then fail.
  std::string canary;
  /// Fault kinds this run never injects (names as in the profile line, e.g. "clock_trouble").
  std::vector<std::string> without;
  /// Receives every trace line as it happens (--verbose), when set.
  std::function<void(const std::string&)> live_trace;
};

/// Counts for the summary line.
struct Counters {
  uint64_t swipes = 0;
  uint64_t sessions_started = 0;
  uint64_t sessions_ended = 0;
  uint64_t records = 0;
  uint64_t terminal_crashes = 0;
  uint64_t terminal_restarts = 0;
  uint64_t server_crashes = 0;
  uint64_t partitions = 0;
  uint64_t outages = 0;
  uint64_t admin_changes = 0;
  uint64_t delivered = 0;
  uint64_t dropped = 0;
  uint64_t duplicated = 0;
  uint64_t delayed = 0;
  uint64_t lost_in_flight = 0;
  int64_t charged_fen = 0;
  int64_t unbilled_relay_ms = 0;  ///< relay-on time no session was billed for (crashes)
  uint64_t replacements = 0;      ///< devices replaced and re-enrolled (terminal_replace)
  uint64_t old_device_refused = 0;  ///< messages of replaced devices the server refused
  int64_t own_bundle_wait_ms = 0;   ///< longest wait of a new device for a bundle built for its key
};

/// How a run ended.
struct Outcome {
  bool ok = true;
  std::string invariant;  ///< the invariant that failed ("" when ok)
  std::string detail;     ///< what was wrong
  int64_t step = 0;       ///< workload step at the failure (steps + 1 during the quiet period)
  int64_t virtual_ms = 0; ///< virtual time at the end
  std::vector<std::string> trace;  ///< every trace line of the run
  uint64_t digest = 0;    ///< hash of the trace; a replay of the seed yields the same
  std::string profile;    ///< the seed's fault profile, one line
  Counters counters;
};

/// Runs one seed. Never throws for an invariant violation: it is reported in the Outcome.
Outcome run(const Options& o);

}  // namespace lg::sim
