#include "server/terminals/provisioning.hpp"

#include "labgate/common/files.hpp"
#include "labgate/common/log.hpp"
#include "labgate/common/time.hpp"
#include "server/terminals/remote_signer.hpp"
#include "server/terminals/rules.hpp"
#include "server/terminals/site_ca.hpp"

namespace lg::server::terminals {

std::string signer_files_refusal(const ServerConfig& cfg) {
  namespace fs = std::filesystem;
  const std::pair<const char*, const fs::path*> files[] = {{"pki.signer_ca_file", &cfg.pki_signer_ca_file},
                                                           {"pki.signer_cert_file", &cfg.pki_signer_cert_file},
                                                           {"pki.signer_key_file", &cfg.pki_signer_key_file}};
  for (const auto& [key, path] : files) {
    std::error_code ec;
    if (!fs::is_regular_file(*path, ec)) return std::string(key) + ": " + path->string() + " is not a readable file";
  }
  std::error_code ec;
  const auto perms = fs::status(cfg.pki_signer_key_file, ec).permissions();
  if (!ec && (perms & (fs::perms::group_all | fs::perms::others_all)) != fs::perms::none)
    return "pki.signer_key_file: " + cfg.pki_signer_key_file.string() +
           " may be read by others (it lets its holder ask the site CA for certificates); chmod 600 it";
  return {};
}

Result<Provisioning> open_provisioning(const ServerConfig& cfg, const std::string& server_public_key, int64_t now_ms) {
  Provisioning p;
  if (cfg.pki_signer_url.empty()) {
    auto ca = SiteCa::open(cfg.pki_dir, cfg.site, now_ms);
    if (!ca) return Error::invalid("pki.dir: " + ca.error().message());
    p.ca = std::move(*ca);
  } else {
    // One CA key, kept on the CA machine: a key left in pki.dir would be a second way in.
    std::error_code ec;
    if (std::filesystem::exists(cfg.pki_dir / "ca.key", ec))
      return Error::invalid("pki.dir: " + (cfg.pki_dir / "ca.key").string() +
                            " is a CA key, but pki.signer_url says the CA key is kept by the signer at " +
                            cfg.pki_signer_url + ": move it to the CA machine (docs/SECURITY.md, \"The CA key on a " +
                            "separate machine\") or remove signer_url");
    if (const std::string why = signer_files_refusal(cfg); !why.empty()) return Error::invalid(why);
    RemoteSignerSettings rs;
    rs.url = cfg.pki_signer_url;
    rs.ca_file = cfg.pki_signer_ca_file;
    rs.cert_file = cfg.pki_signer_cert_file;
    rs.key_file = cfg.pki_signer_key_file;
    rs.cache_dir = cfg.pki_dir;
    rs.site = cfg.site;
    auto remote = RemoteSigner::open(rs);
    if (!remote) return Error::invalid("pki.signer_url: " + remote.error().message());
    log::info("pki", "the site CA's key is kept by " + (*remote)->describe() + "; this server keeps none");
    // Its identity towards the signer is renewed by hand on the CA machine: say so in time.
    if (auto pem = files::read_text(cfg.pki_signer_cert_file, 64 * 1024); pem) {
      if (auto info = pki::read_certificate(*pem); info && renewal_due(info->not_before_ms, info->not_after_ms, now_ms))
        log::warn("pki", "pki.signer_cert_file: " + cfg.pki_signer_cert_file.string() + " expires at " +
                             time::format_utc(info->not_after_ms) +
                             ": renew it on the CA machine (labgate-ca client --config labgate-ca.toml --cn " + info->cn +
                             " --out DIR) and copy it here");
    }
    p.ca = std::move(*remote);
  }
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
