#include "metering.hpp"

#include <algorithm>
#include <cmath>

namespace lg::terminal {

int64_t elapsed_ms(const SessionClock& c, int64_t steady_now_ms) {
  return c.elapsed_base_ms + std::max<int64_t>(0, steady_now_ms - c.steady_anchor_ms);
}

SessionClock rebase(const SessionClock& c, const std::string& boot_now, int64_t steady_now_ms,
                    int64_t checkpoint_wall_ms, int64_t checkpoint_elapsed_ms, int64_t wall_now_ms) {
  if (!c.boot_id.empty() && c.boot_id == boot_now) return c;
  SessionClock r;
  r.boot_id = boot_now;
  r.steady_anchor_ms = steady_now_ms;
  r.elapsed_base_ms =
      std::max<int64_t>(0, checkpoint_elapsed_ms) + std::max<int64_t>(0, wall_now_ms - checkpoint_wall_ms);
  return r;
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
