#include "server/terminals/rules.hpp"

#include "labgate/common/protocol.hpp"

namespace lg::server::terminals {

std::string terminal_id_refusal(std::string_view id) {
  if (!proto::valid_id(id)) return "must be 1..64 of [A-Za-z0-9_.:-]";
  if (id == proto::kServerKid || id.substr(0, 7) == "server.") return "'server' and 'server.*' name the server itself";
  return {};
}

std::string enrol_refusal(const std::optional<EnrolToken>& token, std::string_view cn, int64_t now_ms) {
  if (!token || token->used_ms || now_ms >= token->expires_ms) return "the enrolment token is unknown, used or expired";
  if (cn != token->terminal)
    return "the request names '" + std::string(cn.substr(0, 64)) + "' but the token enrols '" + token->terminal + "'";
  return {};
}

bool renewal_due(int64_t issued_ms, int64_t not_after_ms, int64_t now_ms) {
  return not_after_ms - now_ms < (not_after_ms - issued_ms) / 3;
}

std::string renewal_refusal(const std::optional<Terminal>& t, std::string_view cn, std::string_view public_key) {
  if (!t) return "no terminal '" + std::string(cn.substr(0, 64)) + "' is enrolled";
  if (t->revoked_ms) return "terminal '" + t->id + "' is revoked";
  if (t->retired_ms) return "terminal '" + t->id + "' is retired";
  if (t->public_key != public_key) return "the request's key is not the enrolled key of '" + t->id + "'";
  return {};
}

std::string broker_acl(const BrokerSettings& s) {
  const std::string root = "lg/v1/" + s.site + "/";
  std::string out =
      "# labgate broker ACL, written by labgate-server (server/terminals/rules.cpp); it is rewritten\n"
      "# on every enrolment and revocation, so do not edit it here.\n"
      "# User names are the CN of each client certificate (use_identity_as_username).\n\n"
      "# The server's identities: everything under the site's topics.\n";
  for (const auto& id : s.server_identities) out += "user " + id + "\ntopic readwrite " + root + "#\n\n";
  if (!s.revoked.empty()) {
    out += "# Revoked terminals: denied every topic, also while a connection made before the\n"
           "# revocation is still open (their certificates are on the CRL too).\n";
    for (const auto& id : s.revoked) out += "user " + id + "\ntopic deny #\n\n";
  }
  out += "# Every other certificate is a terminal, and %u its id: it writes only its own state,\n"
         "# evt and cmdres and reads only its own ack, sync and cmd.\n";
  for (const char* ch : {"state", "evt", "cmdres"}) out += "pattern write " + root + "%u/" + ch + "\n";
  for (const char* ch : {"ack", "sync", "cmd"}) out += "pattern read " + root + "%u/" + ch + "\n";
  return out;
}

std::string broker_conf(const BrokerSettings& s) {
  const std::string d = s.dir + "/";
  return "# Mosquitto 2.0 configuration for labgate site " + s.site +
         ", written by labgate-server\n"
         "# (server/terminals/rules.cpp) from its [broker] settings. Start the broker with\n"
         "#   mosquitto -c " + d + "mosquitto.conf\n"
         "# The server rewrites acl and crl.pem when a terminal is enrolled or revoked and then sends the\n"
         "# broker SIGHUP (broker.pid_file), which makes Mosquitto read both again.\n\n"
         "per_listener_settings false\n" +
         (s.user.empty() ? std::string()
                         : "# Started as root, the broker becomes the user that owns these files (the server's).\n"
                           "user " + s.user + "\n") +
         "# No client without a certificate from the site CA: no anonymous clients at all.\n"
         "allow_anonymous false\n"
         "acl_file " + d + "acl\n"
         "persistence false\n"
         "log_dest stderr\n"
         "log_type error\nlog_type warning\nlog_type notice\n"
         "connection_messages true\n"
         "max_packet_size 1048576\n"
         "pid_file " + d + "mosquitto.pid\n\n"
         "# The only listener: TLS 1.2 or later, a client certificate required.\n"
         "listener " + std::to_string(s.port) + " " + s.listen + "\n"
         "protocol mqtt\n"
         "tls_version tlsv1.2\n"
         "cafile " + d + "ca.pem\n"
         "certfile " + d + "broker.crt\n"
         "keyfile " + d + "broker.key\n"
         "crlfile " + d + "crl.pem\n"
         "require_certificate true\n"
         "# The certificate's CN (the terminal id, or the server's identity) is the user name the ACL\n"
         "# matches, and the client id, so that no client can take over another's session.\n"
         "use_identity_as_username true\n"
         "use_username_as_clientid true\n";
}

}  // namespace lg::server::terminals
