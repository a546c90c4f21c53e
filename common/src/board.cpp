#include "labgate/common/board.hpp"

#include <set>

#include "labgate/common/config.hpp"

namespace lg::board {
namespace {

template <typename T>
Status take(Result<T> r, T& out) {
  if (!r) return r.error();
  out = std::move(*r);
  return {};
}

Status load_meter(const config::Section& m, const config::Section& root, const Board& b, MeterMap& out) {
  LG_TRY(m.reject_unknown({"model", "unit_id", "voltage", "current", "active_power", "import_energy", "total_energy"}));
  std::string model;
  LG_TRY(take(m.one_of("model", {"sdm120", "sdm630"}), model));
  out.model = model == "sdm630" ? MeterModel::sdm630 : MeterModel::sdm120;
  if (out.model == MeterModel::sdm630) {
    out.active_power = 0x0034;  // SDM630 total system power
  }
  int64_t v = 0;
  LG_TRY(take(m.integer_or("unit_id", b.relay_unit_id, 1, 247), v));
  out.unit_id = static_cast<uint8_t>(v);
  struct Reg {
    const char* key;
    uint16_t* field;
  } regs[] = {{"voltage", &out.voltage},
              {"current", &out.current},
              {"active_power", &out.active_power},
              {"import_energy", &out.import_energy},
              {"total_energy", &out.total_energy}};
  for (auto& r : regs) {
    LG_TRY(take(m.integer_or(r.key, *r.field, 0, 0xFFFE), v));  // float32 spans two registers
    *r.field = static_cast<uint16_t>(v);
  }
  (void)root;
  return {};
}

}  // namespace

const Output* Board::output(const std::string& n) const {
  for (const auto& o : outputs)
    if (o.name == n) return &o;
  return nullptr;
}

Result<Board> load(const std::filesystem::path& path) {
  auto doc = config::Document::load_file(path);
  if (!doc) return doc.error();
  const config::Section root = doc->root();
  Board b;
  LG_TRY(root.reject_unknown({"name", "description", "arch", "toolchain", "reader", "relay", "outputs", "meter"}));
  LG_TRY(take(root.string("name"), b.name));
  LG_TRY(take(root.string_or("description", ""), b.description));
  LG_TRY(take(root.one_of("arch", {"x86_64", "aarch64", "armhf"}), b.arch));
  LG_TRY(take(root.string("toolchain"), b.toolchain));

  auto reader = root.section("reader");
  if (!reader) return reader.error();
  LG_TRY(reader->reject_unknown({"kind"}));
  std::string rk;
  LG_TRY(take(reader->one_of("kind", {"line_socket", "serial_ascii"}), rk));
  b.reader = rk == "serial_ascii" ? ReaderKind::serial_ascii : ReaderKind::line_socket;

  auto relay = root.section("relay");
  if (!relay) return relay.error();
  LG_TRY(relay->reject_unknown({"unit_id", "coils"}));
  int64_t v = 0;
  LG_TRY(take(relay->integer_or("unit_id", 1, 1, 247), v));
  b.relay_unit_id = static_cast<uint8_t>(v);
  LG_TRY(take(relay->integer("coils", 1, 256), v));
  b.relay_coils = static_cast<uint16_t>(v);

  auto outs = root.tables("outputs");
  if (!outs) return outs.error();
  if (outs->empty()) return Error::invalid(path.string() + ": outputs: at least one [[outputs]] is required");
  std::set<std::string> names;
  std::set<int64_t> coils;
  for (const auto& o : *outs) {
    LG_TRY(o.reject_unknown({"name", "coil", "kind", "fail_mode", "pulse_ms"}));
    Output out;
    LG_TRY(take(o.string("name"), out.name));
    if (!names.insert(out.name).second) return Error::invalid(path.string() + ": " + o.path("name") + ": duplicate output name \"" + out.name + "\"");
    LG_TRY(take(o.integer("coil", 0, 65535), v));
    if (v >= b.relay_coils)
      return Error::invalid(path.string() + ": " + o.path("coil") + ": " + std::to_string(v) + " >= relay.coils " +
                            std::to_string(b.relay_coils));
    if (!coils.insert(v).second) return Error::invalid(path.string() + ": " + o.path("coil") + ": coil " + std::to_string(v) + " used twice");
    out.coil = static_cast<uint16_t>(v);
    std::string kind;
    LG_TRY(take(o.one_of("kind", {"instrument_power", "door_lock", "video_contact"}), kind));
    out.kind = kind == "door_lock" ? OutputKind::door_lock
               : kind == "video_contact" ? OutputKind::video_contact
                                         : OutputKind::instrument_power;
    std::string fm;
    LG_TRY(take(o.one_of_or("fail_mode", "closed", {"open", "closed"}), fm));
    out.fail_mode = fm == "open" ? FailMode::open : FailMode::closed;
    LG_TRY(take(o.integer_or("pulse_ms", 0, 0, 600000), v));
    out.pulse_ms = static_cast<uint32_t>(v);
    if (out.kind != OutputKind::instrument_power && out.pulse_ms == 0)
      return Error::invalid(path.string() + ": " + o.path("pulse_ms") + ": a " + kind + " output needs pulse_ms > 0");
    b.outputs.push_back(std::move(out));
  }

  auto meter = root.optional_section("meter");
  if (!meter) return meter.error();
  if (*meter) {
    MeterMap m;
    LG_TRY(load_meter(**meter, root, b, m));
    b.meter = m;
  }
  return b;
}

const char* to_string(ReaderKind k) { return k == ReaderKind::serial_ascii ? "serial_ascii" : "line_socket"; }
const char* to_string(OutputKind k) {
  switch (k) {
    case OutputKind::instrument_power: return "instrument_power";
    case OutputKind::door_lock: return "door_lock";
    case OutputKind::video_contact: return "video_contact";
  }
  return "?";
}
const char* to_string(FailMode m) { return m == FailMode::open ? "open" : "closed"; }
const char* to_string(MeterModel m) { return m == MeterModel::sdm630 ? "sdm630" : "sdm120"; }

}  // namespace lg::board
