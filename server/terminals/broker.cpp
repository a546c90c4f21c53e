#include "server/terminals/broker.hpp"

#include <pwd.h>

#include <chrono>
#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include "labgate/common/files.hpp"
#include "labgate/common/log.hpp"

namespace lg::server::terminals {

namespace fs = std::filesystem;

namespace {
/// Writes text when it differs from what the file holds; returns whether it wrote.
Result<bool> write_if_changed(const fs::path& p, const std::string& text, unsigned mode) {
  if (auto old = files::read_text(p, 16 << 20); old && *old == text) return false;
  LG_TRY(files::write_atomic(p, text, mode));
  return true;
}
}  // namespace

Result<bool> write_broker_files(const Signer& ca, const BrokerPlace& place, const BrokerSettings& settings,
                                const std::string& crl_pem, const std::string& crl_key, int64_t now_ms) {
  if (place.dir.empty()) return false;
  std::error_code ec;
  fs::create_directories(place.dir, ec);
  if (ec) return Error::from(ec, "broker.dir: cannot create " + place.dir.string());
  auto id = ca.ensure_identity(place.dir, "broker", "broker", pki::Usage::server, now_ms, place.hosts);
  if (!id) return Error::invalid("broker certificate: " + id.error().message());
  LG_TRY(write_if_changed(place.dir / "ca.pem", ca.certificate(), 0644));
  BrokerSettings s = settings;
  s.listen = place.listen;
  s.port = place.port;
  s.dir = fs::absolute(place.dir).lexically_normal().string();
  if (const passwd* pw = ::getpwuid(::geteuid()); pw != nullptr && pw->pw_name != nullptr) s.user = pw->pw_name;
  // The CRL is signed anew each time (its dates change): keep the file while it lists the same
  // certificates and is less than 30 days old.
  Result<bool> crl_changed = false;
  {
    const fs::path crl = place.dir / "crl.pem", key = place.dir / "crl.serials";
    auto was = files::read_text(key, 1 << 20);
    std::error_code age_ec;
    const auto written = fs::last_write_time(crl, age_ec);
    const bool fresh = !age_ec && fs::file_time_type::clock::now() - written < std::chrono::hours(24 * 30);
    if (!crl_pem.empty() && !(was && *was == crl_key && fresh)) {
      crl_changed = write_if_changed(crl, crl_pem, 0644);
      if (crl_changed) LG_TRY(files::write_atomic(key, crl_key, 0644));
    }
  }
  if (!crl_changed) return crl_changed.error();
  auto acl_changed = write_if_changed(place.dir / "acl", broker_acl(s), 0644);
  if (!acl_changed) return acl_changed.error();
  auto conf_changed = write_if_changed(place.dir / "mosquitto.conf", broker_conf(s), 0644);
  if (!conf_changed) return conf_changed.error();
  if (!*crl_changed && !*acl_changed && !*conf_changed && !id->renewed) return false;
  const fs::path pid_file = place.pid_file.empty() ? place.dir / "mosquitto.pid" : place.pid_file;
  auto pid_text = files::read_text(pid_file, 64);
  if (!pid_text) {
    log::debug("pki", "broker files changed; no broker pid in " + pid_file.string() + " to tell");
    return false;
  }
  const long pid = std::strtol(pid_text->c_str(), nullptr, 10);
  if (pid <= 1 || ::kill(static_cast<pid_t>(pid), SIGHUP) != 0) {
    log::warn("pki", "broker files changed but the broker (pid file " + pid_file.string() +
                         ") could not be told: restart it or send it SIGHUP");
    return false;
  }
  log::info("pki", "broker told to reload its ACL and CRL (SIGHUP to pid " + std::to_string(pid) + ")");
  return true;
}

}  // namespace lg::server::terminals
