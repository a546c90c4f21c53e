// Relay coils and the energy meter behind small interfaces: libmodbus in production, in-memory
// fakes in unit tests. libmodbus calls block; every call is bounded by the endpoint's
// timeout_ms and a failed call drops the connection so the next call reconnects.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "labgate/common/board.hpp"
#include "labgate/common/result.hpp"

#include "terminal_config.hpp"

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

/// One libmodbus connection (TCP or RTU), shared by relay and meter when they use the same
/// link. Thread-safe (one call at a time).
class ModbusLink {
 public:
  explicit ModbusLink(ModbusEndpoint ep);
  ~ModbusLink();
  ModbusLink(const ModbusLink&) = delete;
  ModbusLink& operator=(const ModbusLink&) = delete;

  /// Function 05 on unit `unit`.
  Status write_coil(int unit, uint16_t coil, bool on);
  /// Function 01 on unit `unit`, one coil.
  Result<bool> read_coil(int unit, uint16_t coil);
  /// Function 04 on unit `unit`: two registers decoded as float32 ABCD.
  Result<float> read_input_float(int unit, uint16_t reg);
  const ModbusEndpoint& endpoint() const { return ep_; }

 private:
  Status ensure_connected();
  void drop();
  Error failure(const std::string& what);

  ModbusEndpoint ep_;
  std::mutex mu_;
  void* ctx_ = nullptr;  // modbus_t*
};

/// Coils over a ModbusLink. One reconnect-and-retry per call.
class ModbusCoils : public Coils {
 public:
  ModbusCoils(std::shared_ptr<ModbusLink> link, int unit);
  Status write(uint16_t coil, bool on) override;
  Result<bool> read(uint16_t coil) override;

 private:
  std::shared_ptr<ModbusLink> link_;
  int unit_;
};

/// An energy meter over a ModbusLink using the board's register map.
class ModbusMeter : public EnergyMeter {
 public:
  ModbusMeter(std::shared_ptr<ModbusLink> link, int unit, board::MeterMap map);
  Result<double> total_kwh() override;
  Result<double> power_w() override;

 private:
  std::shared_ptr<ModbusLink> link_;
  int unit_;
  board::MeterMap map_;
};

/// In-memory coils for tests and dry runs; can be told to fail.
class FakeCoils : public Coils {
 public:
  Status write(uint16_t coil, bool on) override;
  Result<bool> read(uint16_t coil) override;
  std::map<uint16_t, bool> state;
  bool fail_writes = false;
  bool fail_reads = false;
  int writes = 0;
  /// When set, every successful write appends "coil <n> on|off" (tests check the order of I/O).
  std::vector<std::string>* journal = nullptr;
};

/// In-memory meter for tests.
class FakeMeter : public EnergyMeter {
 public:
  Result<double> total_kwh() override;
  Result<double> power_w() override;
  std::optional<double> kwh = 0.0;  ///< nullopt = unreadable
  double watts = 0.0;
  /// When set, every energy read appends "meter read".
  std::vector<std::string>* journal = nullptr;
};

}  // namespace lg::terminal
