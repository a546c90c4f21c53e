#include "drivers/registry.hpp"

#include <array>
#include <utility>

namespace lg::terminal::drivers {

namespace {

struct CardEntry {
  std::string_view name;
  CardSourceFactory make;
};
struct MeterEntry {
  std::string_view name;
  MeterFactory make;
};

std::unique_ptr<CardSource> line_socket(boost::asio::io_context& io, const CardConfig& c) {
  return make_socket_source(io, c.path);
}
std::unique_ptr<CardSource> serial_ascii(boost::asio::io_context& io, const CardConfig& c) {
  return make_serial_source(io, c.device, c.baud);
}
/// Eastron SDM120 / SDM630: float32 input registers, the addresses come from the board's map.
std::unique_ptr<EnergyMeter> eastron(std::shared_ptr<ModbusLink> link, int unit, const board::MeterMap& map) {
  return std::make_unique<ModbusMeter>(std::move(link), unit, map);
}

constexpr std::array<CardEntry, 2> kCards = {{{"line_socket", &line_socket}, {"serial_ascii", &serial_ascii}}};
constexpr std::array<MeterEntry, 2> kMeters = {{{"sdm120", &eastron}, {"sdm630", &eastron}}};

template <typename Entries>
std::string names(const Entries& e) {
  std::string out;
  for (const auto& x : e) out += (out.empty() ? "" : ", ") + std::string(x.name);
  return out;
}

}  // namespace

CardSourceFactory card_source(std::string_view name) {
  for (const auto& e : kCards)
    if (e.name == name) return e.make;
  return nullptr;
}

std::string_view card_source_name(CardSourceKind kind) {
  return kind == CardSourceKind::socket ? "line_socket" : "serial_ascii";
}

MeterFactory meter(std::string_view model) {
  for (const auto& e : kMeters)
    if (e.name == model) return e.make;
  return nullptr;
}

std::string card_source_names() { return names(kCards); }
std::string meter_names() { return names(kMeters); }

}  // namespace lg::terminal::drivers
