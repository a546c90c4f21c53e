#include "server/terminals/provisioning.hpp"

#include "labgate/common/log.hpp"

namespace lg::server::terminals {

Result<Provisioning> open_provisioning(const ServerConfig& cfg, const std::string& server_public_key, int64_t now_ms) {
  Provisioning p;
  auto ca = SiteCa::open(cfg.pki_dir, cfg.site, now_ms);
  if (!ca) return Error::invalid("pki.dir: " + ca.error().message());
  p.ca = std::move(*ca);
  const bool tls = cfg.mqtt_uri.rfind("ssl://", 0) == 0 || cfg.mqtt_uri.rfind("mqtts://", 0) == 0;
  if (tls) {
    mqtt::Tls t;
    if (!cfg.mqtt_cert_file.empty()) {
      t.cert_file = cfg.mqtt_cert_file.string();
      t.key_file = cfg.mqtt_key_file.string();
    } else {
      // The server's own identity, issued by the site CA it keeps; the key stays in pki.dir.
      auto id = p.ca->ensure_identity(cfg.pki_dir, cfg.mqtt_identity, cfg.mqtt_identity, pki::Usage::client, now_ms);
      if (!id) return Error::invalid("mqtt identity " + cfg.mqtt_identity + ": " + id.error().message());
      if (id->renewed) log::info("pki", "issued the server's MQTT identity " + cfg.mqtt_identity + " (" + id->cert.string() + ")");
      t.cert_file = id->cert.string();
      t.key_file = id->key.string();
    }
    t.ca_file = cfg.mqtt_ca_file.empty() ? (cfg.pki_dir / "ca.crt").string() : cfg.mqtt_ca_file.string();
    p.tls = t;
  }
  p.settings.site = cfg.site;
  p.settings.cert_days = cfg.pki_cert_days;
  p.settings.token_hours = cfg.pki_enrol_token_hours;
  p.settings.broker_uri = cfg.broker_public_uri;
  p.settings.server_public_key = server_public_key;
  p.settings.server_identities = cfg.broker_server_identities;
  p.settings.broker.dir = cfg.broker_dir;
  p.settings.broker.hosts = cfg.broker_hosts;
  p.settings.broker.pid_file = cfg.broker_pid_file;
  p.settings.broker.listen = cfg.broker_listen;
  p.settings.broker.port = cfg.broker_port;
  return p;
}

}  // namespace lg::server::terminals
