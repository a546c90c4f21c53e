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

/// Fills what the enrolment knows (<data_dir>/enrolled.toml) into c; explicit keys must agree.
Status apply_enrolment(TerminalConfig& c, const config::Section& t, bool mqtt_uri_set) {
  const std::filesystem::path file = c.data_dir / kEnrolledFile;
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) return {};
  auto doc = config::Document::load_file(file);
  if (!doc) return doc.error();
  const config::Section root = doc->root();
  LG_TRY(root.reject_unknown({"enrolled"}));
  config::Section e;
  LG_TRY_ASSIGN(e, root.section("enrolled"));
  LG_TRY(e.reject_unknown({"id", "site", "resource", "epoch", "seq_start", "broker_uri", "server_url", "enrolled_at"}));
  std::string id, site, resource, broker, server;
  LG_TRY_ASSIGN(id, e.string("id"));
  LG_TRY_ASSIGN(site, e.string("site"));
  LG_TRY_ASSIGN(resource, e.string("resource"));
  LG_TRY_ASSIGN(broker, e.string("broker_uri"));
  LG_TRY_ASSIGN(server, e.string_or("server_url", ""));
  int64_t epoch = 1;
  LG_TRY_ASSIGN(epoch, e.integer_or("epoch", 1, 1, int64_t{1} << 40));
  int64_t seq_start = 1;
  LG_TRY_ASSIGN(seq_start, e.integer_or("seq_start", 1, 1, int64_t{1} << 62));
  c.seq_start = static_cast<uint64_t>(seq_start);
  const auto take = [&](std::string& field, const std::string& enrolled, const char* key) -> Status {
    if (field.empty()) field = enrolled;
    else if (field != enrolled)
      return key_error(t, key, "'" + field + "' but the device is enrolled as '" + enrolled + "' (" + file.string() +
                                   "): remove the key or enrol again");
    return {};
  };
  LG_TRY(take(c.id, id, "id"));
  LG_TRY(take(c.site, site, "site"));
  LG_TRY(take(c.resource, resource, "resource"));
  if (c.server_public_key.empty()) c.server_public_key = c.data_dir / "server.pub";
  if (!mqtt_uri_set) c.mqtt_uri = broker;
  c.epoch = static_cast<uint64_t>(epoch);
  c.server_url = server;
  c.enrolled = true;
  return {};
}

Result<TerminalConfig> parse_document(const config::Document& doc, bool for_enrolment) {
  TerminalConfig c;
  const config::Section root = doc.root();
  LG_TRY(root.reject_unknown({"terminal", "mqtt", "relay", "meter", "card", "outputs"}));

  config::Section t;
  LG_TRY_ASSIGN(t, root.section("terminal"));
  LG_TRY(t.reject_unknown({"id", "site", "data_dir", "board", "resource", "output",
                           "server_public_key", "heartbeat_s", "resend_s", "auth", "log_level"}));
  LG_TRY_ASSIGN(c.id, t.string_or("id", ""));
  if (!c.id.empty() && !proto::valid_id(c.id)) return key_error(t, "id", "must be 1..64 of [A-Za-z0-9_.:-]");
  LG_TRY_ASSIGN(c.site, t.string_or("site", ""));
  if (!c.site.empty() && !proto::valid_id(c.site)) return key_error(t, "site", "must be 1..64 of [A-Za-z0-9_.:-]");
  std::string s;
  LG_TRY_ASSIGN(s, t.string("data_dir"));
  c.data_dir = t.resolve_path(s);
  LG_TRY_ASSIGN(s, t.string("board"));
  c.board = t.resolve_path(s);
  LG_TRY_ASSIGN(c.resource, t.string_or("resource", ""));
  if (!c.resource.empty() && !proto::valid_id(c.resource))
    return key_error(t, "resource", "must be 1..64 of [A-Za-z0-9_.:-]");
  LG_TRY_ASSIGN(c.output, t.string_or("output", "power"));
  LG_TRY_ASSIGN(s, t.string_or("server_public_key", ""));
  if (!s.empty()) c.server_public_key = t.resolve_path(s);
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
  bool uri_set = false;
  if (sec) {
    LG_TRY(sec->reject_unknown({"uri", "client_id", "keepalive_s", "allow_plain", "ca_file", "cert_file", "key_file"}));
    uri_set = sec->has("uri");
    LG_TRY_ASSIGN(c.mqtt_uri, sec->string_or("uri", c.mqtt_uri));
    LG_TRY_ASSIGN(c.mqtt_client_id, sec->string_or("client_id", ""));
    LG_TRY_ASSIGN(v, sec->integer_or("keepalive_s", c.mqtt_keepalive_s, 2, 3600));
    c.mqtt_keepalive_s = static_cast<int>(v);
    LG_TRY_ASSIGN(c.mqtt_allow_plain, sec->boolean_or("allow_plain", false));
    for (auto [key, field] : {std::pair<const char*, std::filesystem::path*>{"ca_file", &c.mqtt_ca_file},
                              {"cert_file", &c.mqtt_cert_file},
                              {"key_file", &c.mqtt_key_file}}) {
      LG_TRY_ASSIGN(s, sec->string_or(key, ""));
      if (!s.empty()) *field = sec->resolve_path(s);
    }
  }
  if (c.mqtt_ca_file.empty()) c.mqtt_ca_file = c.data_dir / "ca.crt";
  if (c.mqtt_cert_file.empty()) c.mqtt_cert_file = c.data_dir / "terminal.crt";
  if (c.mqtt_key_file.empty()) c.mqtt_key_file = c.data_dir / "terminal.key";
  if (!for_enrolment) {
    LG_TRY(apply_enrolment(c, t, uri_set));
    const char* hint = "; set it, or enrol the device: labgate-terminal --config FILE enrol --server URL --token TOKEN";
    if (c.id.empty()) return key_error(t, "id", std::string("missing") + hint);
    if (c.site.empty()) return key_error(t, "site", std::string("missing") + hint);
    if (c.resource.empty()) return key_error(t, "resource", std::string("missing") + hint);
    if (c.server_public_key.empty()) return key_error(t, "server_public_key", std::string("missing") + hint);
    const bool tls = c.mqtt_uri.rfind("ssl://", 0) == 0 || c.mqtt_uri.rfind("mqtts://", 0) == 0;
    if (!tls && !c.mqtt_allow_plain)
      return Error::invalid("mqtt.uri: '" + c.mqtt_uri +
                            "' must be ssl://host:port (mutual TLS); plain tcp:// only with mqtt.allow_plain = true, "
                            "for development");
    if (tls && !std::filesystem::exists(c.mqtt_cert_file))
      return Error::invalid("mqtt.cert_file: no certificate at " + c.mqtt_cert_file.string() +
                            std::string(": the device is not enrolled") + hint);
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
  return parse_document(*doc, false);
}

Result<TerminalConfig> load_config_for_enrolment(const std::filesystem::path& path) {
  auto doc = config::Document::load_file(path);
  if (!doc) return doc.error();
  return parse_document(*doc, true);
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
