#include "terminal_config.hpp"

#include "labgate/common/config.hpp"
#include "labgate/common/protocol.hpp"

#include <fstream>
#include <sstream>


namespace lg::terminal {

namespace {

Error key_error(const config::Section& s, std::string_view key, std::string_view what) {
  return Error::invalid(s.path(key) + ": " + std::string(what));
}

/// Reads the keys shared by [relay] and [meter].
Status read_endpoint(const config::Section& s, ModbusEndpoint& ep, bool& unit_id_set) {
  std::string transport;
  LG_TRY_ASSIGN(transport, s.one_of_or("transport", ep.transport == ModbusTransport::rtu ? "rtu" : "tcp",
                                       {"tcp", "rtu"}));
  ep.transport = transport == "rtu" ? ModbusTransport::rtu : ModbusTransport::tcp;
  LG_TRY_ASSIGN(ep.host, s.string_or("host", ep.host));
  int64_t v = 0;
  LG_TRY_ASSIGN(v, s.integer_or("port", ep.port, 1, 65535));
  ep.port = static_cast<int>(v);
  LG_TRY_ASSIGN(ep.device, s.string_or("device", ep.device));
  LG_TRY_ASSIGN(v, s.integer_or("baud", ep.baud, 300, 4000000));
  ep.baud = static_cast<int>(v);
  std::string parity;
  LG_TRY_ASSIGN(parity, s.one_of_or("parity", std::string(1, ep.parity), {"N", "E", "O"}));
  ep.parity = parity[0];
  unit_id_set = s.has("unit_id");
  LG_TRY_ASSIGN(v, s.integer_or("unit_id", ep.unit_id, 0, 247));
  ep.unit_id = static_cast<int>(v);
  LG_TRY_ASSIGN(v, s.integer_or("timeout_ms", ep.timeout_ms, 10, 60000));
  ep.timeout_ms = static_cast<int>(v);
  if (ep.transport == ModbusTransport::tcp && ep.host.empty())
    return key_error(s, "host", "must not be empty");
  if (ep.transport == ModbusTransport::rtu && ep.device.empty())
    return key_error(s, "device", "must not be empty");
  return {};
}

}  // namespace

bool ModbusEndpoint::same_link(const ModbusEndpoint& o) const {
  if (transport != o.transport) return false;
  if (transport == ModbusTransport::tcp) return host == o.host && port == o.port;
  return device == o.device;
}

std::string ModbusEndpoint::describe() const {
  if (transport == ModbusTransport::tcp) return "tcp://" + host + ":" + std::to_string(port);
  return "rtu:" + device + "@" + std::to_string(baud) + parity;
}

namespace {

Result<TerminalConfig> parse_document(const config::Document& doc) {
  TerminalConfig c;
  const config::Section root = doc.root();
  LG_TRY(root.reject_unknown({"terminal", "mqtt", "relay", "meter", "card", "outputs"}));

  config::Section t;
  LG_TRY_ASSIGN(t, root.section("terminal"));
  LG_TRY(t.reject_unknown({"id", "site", "data_dir", "board", "resource", "output",
                           "server_public_key", "heartbeat_s", "resend_s", "auth", "log_level"}));
  LG_TRY_ASSIGN(c.id, t.string("id"));
  if (!proto::valid_id(c.id)) return key_error(t, "id", "must be 1..64 of [A-Za-z0-9_.:-]");
  LG_TRY_ASSIGN(c.site, t.string("site"));
  if (!proto::valid_id(c.site)) return key_error(t, "site", "must be 1..64 of [A-Za-z0-9_.:-]");
  std::string s;
  LG_TRY_ASSIGN(s, t.string("data_dir"));
  c.data_dir = t.resolve_path(s);
  LG_TRY_ASSIGN(s, t.string("board"));
  c.board = t.resolve_path(s);
  LG_TRY_ASSIGN(c.resource, t.string("resource"));
  if (!proto::valid_id(c.resource)) return key_error(t, "resource", "must be 1..64 of [A-Za-z0-9_.:-]");
  LG_TRY_ASSIGN(c.output, t.string_or("output", "power"));
  LG_TRY_ASSIGN(s, t.string("server_public_key"));
  c.server_public_key = t.resolve_path(s);
  int64_t v = 0;
  LG_TRY_ASSIGN(v, t.integer_or("heartbeat_s", c.heartbeat_s, 1, 86400));
  c.heartbeat_s = static_cast<int>(v);
  LG_TRY_ASSIGN(v, t.integer_or("resend_s", c.resend_s, 1, 86400));
  c.resend_s = static_cast<int>(v);
  LG_TRY_ASSIGN(s, t.one_of_or("auth", "mac", {"mac", "signature"}));
  c.auth = s == "mac" ? proto::Auth::mac : proto::Auth::signature;
  LG_TRY_ASSIGN(c.log_level, t.one_of_or("log_level", "info", {"debug", "info", "warn", "error"}));

  std::optional<config::Section> sec;
  LG_TRY_ASSIGN(sec, root.optional_section("mqtt"));
  if (sec) {
    LG_TRY(sec->reject_unknown({"uri", "client_id", "keepalive_s"}));
    LG_TRY_ASSIGN(c.mqtt_uri, sec->string_or("uri", c.mqtt_uri));
    LG_TRY_ASSIGN(c.mqtt_client_id, sec->string_or("client_id", ""));
    LG_TRY_ASSIGN(v, sec->integer_or("keepalive_s", c.mqtt_keepalive_s, 2, 3600));
    c.mqtt_keepalive_s = static_cast<int>(v);
  }
  if (c.mqtt_client_id.empty()) c.mqtt_client_id = c.id;

  config::Section relay;
  LG_TRY_ASSIGN(relay, root.section("relay"));
  LG_TRY(relay.reject_unknown(
      {"transport", "host", "port", "device", "baud", "parity", "unit_id", "timeout_ms"}));
  LG_TRY(read_endpoint(relay, c.relay, c.relay_unit_id_set));

  LG_TRY_ASSIGN(sec, root.optional_section("meter"));
  if (sec) {
    LG_TRY(sec->reject_unknown({"enabled", "transport", "host", "port", "device", "baud", "parity",
                                "unit_id", "timeout_ms"}));
    LG_TRY_ASSIGN(c.meter_enabled, sec->boolean_or("enabled", true));
    c.meter = c.relay;  // unspecified keys default to the relay's link
    bool unit_set = false;
    LG_TRY(read_endpoint(*sec, c.meter, unit_set));
    c.meter_unit_id_set = unit_set;
  }

  config::Section card;
  LG_TRY_ASSIGN(card, root.section("card"));
  LG_TRY(card.reject_unknown({"source", "path", "device", "baud"}));
  LG_TRY_ASSIGN(s, card.one_of_or("source", "socket", {"socket", "serial"}));
  c.card.source = s == "serial" ? CardSourceKind::serial : CardSourceKind::socket;
  if (c.card.source == CardSourceKind::socket) {
    LG_TRY_ASSIGN(s, card.string("path"));
    c.card.path = card.resolve_path(s);
  } else {
    LG_TRY_ASSIGN(s, card.string_or("path", ""));
    if (!s.empty()) c.card.path = card.resolve_path(s);
  }
  LG_TRY_ASSIGN(c.card.device, card.string_or("device", ""));
  if (c.card.source == CardSourceKind::serial && c.card.device.empty())
    return key_error(card, "device", "required when source = \"serial\"");
  LG_TRY_ASSIGN(v, card.integer_or("baud", c.card.baud, 300, 4000000));
  c.card.baud = static_cast<int>(v);

  // [outputs.<name>]: per-output overrides of the board's fail mode.
  LG_TRY_ASSIGN(sec, root.optional_section("outputs"));
  if (sec) {
    for (const auto& name : sec->keys()) {
      config::Section o;
      LG_TRY_ASSIGN(o, sec->section(name));
      LG_TRY(o.reject_unknown({"fail_mode"}));
      std::string fm;
      LG_TRY_ASSIGN(fm, o.one_of("fail_mode", {"open", "closed"}));
      c.fail_modes[name] = fm == "open" ? board::FailMode::open : board::FailMode::closed;
    }
  }
  return c;
}

}  // namespace

Result<TerminalConfig> parse_config(std::string_view text, const std::filesystem::path& source_name) {
  auto doc = config::Document::parse(text, source_name);
  if (!doc) return doc.error();
  return parse_document(*doc);
}

Result<TerminalConfig> load_config(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error::invalid(path.string() + ": cannot read config file");
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse_config(ss.str(), path);
}

board::FailMode effective_fail_mode(const TerminalConfig& cfg, const board::Output& out) {
  auto it = cfg.fail_modes.find(out.name);
  return it == cfg.fail_modes.end() ? out.fail_mode : it->second;
}

}  // namespace lg::terminal
