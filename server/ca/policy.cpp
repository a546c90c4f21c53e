#include "server/ca/policy.hpp"

#include <algorithm>
#include <unordered_set>

#include "server/terminals/rules.hpp"

namespace lg::server::ca {

namespace {
bool listed(const std::vector<std::string>& list, std::string_view v) {
  return std::find(list.begin(), list.end(), v) != list.end();
}

std::string named(std::string_view s) { return "'" + std::string(s.substr(0, 64)) + "'"; }
}  // namespace

std::string requester_refusal(const Policy& p, std::string_view peer_cn) {
  if (peer_cn.empty()) return "no client certificate: the signer answers only its clients (mutual TLS)";
  if (!listed(p.clients, peer_cn))
    return "the client certificate " + named(peer_cn) + " is not one of this signer's clients (policy.clients)";
  return {};
}

std::string issue_refusal(const Policy& p, const terminals::wire::IssueRequest& r) {
  if (r.days < 1 || r.days > p.max_days)
    return "days: " + std::to_string(r.days) + " is not within 1.." + std::to_string(p.max_days) +
           " (the signer's policy.max_days)";
  switch (r.usage) {
    case pki::Usage::ca: return "usage: the signer issues no CA certificates";
    case pki::Usage::client: {
      if (!r.hosts.empty()) return "hosts: a client certificate names no hosts";
      if (listed(p.server_identities, r.cn)) return {};
      if (listed(p.clients, r.cn))  // never a terminal's: its holder could call the signer
        return "cn: " + named(r.cn) + " names a client of this signer (policy.clients)";
      if (const std::string why = terminals::terminal_id_refusal(r.cn); !why.empty())
        return "cn: " + named(r.cn) + " is neither a terminal id (" + why +
               ") nor one of the server identities this signer issues (policy.server_identities)";
      return {};
    }
    case pki::Usage::server: {
      if (!listed(p.tls_names, r.cn))
        return "cn: " + named(r.cn) + " is not a TLS server this signer issues certificates for (policy.tls_names)";
      if (r.hosts.empty()) return "hosts: a server certificate names the hosts it is for";
      for (const auto& h : r.hosts)
        if (!listed(p.tls_hosts, h)) return "hosts: " + named(h) + " is not one of policy.tls_hosts";
      return {};
    }
  }
  return "usage: unknown";
}

std::string crl_refusal(const std::vector<terminals::wire::CrlEntry>& revoked, int64_t now_ms) {
  constexpr int64_t kDayMs = 86'400'000;
  std::unordered_set<uint64_t> seen;
  for (std::size_t i = 0; i < revoked.size(); ++i) {
    const auto& e = revoked[i];
    if (!seen.insert(e.serial).second)
      return "revoked[" + std::to_string(i) + "].serial: " + std::to_string(e.serial) + " is listed twice";
    if (e.revoked_ms > now_ms + kDayMs)
      return "revoked[" + std::to_string(i) + "].revoked_ms: dated after the signer's clock (more than a day ahead)";
  }
  return {};
}

}  // namespace lg::server::ca
