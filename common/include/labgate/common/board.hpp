// Boards are data: boards/<name>/board.toml names the reader, relay outputs, inputs and the
// energy meter's register map. This loader validates them; the build checks every board.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "labgate/common/result.hpp"

namespace lg::board {

enum class ReaderKind { line_socket, serial_ascii };
enum class OutputKind { instrument_power, door_lock, video_contact };
enum class FailMode { open, closed };
enum class MeterModel { sdm120, sdm630 };

/// One relay coil and what it drives.
struct Output {
  std::string name;          ///< "power", "door", "video"
  uint16_t coil = 0;         ///< coil address on the relay board (function 05)
  OutputKind kind = OutputKind::instrument_power;
  FailMode fail_mode = FailMode::closed;  ///< default when the terminal cannot decide (offline, cache expired)
  uint32_t pulse_ms = 0;     ///< >0: momentary output (door strike, video contact)
};

/// Input registers (function 04) of an energy meter, IEEE-754 float32 high word first.
struct MeterMap {
  MeterModel model = MeterModel::sdm120;
  uint8_t unit_id = 1;
  uint16_t voltage = 0x0000;
  uint16_t current = 0x0006;
  uint16_t active_power = 0x000C;
  uint16_t import_energy = 0x0048;
  uint16_t total_energy = 0x0156;  ///< cumulative kWh used for metering
};

struct Board {
  std::string name;
  std::string description;
  std::string arch;        ///< "x86_64", "aarch64", "armhf"
  std::string toolchain;   ///< toolchains/<toolchain>.cmake or "native"
  ReaderKind reader = ReaderKind::line_socket;
  uint8_t relay_unit_id = 1;
  uint16_t relay_coils = 0;  ///< number of coils the relay board has
  std::vector<Output> outputs;
  std::optional<MeterMap> meter;

  /// The output with this name, or nullptr.
  const Output* output(const std::string& name) const;
};

/// Loads and validates a board file. Errors name the key (e.g. "outputs[1].coil: 9 >= relay.coils 4").
Result<Board> load(const std::filesystem::path& path);

const char* to_string(ReaderKind k);
const char* to_string(OutputKind k);
const char* to_string(FailMode m);
const char* to_string(MeterModel m);

}  // namespace lg::board
