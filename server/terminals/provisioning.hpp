// What the server opens at start for provisioning: the site CA (kept in pki.dir, or a signer
// service on another machine: pki.signer_url), its own MQTT identity, and the settings of
// enrolment. main.cpp calls open_provisioning before it connects to the broker.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "labgate/common/mqtt.hpp"
#include "labgate/common/result.hpp"
#include "server/config/server_config.hpp"
#include "server/terminals/enrolment.hpp"
#include "server/terminals/signer.hpp"

namespace lg::server::terminals {

struct Provisioning {
  std::unique_ptr<Signer> ca;    ///< SiteCa in pki.dir, or RemoteSigner when pki.signer_url is set
  std::optional<mqtt::Tls> tls;  ///< the server's TLS files at the broker (none for a plain tcp:// URI)
  EnrolmentSettings settings;
};

/// Opens (or creates) the site CA in pki.dir, or with pki.signer_url the remote signer (refused
/// while pki.dir still holds a ca.key: one CA key, on the CA machine); issues the server its MQTT
/// identity when it has none configured (mqtt.cert_file) or it is due, and gathers the enrolment
/// settings. Errors name the key.
Result<Provisioning> open_provisioning(const ServerConfig& cfg, const std::string& server_public_key, int64_t now_ms);

/// Why the server's files for the remote signer cannot be used ("" when they can): each must be a
/// file, and the key readable by its owner only. Names the [pki] key.
std::string signer_files_refusal(const ServerConfig& cfg);

}  // namespace lg::server::terminals
