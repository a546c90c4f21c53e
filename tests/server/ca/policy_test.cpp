// labgate-ca's own policy (server/ca/policy.hpp), as plain values: who may ask, which
// certificates it issues, which CRLs it signs.
#include <doctest/doctest.h>

#include "server/ca/policy.hpp"

using namespace lg;
using namespace lg::server::ca;
using lg::server::terminals::wire::CrlEntry;
using lg::server::terminals::wire::IssueRequest;

namespace {
IssueRequest request(std::string cn, pki::Usage usage = pki::Usage::client, int days = 397,
                     std::vector<std::string> hosts = {}) {
  return IssueRequest{"(key)", std::move(cn), usage, days, std::move(hosts)};
}
}  // namespace

TEST_CASE("signer policy: only the configured clients may ask") {
  Policy p;
  p.clients = {"server", "server.b"};
  CHECK(requester_refusal(p, "server").empty());
  CHECK(requester_refusal(p, "server.b").empty());
  const std::string terminal = requester_refusal(p, "t-xrd-01");
  CHECK(terminal.find("'t-xrd-01'") != std::string::npos);
  CHECK(terminal.find("policy.clients") != std::string::npos);
  CHECK(requester_refusal(p, "server.c").find("policy.clients") != std::string::npos);
  CHECK(requester_refusal(p, "").find("no client certificate") != std::string::npos);
}

TEST_CASE("signer policy: client certificates for terminal ids and the server identities only") {
  Policy p;
  p.server_identities = {"server", "server.b"};
  CHECK(issue_refusal(p, request("t-xrd-01")).empty());
  CHECK(issue_refusal(p, request("door.lab-3:east")).empty());
  CHECK(issue_refusal(p, request("server")).empty());
  CHECK(issue_refusal(p, request("server.b")).empty());
  // A server name it was not told of, an id with a space, an empty or too long one: refused, naming why.
  const std::string other_server = issue_refusal(p, request("server.evil"));
  CHECK(other_server.find("'server.evil'") != std::string::npos);
  CHECK(other_server.find("policy.server_identities") != std::string::npos);
  CHECK(issue_refusal(p, request("t 1")).find("[A-Za-z0-9_.:-]") != std::string::npos);
  CHECK_FALSE(issue_refusal(p, request("")).empty());
  CHECK_FALSE(issue_refusal(p, request(std::string(65, 'a'))).empty());
  // A client certificate names no hosts.
  CHECK(issue_refusal(p, request("t1", pki::Usage::client, 397, {"localhost"})).find("hosts") == 0);
  // A client of the signer is never issued as a terminal (its holder could call the signer).
  Policy q;
  q.clients = {"server.ops"};
  q.server_identities = {"server"};
  CHECK(issue_refusal(q, request("server.ops")).find("policy.clients") != std::string::npos);
}

TEST_CASE("signer policy: server certificates for the configured names and hosts, no CA, at most max_days") {
  Policy p;
  p.tls_names = {"broker"};
  p.tls_hosts = {"localhost", "127.0.0.1", "mqtt.lab.example"};
  p.max_days = 397;
  CHECK(issue_refusal(p, request("broker", pki::Usage::server, 397, {"localhost", "mqtt.lab.example"})).empty());
  CHECK(issue_refusal(p, request("labgate.example", pki::Usage::server, 30, {"localhost"})).find("policy.tls_names") !=
        std::string::npos);
  const std::string host = issue_refusal(p, request("broker", pki::Usage::server, 30, {"localhost", "evil.example"}));
  CHECK(host.find("'evil.example'") != std::string::npos);
  CHECK(host.find("policy.tls_hosts") != std::string::npos);
  CHECK(issue_refusal(p, request("broker", pki::Usage::server, 30)).find("hosts") == 0);
  CHECK(issue_refusal(p, request("t1", pki::Usage::ca, 30)).find("no CA certificates") != std::string::npos);
  CHECK(issue_refusal(p, request("t1", pki::Usage::client, 398)).find("1..397") != std::string::npos);
  CHECK(issue_refusal(p, request("t1", pki::Usage::client, 0)).find("1..397") != std::string::npos);
  CHECK(issue_refusal(p, request("t1", pki::Usage::client, 1)).empty());
}

TEST_CASE("signer policy: a CRL lists each serial once, with revocations not dated ahead of the signer's clock") {
  const int64_t now = 1'800'000'000'000;
  constexpr int64_t kDay = 86'400'000;
  CHECK(crl_refusal({}, now).empty());
  CHECK(crl_refusal({{1, now - kDay, now + kDay}, {2, now, now + kDay}}, now).empty());
  CHECK(crl_refusal({{1, now + kDay, now + 2 * kDay}}, now).empty());  // a clock a day apart is tolerated
  CHECK(crl_refusal({{1, now + kDay + 1, now + 2 * kDay}}, now).find("revoked[0].revoked_ms") == 0);
  CHECK(crl_refusal({{7, now, now + kDay}, {8, now, now + kDay}, {7, now, now + kDay}}, now)
            .find("revoked[2].serial: 7 is listed twice") == 0);
}
