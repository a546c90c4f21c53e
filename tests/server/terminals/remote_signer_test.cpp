// The remote signer (server/terminals/remote_signer.hpp) against labgate-ca's real handler
// (server/ca/service.hpp) in this process: the transport hands each request to the service as the
// TLS listener would (the client certificate's CN "server"), or fails like an unreachable host.
// Then Enrolment over it, on both store backends: a signer that does not answer costs no token.
#include <doctest/doctest.h>

#include <atomic>
#include <filesystem>

#include "labgate/common/files.hpp"
#include "labgate/common/time.hpp"
#include "server/ca/service.hpp"
#include "server/terminals/enrolment.hpp"
#include "server/terminals/remote_signer.hpp"
#include "server/terminals/signer_wire.hpp"
#include "tests/server/test_support.hpp"

using namespace lg;
using namespace lg::server;
using namespace lg::server::test;
using namespace lg::server::terminals;
namespace fs = std::filesystem;

namespace {

std::string slurp(const fs::path& p) {
  auto t = files::read_text(p, 1 << 20);
  return t ? *t : std::string();
}

/// labgate-ca in <tmp>/ca, reached through transport(); `up` false makes every call fail as an
/// unreachable signer does, `peer` is the CN the listener would report.
struct SignerMachine {
  TempDir dir;
  int64_t now = time::now_utc_ms();
  std::unique_ptr<SiteCa> ca;
  std::unique_ptr<ca::IssueLog> log;
  std::unique_ptr<ca::Service> service;
  std::atomic<bool> up{true};
  std::string peer = "server";
  int calls = 0;

  explicit SignerMachine(ca::Policy p = {}) {
    auto opened = SiteCa::open(dir.path / "ca", "demo", now);
    REQUIRE_MESSAGE(opened, (opened ? "" : opened.error().message()));
    ca = std::move(*opened);
    auto l = ca::IssueLog::open(dir.path / "ca" / "issued.log");
    REQUIRE(l);
    log = std::move(*l);
    service = std::make_unique<ca::Service>(*ca, "demo", std::move(p), *log, [] { return time::now_utc_ms(); });
  }
  SignerTransport transport() {
    return [this](std::string_view method, std::string_view path, const std::string& body) -> Result<SignerReply> {
      ++calls;
      if (!up)
        return Error::from(std::make_error_code(std::errc::host_unreachable), "connection refused while connecting");
      http::Request r = http::make_request(std::string(method), std::string(path), "", body);
      r.peer_cn = peer;
      r.remote = "10.0.0.9";
      auto answer = service->handle(r);
      return SignerReply{answer.status, answer.body};
    };
  }
  RemoteSignerSettings settings() const {
    RemoteSignerSettings s;
    s.url = "https://ca.test:8443";
    s.cache_dir = dir.path / "server-pki";
    s.site = "demo";
    return s;
  }
  std::string log_text() const { return slurp(dir.path / "ca" / "issued.log"); }
};

crypto::PrivateKey key() {
  auto k = crypto::PrivateKey::generate();
  REQUIRE(k);
  return std::move(*k);
}

}  // namespace

TEST_CASE("remote signer: the CA certificate is fetched and cached, certificates and CRLs come from the signer") {
  SignerMachine m;
  auto rs = RemoteSigner::open(m.settings(), m.transport());
  REQUIRE_MESSAGE(rs, (rs ? "" : rs.error().message()));
  CHECK((*rs)->certificate() == m.ca->certificate());
  CHECK(slurp(m.settings().cache_dir / "ca.crt") == m.ca->certificate());
  CHECK_FALSE(fs::exists(m.settings().cache_dir / "ca.key"));

  auto k = key();
  auto issued = (*rs)->issue(k.public_key(), "t-xrd-01", pki::Usage::client, 30, 0);
  REQUIRE_MESSAGE(issued, (issued ? "" : issued.error().message()));
  CHECK(pki::verify(issued->pem, m.ca->certificate()));
  CHECK(issued->not_after_ms > m.now + 29 * 86'400'000LL);  // the signer's clock, not the 0 passed
  CHECK(m.log_text().find("\"serial\":\"" + std::to_string(issued->serial) + "\"") != std::string::npos);

  CertRecord r;
  r.serial = issued->serial;
  r.revoked_ms = m.now;
  r.not_after_ms = issued->not_after_ms;
  auto crl = (*rs)->crl({r}, m.now);
  REQUIRE_MESSAGE(crl, (crl ? "" : crl.error().message()));
  CHECK_FALSE(pki::verify(issued->pem, m.ca->certificate(), *crl));

  // The server's own identities through the signer: the key stays in the server's dir.
  auto id = (*rs)->ensure_identity(m.dir.path / "server-pki", "server", "server", pki::Usage::client, m.now);
  REQUIRE_MESSAGE(id, (id ? "" : id.error().message()));
  CHECK(id->renewed);
  CHECK(m.log_text().find("\"cn\":\"server\"") != std::string::npos);

  SUBCASE("a refusal of the signer's policy is not_allowed with its reason; nothing issued") {
    const std::string before = m.log_text();
    auto too_long = (*rs)->issue(k.public_key(), "t-xrd-01", pki::Usage::client, 398, 0);
    REQUIRE_FALSE(too_long);
    CHECK(is(too_long.error(), Errc::not_allowed));
    CHECK(too_long.error().reason.find("policy.max_days") != std::string::npos);
    auto server_name = (*rs)->issue(k.public_key(), "server.evil", pki::Usage::client, 30, 0);
    REQUIRE_FALSE(server_name);
    CHECK(server_name.error().reason.find("policy.server_identities") != std::string::npos);
    CHECK(m.log_text() == before);
    CHECK((*rs)->reachable());
  }
  SUBCASE("a server certificate the signer does not trust gets 403, which is not_allowed") {
    m.peer = "t-xrd-01";
    auto refused = (*rs)->issue(k.public_key(), "t-xrd-02", pki::Usage::client, 30, 0);
    REQUIRE_FALSE(refused);
    CHECK(is(refused.error(), Errc::not_allowed));
    CHECK(refused.error().reason.find("policy.clients") != std::string::npos);
  }
}

TEST_CASE(
    "remote signer: unreachable is unavailable (503), watched, and the cached CA certificate lets the server start") {
  SignerMachine m;
  m.up = false;
  auto none = RemoteSigner::open(m.settings(), m.transport());
  REQUIRE_FALSE(none);
  CHECK(none.error().reason.find("start the signer") != std::string::npos);

  m.up = true;
  REQUIRE(RemoteSigner::open(m.settings(), m.transport()));  // caches ca.crt
  m.up = false;
  auto rs = RemoteSigner::open(m.settings(), m.transport());
  REQUIRE_MESSAGE(rs, (rs ? "" : rs.error().message()));
  CHECK((*rs)->certificate() == m.ca->certificate());
  CHECK_FALSE((*rs)->reachable());

  std::vector<std::pair<bool, std::string>> seen;
  (*rs)->watch([&](bool ok, const std::string& why) { seen.emplace_back(ok, why); }, 3600);
  REQUIRE(seen.size() == 1);  // told at once that it was not reached at start
  CHECK_FALSE(seen[0].first);
  auto down = (*rs)->issue(key().public_key(), "t1", pki::Usage::client, 30, 0);
  REQUIRE_FALSE(down);
  CHECK(is(down.error(), Errc::unavailable));
  CHECK(http_status(down.error()) == 503);
  CHECK(down.error().reason.find("https://ca.test:8443") != std::string::npos);
  CHECK(seen.size() == 1);  // no change, no call
  m.up = true;
  REQUIRE((*rs)->issue(key().public_key(), "t1", pki::Usage::client, 30, 0));
  REQUIRE(seen.size() == 2);
  CHECK(seen[1].first);
  CHECK((*rs)->reachable());
  (*rs)->unwatch();
  m.up = false;
  CHECK_FALSE((*rs)->issue(key().public_key(), "t1", pki::Usage::client, 30, 0));
  CHECK(seen.size() == 2);  // no longer told
}

TEST_CASE("remote signer: a signer of another site, or an answer that is not the certificate asked for, is refused") {
  SignerMachine m;
  auto settings = m.settings();
  settings.site = "other";
  auto wrong_site = RemoteSigner::open(settings, m.transport());
  REQUIRE_FALSE(wrong_site);
  CHECK(wrong_site.error().reason.find("site 'demo'") != std::string::npos);

  auto rs = RemoteSigner::open(m.settings(), m.transport());
  REQUIRE(rs);
  // A signer (or someone in its place) answering with a certificate for another key.
  auto other = RemoteSigner::open(
      m.settings(),
      [&](std::string_view method, std::string_view path, const std::string& body) -> Result<SignerReply> {
        if (path != wire::kCertificatesPath) return m.transport()(method, path, body);
        auto req = wire::decode_issue_request(body);
        REQUIRE(req);
        auto swapped = wire::encode(wire::IssueRequest{key().public_pem(), req->cn, req->usage, req->days, req->hosts});
        return m.transport()(method, path, swapped);
      });
  REQUIRE(other);
  auto forged = (*other)->issue(key().public_key(), "t1", pki::Usage::client, 30, 0);
  REQUIRE_FALSE(forged);
  CHECK(forged.error().reason.find("not the one asked for") != std::string::npos);
}

TEST_CASE("enrolment through a remote signer: down, the token is not spent, and back, the same token enrols") {
  SignerMachine m;
  TempDir site;
  auto store = open_store(site);
  seed(*store, m.now);
  auto rs = RemoteSigner::open(m.settings(), m.transport());
  REQUIRE(rs);
  EnrolmentSettings es;
  es.site = "demo";
  es.broker.dir = site.path / "broker";
  es.broker.hosts = {"localhost", "127.0.0.1"};
  const Stores st = store->stores();
  Enrolment enrolment(st.uow, st.terminals, st.audit, **rs, es);
  REQUIRE(enrolment.refresh_broker(m.now));
  const std::string first_crl = slurp(site.path / "broker" / "crl.pem");
  REQUIRE_FALSE(first_crl.empty());
  const audit::Context admin{"root", "local", "req-1"}, device{"", "10.0.0.7", "req-2"};

  auto token = enrolment.issue_token("t1", "inst-xrd", 0, admin, m.now);
  REQUIRE(token);
  auto k = key();
  auto csr = pki::make_csr(k, "t1");
  REQUIRE(csr);
  m.up = false;
  auto refused = enrolment.enrol(token->token, *csr, device, m.now);
  REQUIRE_FALSE(refused);
  CHECK(http_status(refused.error()) == 503);
  auto stored = st.terminals.enrol_token(crypto::sha256_hex(token->token));
  REQUIRE((stored && *stored));
  CHECK_FALSE((*stored)->used_ms);  // not spent
  CHECK(*st.terminals.get("t1") == std::nullopt);

  m.up = true;
  auto c = enrolment.enrol(token->token, *csr, device, m.now);
  REQUIRE_MESSAGE(c, (c ? "" : c.error().message()));
  CHECK(pki::verify(c->certificate.pem, m.ca->certificate()));
  CHECK(c->ca_certificate == m.ca->certificate());

  // Revoked while the signer is down: the ACL denies it at once, the CRL follows when it answers.
  m.up = false;
  REQUIRE(enrolment.revoke("t1", "stolen", admin, m.now + 1000));
  CHECK(slurp(site.path / "broker" / "acl").find("user t1\ntopic deny #") != std::string::npos);
  CHECK(slurp(site.path / "broker" / "crl.pem") == first_crl);
  enrolment.retry_pending(m.now + 2000);  // still down: nothing changes
  CHECK(slurp(site.path / "broker" / "crl.pem") == first_crl);
  m.up = true;
  enrolment.retry_pending(m.now + 3000);
  const std::string crl = slurp(site.path / "broker" / "crl.pem");
  CHECK_FALSE(pki::verify(c->certificate.pem, m.ca->certificate(), crl));
  const int before = m.calls;
  enrolment.retry_pending(m.now + 4000);  // nothing pending: no call
  CHECK(m.calls == before);
}
