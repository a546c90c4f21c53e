// The terminal's config file (docs/INTERFACES.md "Terminal config"), loaded and validated.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include "labgate/common/board.hpp"
#include "labgate/common/protocol.hpp"
#include "labgate/common/result.hpp"

namespace lg::terminal {

enum class ModbusTransport { tcp, rtu };

/// How to reach one Modbus device (relay board or energy meter).
struct ModbusEndpoint {
  ModbusTransport transport = ModbusTransport::tcp;
  std::string host = "127.0.0.1";
  int port = 502;
  std::string device = "/dev/ttyUSB0";
  int baud = 9600;
  char parity = 'N';
  int unit_id = 1;
  int timeout_ms = 500;

  /// True when both endpoints address the same connection (same bus or TCP peer).
  bool same_link(const ModbusEndpoint& o) const;
  /// "tcp://host:port" or "rtu:/dev/ttyUSB0@9600N" for logs.
  std::string describe() const;
};

enum class CardSourceKind { socket, serial };

struct CardConfig {
  CardSourceKind source = CardSourceKind::socket;
  std::filesystem::path path;  ///< Unix socket path (source = socket)
  std::string device;          ///< serial device (source = serial)
  int baud = 9600;
};

struct TerminalConfig {
  std::string id;
  std::string site;
  std::filesystem::path data_dir;
  std::filesystem::path board;
  std::string resource;
  std::string output;
  std::filesystem::path server_public_key;
  int heartbeat_s = 30;
  int resend_s = 5;
  /// How evt and state messages are authenticated: a MAC under the link key (default; cheap for
  /// the server) or an ECDSA signature (checkable by anyone with the terminal's public key).
  proto::Auth auth = proto::Auth::mac;
  std::string log_level = "info";

  std::string mqtt_uri = "ssl://127.0.0.1:8883";
  std::string mqtt_client_id;  ///< default: the terminal id (a TLS broker uses the certificate's CN)
  bool mqtt_allow_plain = false;  ///< [mqtt] allow_plain: development only: a tcp:// broker
  /// [mqtt] ca_file, cert_file, key_file (default: ca.crt, terminal.crt, terminal.key in data_dir,
  /// where enrolment puts them).
  std::filesystem::path mqtt_ca_file, mqtt_cert_file, mqtt_key_file;

  /// From the enrolment (<data_dir>/enrolled.toml): which device holds the id (1, 2, ... on each
  /// re-enrolment), and the server to renew the certificate with.
  uint64_t epoch = 1;
  /// The first sequence number this device may use (above the earlier device's, on a re-enrolment).
  uint64_t seq_start = 1;
  std::string server_url;
  bool enrolled = false;
  int mqtt_keepalive_s = 10;

  ModbusEndpoint relay;
  bool relay_unit_id_set = false;  ///< false: use the board's relay unit id
  bool meter_enabled = false;
  ModbusEndpoint meter;
  bool meter_unit_id_set = false;  ///< false: use the board's meter unit id

  CardConfig card;
  /// Per-output fail mode overrides ([outputs.<name>] fail_mode).
  std::map<std::string, board::FailMode> fail_modes;
};

/// Loads and validates the config file. Errors name the file and the offending key.
Result<TerminalConfig> load_config(const std::filesystem::path& path);
/// Parses config text (source_name is used in messages and as the base of relative paths).
/// What the enrolment wrote in <data_dir>/enrolled.toml fills id, site, resource, the server key
/// and the broker; a key set in both to different values is an error naming it.
Result<TerminalConfig> parse_config(std::string_view text, const std::filesystem::path& source_name);

/// How a config is read for `labgate-terminal enrol`: only what enrolling needs (data_dir, log
/// level) must be there; the identity comes from the enrolment.
Result<TerminalConfig> load_config_for_enrolment(const std::filesystem::path& path);

/// The file the enrolment writes in data_dir.
inline constexpr const char* kEnrolledFile = "enrolled.toml";

/// The effective fail mode of an output: the config override, else the board's setting.
board::FailMode effective_fail_mode(const TerminalConfig& cfg, const board::Output& out);

}  // namespace lg::terminal
