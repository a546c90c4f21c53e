// The device interfaces the access side switches and reads: relay coils and an energy meter.
// Drivers (drivers/modbus.hpp) implement them; tests use in-memory fakes
// (tests/support/terminal_fakes.hpp). Production headers hold no fakes.
#pragma once

#include <cstdint>

#include "labgate/common/result.hpp"

namespace lg::terminal {

/// Coils of a relay board (function 05 write single coil, function 01 read coils).
class Coils {
 public:
  virtual ~Coils() = default;
  /// Switches one coil; ok only when the device confirmed the write.
  virtual Status write(uint16_t coil, bool on) = 0;
  /// Reads one coil back.
  virtual Result<bool> read(uint16_t coil) = 0;
};

/// A cumulative energy meter (input registers, float32 high word first).
class EnergyMeter {
 public:
  virtual ~EnergyMeter() = default;
  /// Total energy counter in kWh.
  virtual Result<double> total_kwh() = 0;
  /// Active power in W.
  virtual Result<double> power_w() = 0;
};

}  // namespace lg::terminal
