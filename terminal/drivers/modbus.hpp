// The Modbus drivers: relay coils and energy meters over libmodbus (TCP or RTU). libmodbus calls
// block; every call is bounded by the endpoint's timeout_ms and a failed call drops the
// connection so the next call reconnects. They run on the access loop (a swipe switches a coil).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "labgate/common/board.hpp"
#include "labgate/common/result.hpp"

#include "drivers/io.hpp"
#include "terminal_config.hpp"

namespace lg::terminal {

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

}  // namespace lg::terminal
