// labgate-ca's configuration (TOML, labgate-ca.toml; `labgate-ca init` writes a commented one).
// Unknown keys are refused; errors name the key.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "labgate/common/config.hpp"
#include "labgate/common/log.hpp"
#include "labgate/common/result.hpp"
#include "server/ca/policy.hpp"

namespace lg::server::ca {

struct CaConfig {
  std::string site;           ///< [ca] site: the site code (the CA's organisation)
  std::filesystem::path dir;  ///< [ca] dir: ca.key, ca.crt, signer.crt/.key, issued.log (default: the config's folder)
  std::string listen = "127.0.0.1";  ///< [ca] listen: the address the signer serves on
  int port = 8443;                   ///< [ca] port: 0 = any free port; the port is written to <dir>/labgate-ca.port
  /// [ca] hosts: the names and IPv4 addresses in the signer's TLS certificate (what signer_url names).
  std::vector<std::string> hosts{"localhost", "127.0.0.1"};
  log::Level log_level = log::Level::info;  ///< [ca] log_level
  Policy policy;                            ///< [policy]
};

/// Validates a parsed document; errors name the offending key ("policy.max_days: ...").
Result<CaConfig> load_ca_config(const config::Document& doc);
/// Loads and validates a config file.
Result<CaConfig> load_ca_config_file(const std::filesystem::path& path);

/// The commented config text for c (what `labgate-ca init` writes; dir is written as given).
std::string ca_config_text(const CaConfig& c);

}  // namespace lg::server::ca
