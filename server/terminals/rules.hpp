// Rules of provisioning: enrolment tokens, certificate renewal, and what the broker is told
// (its ACL and configuration). Pure functions of plain values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "labgate/common/pki.hpp"
#include "server/terminals/model.hpp"

namespace lg::server::terminals {

using pki::enrol_token_terminal;
using pki::kEnrolTokenPrefix;
using pki::make_enrol_token;

/// Why a terminal id may not be enrolled ("" when it may): it must be a valid id, and the names
/// of the server's own broker identities ("server", "server.*") are reserved.
std::string terminal_id_refusal(std::string_view id);

/// Why this token does not enrol a device whose request names `cn` now ("" when it does). The
/// same answer for unknown, used and expired tokens, so that the answer tells a guesser nothing.
std::string enrol_refusal(const std::optional<EnrolToken>& token, std::string_view cn, int64_t now_ms);

/// True when a certificate valid from issued_ms to not_after_ms should be renewed now: less than a
/// third of its life is left.
bool renewal_due(int64_t issued_ms, int64_t not_after_ms, int64_t now_ms);

/// Why a renewal request from the holder of `public_key` for terminal t is refused ("" when it is
/// granted): the terminal must be enrolled with that very key and not revoked or retired.
std::string renewal_refusal(const std::optional<Terminal>& t, std::string_view cn, std::string_view public_key);

/// What the broker's files say.
struct BrokerSettings {
  std::string site;
  std::string listen = "127.0.0.1";
  int port = 8883;
  std::string dir;  ///< where the files are (absolute), for the paths inside mosquitto.conf
  std::string user;  ///< the user the broker runs as when started as root: who owns the files
  std::vector<std::string> server_identities{"server"};  ///< CNs of the server's nodes
  std::vector<std::string> revoked;                      ///< terminal ids revoked now
};

/// The Mosquitto ACL file: each terminal (its certificate's CN) writes only its own state, evt and
/// cmdres and reads only its own ack, sync and cmd; only the server's identities write ack, sync,
/// cmd; a revoked terminal is denied every topic.
std::string broker_acl(const BrokerSettings& s);

/// The Mosquitto configuration: one TLS listener requiring a client certificate signed by the site
/// CA and not on its CRL, the certificate's CN as the user name and client id, no anonymous
/// clients, the ACL above. Commented for the people who run the broker.
std::string broker_conf(const BrokerSettings& s);

}  // namespace lg::server::terminals
