// The simulator's register model: relay coils plus an Eastron-style energy meter whose power
// follows a scripted step profile while coil 0 is on. Pure (no sockets, no clock reads): time is
// passed in, so unit tests drive it directly. main.cpp is only the libmodbus loop around it.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "labgate/common/result.hpp"

namespace lg::sim {

/// One step of the power profile: from t_s seconds after switch-on, draw watts.
struct ProfileStep {
  double t_s = 0.0;
  double watts = 0.0;
  bool operator==(const ProfileStep&) const = default;
};

/// Parses "0:0,1:1200,60:800" (seconds since switch-on : watts, strictly increasing times,
/// non-negative numbers). An empty string is an empty profile (idle power even when on).
Result<std::vector<ProfileStep>> parse_profile(std::string_view text);

enum class MeterKind { none, sdm120, sdm630 };

/// Parses "none", "sdm120" or "sdm630".
Result<MeterKind> parse_meter(std::string_view text);

/// Input register addresses (function 04) of the float32 values the simulator serves.
struct MeterRegisters {
  uint16_t voltage = 0x0000;
  uint16_t current = 0x0006;
  uint16_t active_power = 0x000C;
  uint16_t import_energy = 0x0048;
  uint16_t total_energy = 0x0156;
};

/// The register map of a meter model (SDM630: total power 0x0034; the rest as SDM120).
MeterRegisters registers_for(MeterKind kind);

/// Number of input registers needed to hold every value of the map (highest address + 2).
std::size_t input_register_count(MeterKind kind);

/// Writes a float as two registers, high word first (ABCD), like libmodbus modbus_set_float_abcd.
void encode_float_abcd(float value, uint16_t* dest);

/// Reads a float from two registers, high word first (ABCD), like modbus_get_float_abcd.
float decode_float_abcd(const uint16_t* src);

/// Coils, power and energy of the simulated relay board + meter.
class RegisterModel {
 public:
  using Clock = std::chrono::steady_clock;

  struct Options {
    uint16_t coils = 8;
    std::vector<ProfileStep> profile;
    double idle_w = 5.0;
    double voltage_v = 230.0;
    double initial_kwh = 0.0;
  };

  /// Starts with every coil off at time `start`.
  RegisterModel(Options options, Clock::time_point start);

  /// Number of coils.
  uint16_t coil_count() const { return static_cast<uint16_t>(coils_.size()); }
  /// State of one coil (false when out of range).
  bool coil(uint16_t index) const;
  /// All coils.
  const std::vector<bool>& coils() const { return coils_; }
  /// Sets a coil at `now`; energy up to `now` is integrated with the old state first.
  /// Switching coil 0 on restarts the profile. Returns true if the coil changed.
  bool set_coil(uint16_t index, bool on, Clock::time_point now);
  /// True while coil 0 (the instrument power) is on.
  bool powered() const { return !coils_.empty() && coils_[0]; }

  /// Counts one accepted coil write request (function 05 or 15).
  void count_write() { ++writes_; }
  /// Accepted coil write requests so far.
  uint64_t writes() const { return writes_; }

  /// Instantaneous active power at `now` in watts.
  double power_w(Clock::time_point now) const;
  /// Voltage in volts (constant).
  double voltage_v() const { return options_.voltage_v; }
  /// Current in amperes at `now` (P / V).
  double current_a(Clock::time_point now) const;
  /// Integrates energy up to `now` (calls with an earlier time are ignored).
  void advance(Clock::time_point now);
  /// Cumulative energy in kWh as of the last advance().
  double energy_kwh() const { return energy_kwh_; }

  /// Advances to `now` and writes the meter's float registers into `regs` (n registers from
  /// address 0); addresses that do not fit are skipped.
  void fill_input_registers(MeterKind kind, uint16_t* regs, std::size_t n, Clock::time_point now);

  /// The state file body: {"coils":[...],"power_w":..,"energy_kwh":..,"writes":N}.
  std::string state_json(Clock::time_point now) const;

 private:
  double power_at_elapsed(double elapsed_s) const;
  double integrate_ws(double from_s, double to_s) const;  // watt-seconds while powered

  Options options_;
  std::vector<bool> coils_;
  Clock::time_point last_;
  Clock::time_point on_since_;
  double energy_kwh_ = 0.0;
  uint64_t writes_ = 0;
};

}  // namespace lg::sim
