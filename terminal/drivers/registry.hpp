// The drivers a board can name, by name: the board file's `[reader] kind` and `[meter] model`
// (boards/<name>/board.toml) select a card-reader driver and a meter driver here; relays are
// Modbus coils. The runner asks the registry; adding a reader or meter model is one entry.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "labgate/common/board.hpp"

#include "drivers/card_source.hpp"
#include "drivers/io.hpp"
#include "drivers/modbus.hpp"
#include "terminal_config.hpp"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace lg::terminal::drivers {

/// Makes a card source from the terminal's [card] settings.
using CardSourceFactory = std::unique_ptr<CardSource> (*)(boost::asio::io_context& io, const CardConfig& card);
/// Makes an energy meter on a Modbus link with the board's register map.
using MeterFactory = std::unique_ptr<EnergyMeter> (*)(std::shared_ptr<ModbusLink> link, int unit,
                                                      const board::MeterMap& map);

/// The card-reader driver called `name` ("line_socket", "serial_ascii"), or nullptr.
CardSourceFactory card_source(std::string_view name);
/// The driver name for a card source kind of the terminal config (socket -> "line_socket",
/// serial -> "serial_ascii").
std::string_view card_source_name(CardSourceKind kind);
/// The meter driver for a model name ("sdm120", "sdm630"), or nullptr.
MeterFactory meter(std::string_view model);
/// Every registered name, for messages: "line_socket, serial_ascii".
std::string card_source_names();
std::string meter_names();

}  // namespace lg::terminal::drivers
