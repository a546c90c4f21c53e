// What the server opens at start for provisioning: the site CA, its own MQTT identity, and the
// settings of enrolment. main.cpp calls open_provisioning before it connects to the broker.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "labgate/common/mqtt.hpp"
#include "labgate/common/result.hpp"
#include "server/config/server_config.hpp"
#include "server/terminals/enrolment.hpp"
#include "server/terminals/site_ca.hpp"

namespace lg::server::terminals {

struct Provisioning {
  std::unique_ptr<SiteCa> ca;
  std::optional<mqtt::Tls> tls;  ///< the server's TLS files at the broker (none for a plain tcp:// URI)
  EnrolmentSettings settings;
};

/// Opens (or creates) the site CA in pki.dir, issues the server its MQTT identity when it has none
/// configured (mqtt.cert_file) or it is due, and gathers the enrolment settings. Errors name the key.
Result<Provisioning> open_provisioning(const ServerConfig& cfg, const std::string& server_public_key, int64_t now_ms);

}  // namespace lg::server::terminals
