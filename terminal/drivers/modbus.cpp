#include "drivers/modbus.hpp"

#include <cerrno>
#include <cmath>

#include <modbus.h>

namespace lg::terminal {

namespace {
modbus_t* mb(void* p) { return static_cast<modbus_t*>(p); }
}  // namespace

ModbusLink::ModbusLink(ModbusEndpoint ep) : ep_(std::move(ep)) {}

ModbusLink::~ModbusLink() { drop(); }

void ModbusLink::drop() {
  if (!ctx_) return;
  modbus_close(mb(ctx_));
  modbus_free(mb(ctx_));
  ctx_ = nullptr;
}

Error ModbusLink::failure(const std::string& what) {
  const int e = errno;
  Error err = Error::from(std::error_code(e, std::generic_category()),
                          ep_.describe() + ": " + what + ": " + modbus_strerror(e));
  drop();  // next call reconnects
  return err;
}

Status ModbusLink::ensure_connected() {
  if (ctx_) return {};
  modbus_t* c = nullptr;
  if (ep_.transport == ModbusTransport::tcp) {
    const std::string port = std::to_string(ep_.port);
    c = modbus_new_tcp_pi(ep_.host.c_str(), port.c_str());
  } else {
    c = modbus_new_rtu(ep_.device.c_str(), ep_.baud, ep_.parity, 8, 1);
  }
  if (!c) return Error::invalid(ep_.describe() + ": cannot create modbus context");
  const auto ms = static_cast<uint32_t>(ep_.timeout_ms);
  modbus_set_response_timeout(c, ms / 1000, (ms % 1000) * 1000);
  modbus_set_byte_timeout(c, ms / 1000, (ms % 1000) * 1000);
  if (modbus_connect(c) == -1) {
    const int e = errno;
    modbus_free(c);
    return Error::from(std::error_code(e, std::generic_category()),
                       ep_.describe() + ": connect: " + modbus_strerror(e));
  }
  ctx_ = c;
  return {};
}

Status ModbusLink::write_coil(int unit, uint16_t coil, bool on) {
  std::lock_guard lock(mu_);
  if (auto s = ensure_connected(); !s) return s;
  modbus_set_slave(mb(ctx_), unit);
  if (modbus_write_bit(mb(ctx_), coil, on ? 1 : 0) != 1)
    return failure("write coil " + std::to_string(coil));
  return {};
}

Result<bool> ModbusLink::read_coil(int unit, uint16_t coil) {
  std::lock_guard lock(mu_);
  if (auto s = ensure_connected(); !s) return s.error();
  modbus_set_slave(mb(ctx_), unit);
  uint8_t bit = 0;
  if (modbus_read_bits(mb(ctx_), coil, 1, &bit) != 1) return failure("read coil " + std::to_string(coil));
  return bit != 0;
}

Result<float> ModbusLink::read_input_float(int unit, uint16_t reg) {
  std::lock_guard lock(mu_);
  if (auto s = ensure_connected(); !s) return s.error();
  modbus_set_slave(mb(ctx_), unit);
  uint16_t regs[2] = {0, 0};
  if (modbus_read_input_registers(mb(ctx_), reg, 2, regs) != 2)
    return failure("read input registers " + std::to_string(reg));
  return modbus_get_float_abcd(regs);
}

ModbusCoils::ModbusCoils(std::shared_ptr<ModbusLink> link, int unit) : link_(std::move(link)), unit_(unit) {}

Status ModbusCoils::write(uint16_t coil, bool on) {
  Status s = link_->write_coil(unit_, coil, on);
  if (!s) s = link_->write_coil(unit_, coil, on);  // one reconnect and retry
  return s;
}

Result<bool> ModbusCoils::read(uint16_t coil) {
  auto r = link_->read_coil(unit_, coil);
  if (!r) r = link_->read_coil(unit_, coil);
  return r;
}

ModbusMeter::ModbusMeter(std::shared_ptr<ModbusLink> link, int unit, board::MeterMap map)
    : link_(std::move(link)), unit_(unit), map_(map) {}

namespace {
Result<double> read_float(ModbusLink& link, int unit, uint16_t reg) {
  auto r = link.read_input_float(unit, reg);
  if (!r) r = link.read_input_float(unit, reg);
  if (!r) return r.error();
  if (!std::isfinite(*r)) return Error::invalid("meter register " + std::to_string(reg) + " is not a number");
  return static_cast<double>(*r);
}
}  // namespace

Result<double> ModbusMeter::total_kwh() { return read_float(*link_, unit_, map_.total_energy); }

Result<double> ModbusMeter::power_w() { return read_float(*link_, unit_, map_.active_power); }

}  // namespace lg::terminal
