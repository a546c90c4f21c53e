// The files of the Mosquitto broker the server configures ([broker] dir), and telling the broker
// to read them again.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "labgate/common/result.hpp"
#include "server/terminals/rules.hpp"
#include "server/terminals/signer.hpp"

namespace lg::server::terminals {

/// Where the broker is and what it is called.
struct BrokerPlace {
  std::filesystem::path dir;       ///< "" = the broker is not managed by this server
  std::vector<std::string> hosts;  ///< names in the broker's certificate
  std::filesystem::path pid_file;  ///< "" = <dir>/mosquitto.pid
  std::string listen = "127.0.0.1";  ///< the TLS listener's address and port
  int port = 8883;
};

/// Writes ca.pem, broker.crt/.key (issued by the CA when missing or due), crl.pem, acl and
/// mosquitto.conf into place.dir, each atomically, and when acl or crl.pem changed and the
/// broker runs (its pid file names a live process) sends it SIGHUP. Returns whether the broker
/// was told to reload.
/// crl_key names what the CRL lists (its serials): an unchanged list keeps the file (and the
/// broker is not told) unless it is older than 30 days, so that it never runs out. An empty
/// crl_pem keeps crl.pem as it is (the signer could not sign a new one now).
Result<bool> write_broker_files(const Signer& ca, const BrokerPlace& place, const BrokerSettings& settings,
                                const std::string& crl_pem, const std::string& crl_key, int64_t now_ms);

}  // namespace lg::server::terminals
