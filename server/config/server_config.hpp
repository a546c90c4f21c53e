// labgate-server's configuration (TOML, see docs/INTERFACES.md). Unknown keys are refused.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "labgate/common/config.hpp"
#include "labgate/common/defaults.hpp"
#include "labgate/common/log.hpp"
#include "labgate/common/result.hpp"

namespace lg::server {

struct ServerConfig {
  std::string site;
  std::filesystem::path data_dir;
  std::string time_zone{defaults::kTimeZone};
  std::string currency{defaults::kCurrency};
  log::Level log_level = log::Level::info;

  std::string http_listen = "127.0.0.1";
  int http_port = 8080;  ///< 0 = any free port
  std::string admin_token;  ///< at least 16 printable ASCII characters, 6 of them distinct
  std::size_t body_limit = 8 * 1024 * 1024;
  std::size_t max_connections = 0;  ///< HTTP connections open at once; 0 = from the descriptor limit
  int idle_timeout_s = 30;          ///< an HTTP connection waiting for a request is closed after this
  int http_threads = 4;             ///< workers that run HTTP handlers (the sockets stay on one thread)
  int max_ingest_lag_s = 30;        ///< /api/health says 503 when ingest falls this far behind
  int sync_delay_ms = 200;          ///< write paths' bundle changes are coalesced this long, then published
  int64_t report_hold_ms = 0;       ///< [testing] holds each report's read transaction this long (tests only)

  std::string store_kind = "sqlite";  ///< [store] kind: "sqlite" (<data_dir>/labgate.db) or "postgres"
  std::string pg_conninfo;           ///< [store] conninfo: libpq keyword/value string or URI (postgres)
  std::string pg_schema;             ///< [store] schema: tables live in this schema (postgres; "" = search_path)

  int ingest_verify_threads = 2;   ///< [ingest] verify_threads: threads checking evt envelopes and signatures
  int ingest_max_group = 256;      ///< [ingest] max_group: evt batches committed in one unit of work at most
  int ingest_committers = 0;       ///< [ingest] committers: commit threads (0: 1 on SQLite, 3 on PostgreSQL)

  std::string mqtt_uri = "tcp://127.0.0.1:1883";
  std::string mqtt_client_id;  ///< default "labgate-server-<site>", with host and pid when shared_group is set
  /// Publishes (acks, bundles) the MQTT client holds beyond its in-flight window; when full, the
  /// publisher waits for room instead of dropping (server/main.cpp MqttPublisher).
  int mqtt_max_buffered = 4096;
  std::string mqtt_shared_group;  ///< "": subscribe alone; else several nodes share evt/state via $share/<group>/
  int sync_refresh_s = 900;    ///< periodic rebuild of bundles (booking window moves)
};

/// Why `token` is too weak to guard the API ("" when it is fine): at least 16 characters, all
/// printable ASCII without spaces, at least 6 distinct ones.
std::string admin_token_weakness(const std::string& token);

/// Validates a parsed document; errors name the offending key ("http.port: ...").
Result<ServerConfig> load_config(const config::Document& doc);
/// Loads and validates a config file.
Result<ServerConfig> load_config_file(const std::filesystem::path& path);

}  // namespace lg::server
