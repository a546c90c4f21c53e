// labgate-ca's own policy: what the site CA's signer issues and signs, whoever asks. It holds
// whatever the server says (a compromised server gets no more than this). Pure functions of plain
// values; the service (service.hpp) applies them before it signs anything.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "server/terminals/signer_wire.hpp"

namespace lg::server::ca {

/// [policy] in labgate-ca.toml.
struct Policy {
  /// CNs of the client certificates (issued by this CA) that may call the signer: the server's.
  std::vector<std::string> clients{"server"};
  /// Client certificates it issues besides terminals': the server's identities at the broker.
  std::vector<std::string> server_identities{"server"};
  /// CNs of the TLS server certificates it issues (the broker's), and the host names and
  /// addresses those may carry.
  std::vector<std::string> tls_names{"broker"};
  std::vector<std::string> tls_hosts{"localhost", "127.0.0.1"};
  /// The longest validity it gives any certificate, in days.
  int max_days = 397;
};

/// Why the holder of a client certificate with this CN may not call the signer ("" when it may).
std::string requester_refusal(const Policy& p, std::string_view peer_cn);

/// Why this certificate is not issued ("" when it is): no CA certificates; validity 1..max_days;
/// a client certificate is for a terminal (a valid terminal id, not a server name) or for one of
/// server_identities, and names no hosts; a server certificate is for one of tls_names and every
/// host it names is one of tls_hosts.
std::string issue_refusal(const Policy& p, const terminals::wire::IssueRequest& r);

/// Why a CRL of these entries is not signed ("" when it is): a serial listed twice, or a
/// revocation dated more than a day after now_ms.
std::string crl_refusal(const std::vector<terminals::wire::CrlEntry>& revoked, int64_t now_ms);

}  // namespace lg::server::ca
