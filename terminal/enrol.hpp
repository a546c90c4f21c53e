// Enrolment on the device: `labgate-terminal enrol --server URL --token TOKEN` makes the key here
// (it never leaves), sends a certificate request for the id its token names, and writes what the
// server answers: its certificate, the site CA, the server's key, and <data_dir>/enrolled.toml.
// Renewal sends a request signed by the same key before the certificate runs out.
#pragma once

#include <cstdint>
#include <string>

#include "labgate/common/crypto.hpp"
#include "labgate/common/result.hpp"
#include "terminal_config.hpp"

namespace lg::terminal {

struct EnrolOptions {
  std::string server_url;  ///< the labgate server, e.g. https://labgate.campus.example:8443
  std::string token;       ///< from `labgatectl terminal enrol-token`
  std::string ca_file;     ///< the CA of the server's HTTPS certificate ("" = the system's)
};

/// What an enrolment or renewal did, for the technician.
struct EnrolOutcome {
  std::string id;
  std::string resource;
  uint64_t epoch = 0;
  bool replaced = false;
  std::string not_after;  ///< the certificate's end, as the server wrote it
  bool renewed = false;   ///< renew_if_due: a new certificate was written
};

/// Enrols this device (base gives data_dir); writes key (if new, mode 0600), terminal.crt, ca.crt,
/// server.pub and enrolled.toml into data_dir, each atomically. An error says what the server refused.
Result<EnrolOutcome> enrol(const TerminalConfig& base, const EnrolOptions& o);

/// Renews the certificate when less than a third of its life is left (asks the enrolment's server
/// with a request signed by key); nothing when it is not due. ca_file as in EnrolOptions.
Result<EnrolOutcome> renew_if_due(const TerminalConfig& cfg, const crypto::PrivateKey& key, int64_t now_ms,
                                  const std::string& ca_file = {});

}  // namespace lg::terminal
