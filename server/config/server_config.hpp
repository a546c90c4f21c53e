// labgate-server's configuration (TOML, see docs/INTERFACES.md). Unknown keys are refused.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "labgate/common/config.hpp"
#include "labgate/common/defaults.hpp"
#include "labgate/common/log.hpp"
#include "labgate/common/result.hpp"
#include "server/conduct/model.hpp"
#include "server/settlement/model.hpp"

namespace lg::server {

/// [orders] attachment_limit by default: 10 MiB (http.body_limit bounds an upload too).
inline constexpr int64_t kDefaultOrderAttachmentLimit = 10LL * 1024 * 1024;

/// [auth]: sessions, personal tokens, password cost, and campus sign-on ([auth.ldap], [auth.cas]).
struct AuthConfig {
  int64_t session_hours = 12;             ///< session_hours: a login session lasts this long
  int64_t personal_token_max_days = 366;  ///< personal_token_max_days: the longest a personal token may live
  int64_t password_t_cost = 3;            ///< password_t_cost: Argon2id passes
  int64_t password_m_cost_kib = 65536;    ///< password_m_cost_kib: Argon2id memory (KiB)
  std::string default_unit;  ///< default_unit: unit of users first seen through LDAP/CAS whose own is unknown
  std::string ldap_url;      ///< [auth.ldap] url ("" = LDAP sign-in off)
  std::string ldap_bind_dn;
  std::string ldap_bind_password;
  std::string ldap_base_dn;
  std::string ldap_user_filter = "(uid={user})";
  std::string ldap_attr_name = "cn";
  std::string ldap_attr_mail = "mail";
  std::string ldap_attr_unit = "ou";
  std::string ldap_attr_category = "employeeType";
  std::string cas_url;  ///< [auth.cas] url ("" = CAS sign-in off)
  bool cas_v3 = true;
  std::vector<std::string> cas_services;  ///< service URL prefixes a ticket may be for
};

/// [smtp]: the mail server notices are sent through (server/notify). Off unless enabled; when off,
/// notices are still recorded (pending) and go out once it is on.
struct SmtpConfig {
  bool enabled = false;     ///< enabled: run the sender
  std::string host;         ///< host: the mail server (required when enabled)
  int port = 25;            ///< port
  std::string from;         ///< from: the sender address, local@domain (required when enabled)
  std::string from_name = "labgate";  ///< from_name: the From: display name ("" = none)
  bool starttls = false;    ///< starttls: STARTTLS before anything else, the certificate verified for host
  std::filesystem::path ca_file;  ///< ca_file: CAs the server's certificate is checked against ("" = the system's)
  std::string username;     ///< username, password: AUTH PLAIN (both or neither; needs starttls off loopback)
  std::string password;
  int timeout_s = 30;       ///< timeout_s: each step of the conversation (connect, each reply, each write)
  int batch = 20;           ///< batch: notices sent per round at most
  int poll_ms = 5000;       ///< poll_ms: how often the sender looks for due notices
  int max_attempts = 8;     ///< max_attempts: then a notice is failed (kept with its last error)
  int retry_base_s = 60;    ///< retry_base_s: the delay after the first failure, doubled after each further one
  int retry_max_s = 21600;  ///< retry_max_s: the delay never grows beyond this
};

struct ServerConfig {
  std::string site;
  std::filesystem::path data_dir;
  std::string time_zone{defaults::kTimeZone};
  std::string currency{defaults::kCurrency};
  log::Level log_level = log::Level::info;

  std::string http_listen = "127.0.0.1";
  int http_port = 8080;  ///< 0 = any free port
  /// The bootstrap admin token: a system admin for setting up the first people ("" = off, the
  /// default); when set, at least 16 printable ASCII characters, 6 of them distinct.
  std::string admin_token;
  std::size_t body_limit = 8 * 1024 * 1024;
  std::size_t max_connections = 0;  ///< HTTP connections open at once; 0 = from the descriptor limit
  int idle_timeout_s = 30;          ///< an HTTP connection waiting for a request is closed after this
  /// [http] tls_cert, tls_key: the listener's certificate (chain) and key, PEM; both or neither.
  /// Set: HTTPS only. Unset: plain HTTP, allowed only on a loopback address or with allow_plain.
  std::filesystem::path tls_cert, tls_key;
  /// [http] allow_plain: plain HTTP on a non-loopback address (behind a TLS proxy, or a lab test).
  bool http_allow_plain = false;
  std::size_t header_limit = 16 * 1024;  ///< [http] header_limit: request line + header bytes (431 above)
  int header_timeout_s = 10;   ///< [http] header_timeout_s: first byte (or TLS handshake) to a whole header
  int request_timeout_s = 30;  ///< [http] request_timeout_s: first byte to a whole request (body included)
  std::size_t max_connections_per_address = 256;  ///< [http] max_connections_per_address (0 = no cap)
  double rate_per_s = 100;   ///< [http] rate_per_s: requests a second per address after the burst (0 = off)
  double rate_burst = 1000;  ///< [http] rate_burst: requests one address may make at once
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

  std::string mqtt_uri = "ssl://127.0.0.1:8883";
  /// [mqtt] allow_plain: development only: lets mqtt.uri be tcp:// (no TLS, no client identity).
  bool mqtt_allow_plain = false;
  /// [mqtt] ca_file, cert_file, key_file: the broker's CA and the server's client identity (CN
  /// "server"); "" = the site CA and the identity the server issues itself in pki.dir.
  std::filesystem::path mqtt_ca_file, mqtt_cert_file, mqtt_key_file;
  /// [mqtt] identity: the CN of the server's own certificate, its user name and client id at the
  /// broker: "server", or "server.<node>" for each node of a shared group.
  std::string mqtt_identity = "server";
  /// [broker] server_identities: the server identities the broker's ACL lets publish ack, sync and
  /// cmd (default: mqtt.identity).
  std::vector<std::string> broker_server_identities;
  std::string mqtt_client_id;  ///< default "labgate-server-<site>", with host and pid when shared_group is set
  /// Publishes (acks, bundles) the MQTT client holds beyond its in-flight window; when full, the
  /// publisher waits for room instead of dropping (server/main.cpp MqttPublisher).
  int mqtt_max_buffered = 4096;
  std::string mqtt_shared_group;  ///< "": subscribe alone; else several nodes share evt/state via $share/<group>/
  int sync_refresh_s = 900;    ///< periodic rebuild of bundles (booking window moves)
  int64_t orders_attachment_limit = kDefaultOrderAttachmentLimit;  ///< [orders] attachment_limit: bytes (413 above)
  AuthConfig auth;
  SmtpConfig smtp;  ///< [smtp]: notices by mail
  settlement::Policy settlement;  ///< [settlement]: review window, monthly settlement day, allocation shares (docs/MONEY.md)
  conduct::Policy conduct;  ///< [conduct]: no-shows, credit and blocks (docs/INTERFACES.md, "Conduct and credit")

  /// [pki] the site terminal CA the server keeps.
  std::filesystem::path pki_dir;        ///< [pki] dir: ca.key (mode 0600), ca.crt, the server's identity (default <data_dir>/pki)
  int pki_cert_days = 397;              ///< [pki] cert_days: validity of a terminal's certificate
  int pki_enrol_token_hours = 24;       ///< [pki] enrol_token_hours: how long an enrolment token may be used
  /// [pki] signer_url: https://host:port of the site CA's signer service (labgate-ca) on another
  /// machine, which then holds the CA key; "" = the server keeps the CA in pki.dir (the default).
  std::string pki_signer_url;
  /// [pki] signer_ca_file, signer_cert_file, signer_key_file: the CA the signer's certificate is
  /// checked against, and the server's client identity towards it (required with signer_url).
  std::filesystem::path pki_signer_ca_file, pki_signer_cert_file, pki_signer_key_file;
  /// [broker] the Mosquitto the server configures: "" = not managed here (files made elsewhere).
  std::filesystem::path broker_dir;     ///< [broker] dir: mosquitto.conf, acl, crl.pem, ca.pem, broker.crt/key
  std::string broker_listen = "127.0.0.1";  ///< [broker] listen: address of the TLS listener
  int broker_port = 8883;               ///< [broker] port
  std::vector<std::string> broker_hosts{"localhost", "127.0.0.1"};  ///< [broker] hosts: names in its certificate
  std::filesystem::path broker_pid_file;  ///< [broker] pid_file: the broker's pid; sent SIGHUP when acl/crl change
  std::string broker_public_uri;        ///< [broker] public_uri: the URI enrolling terminals are told (default mqtt.uri)
};

/// Why `token` is too weak to guard the API ("" when it is fine): at least 16 characters, all
/// printable ASCII without spaces, at least 6 distinct ones.
std::string admin_token_weakness(const std::string& token);

/// True when text is a loopback address (127.0.0.0/8, ::1, ::ffff:127.x.x.x).
bool is_loopback_address(const std::string& text);

/// Validates a parsed document; errors name the offending key ("http.port: ...").
Result<ServerConfig> load_config(const config::Document& doc);
/// Loads and validates a config file.
Result<ServerConfig> load_config_file(const std::filesystem::path& path);

}  // namespace lg::server
