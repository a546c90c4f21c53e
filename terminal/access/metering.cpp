#include "access/metering.hpp"

#include <algorithm>
#include <cmath>

namespace lg::terminal {

int64_t elapsed_ms(const SessionClock& c, int64_t steady_now_ms) {
  return c.elapsed_base_ms + std::max<int64_t>(0, steady_now_ms - c.steady_anchor_ms);
}

Rebased rebase(const SessionClock& c, const std::string& boot_now, int64_t steady_now_ms, WallReading checkpoint,
               int64_t checkpoint_elapsed_ms, WallReading now) {
  Rebased r;
  if (!c.boot_id.empty() && c.boot_id == boot_now) {
    r.clock = c;
    return r;
  }
  r.clock.boot_id = boot_now;
  r.clock.steady_anchor_ms = steady_now_ms;
  r.clock.elapsed_base_ms = std::max<int64_t>(0, checkpoint_elapsed_ms);
  if (checkpoint.synced && now.synced) {
    r.clock.elapsed_base_ms += std::max<int64_t>(0, now.ms - checkpoint.ms);
  } else if (checkpoint.synced) {
    r.gap_from_ms = checkpoint.ms;
  }
  return r;
}

int64_t settle_gap(const SessionClock& c, int64_t gap_from_ms, int64_t wall_now_ms, int64_t steady_now_ms) {
  const int64_t anchor_wall = wall_now_ms - std::max<int64_t>(0, steady_now_ms - c.steady_anchor_ms);
  return std::max<int64_t>(0, anchor_wall - gap_from_ms);
}

std::optional<int64_t> kwh_to_wh(double kwh) {
  if (!std::isfinite(kwh) || kwh < 0) return std::nullopt;
  const double wh = std::round(kwh * 1000.0);
  if (wh > 9.0e15) return std::nullopt;
  return static_cast<int64_t>(wh);
}

std::optional<double> valid_kwh(double kwh) {
  if (!std::isfinite(kwh) || kwh < 0 || kwh > 9.0e12) return std::nullopt;
  return kwh;
}

EnergyResult energy_between(std::optional<double> start_kwh, std::optional<double> end_kwh) {
  EnergyResult r;
  if (!start_kwh || !end_kwh) {
    r.flags.emplace_back("meter_unavailable");
    return r;
  }
  if (*end_kwh < *start_kwh) {
    r.flags.emplace_back("meter_reset");
    return r;
  }
  r.energy_wh = static_cast<int64_t>(std::llround((*end_kwh - *start_kwh) * 1000.0));
  return r;
}

}  // namespace lg::terminal
