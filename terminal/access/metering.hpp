// Session metering math: durations from the monotonic clock (across restarts and reboots) and
// energy from a cumulative meter counter. Pure: no clocks, no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace lg::terminal {

/// How far a session has run: elapsed = base + (steady_now - steady_anchor). A fresh session
/// has base 0 and anchor = steady clock at start; a session recovered after a reboot gets a new
/// anchor and a base carried over from its last checkpoint.
struct SessionClock {
  int64_t steady_anchor_ms = 0;
  int64_t elapsed_base_ms = 0;
  std::string boot_id;  ///< kernel boot the anchor belongs to
  bool operator==(const SessionClock&) const = default;
};

/// Elapsed milliseconds of a session at steady_now (never negative).
int64_t elapsed_ms(const SessionClock& c, int64_t steady_now_ms);

/// A wall-clock reading and whether the kernel said the clock was NTP-synced when it was taken.
struct WallReading {
  int64_t ms = 0;
  bool synced = false;
};

/// A session clock re-anchored after a restart, and what could not be counted yet.
struct Rebased {
  SessionClock clock;
  /// Set when the downtime of a reboot could not be measured yet because the wall clock is not
  /// synced now: the (synced) wall time of the last checkpoint before the reboot. settle_gap()
  /// adds the downtime once the clock is synced (same boot).
  std::optional<int64_t> gap_from_ms;
};

/// Re-anchors a session clock after a restart. Same boot: unchanged (the monotonic clock is
/// still comparable). Different boot: anchor = steady_now on the new boot, base = checkpoint
/// elapsed + the wall-clock gap since the checkpoint (never negative) — but only when both wall
/// readings were synced. An unsynced clock after a reboot (no RTC until NTP answers) may be off
/// by hours, so its gap is never billed: with a synced checkpoint the gap is left pending
/// (gap_from_ms, see settle_gap); with an unsynced checkpoint it is lost (billed as 0, the safe
/// side: downtime is never invented).
Rebased rebase(const SessionClock& c, const std::string& boot_now, int64_t steady_now_ms,
               WallReading checkpoint, int64_t checkpoint_elapsed_ms, WallReading now);

/// The downtime left pending by rebase(), now that the wall clock is synced: the wall time of
/// the new anchor (wall_now - monotonic time since the anchor) minus gap_from_ms, never negative.
int64_t settle_gap(const SessionClock& c, int64_t gap_from_ms, int64_t wall_now_ms, int64_t steady_now_ms);

/// Wh from a kWh reading (rounded to the nearest Wh); nullopt for NaN, infinite or negative.
/// For display and the SessionStart record only: energies are computed from the raw readings.
std::optional<int64_t> kwh_to_wh(double kwh);

/// A cumulative meter reading as the meter reported it (kWh, float32 widened exactly to double);
/// nullopt for NaN, infinite, negative or absurd values.
std::optional<double> valid_kwh(double kwh);

struct EnergyResult {
  std::optional<int64_t> energy_wh;  ///< empty when unknown
  std::vector<std::string> flags;    ///< "meter_unavailable" or "meter_reset"
};

/// Energy used between two cumulative readings in kWh, subtracted at the meter's own resolution
/// and rounded once to whole Wh (half away from zero). A missing reading -> meter_unavailable; a
/// counter that went backwards (reset or meter replaced) -> meter_reset. Both leave energy empty.
EnergyResult energy_between(std::optional<double> start_kwh, std::optional<double> end_kwh);

}  // namespace lg::terminal
