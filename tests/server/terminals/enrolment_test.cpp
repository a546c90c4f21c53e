// Provisioning end to end below HTTP, on both backends: the Enrolment service over a real site CA
// in a temp dir and a real store (open_store): tokens, enrolment by certificate request, renewal,
// revocation with its CRL and broker ACL, the broker told by SIGHUP; and the site CA's files.
#include <doctest/doctest.h>

#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "labgate/common/files.hpp"
#include "labgate/common/pki.hpp"
#include "labgate/common/time.hpp"
#include "server/terminals/enrolment.hpp"
#include "server/terminals/site_ca.hpp"
#include "tests/server/test_support.hpp"

extern char** environ;

using namespace lg;
using namespace lg::server;
using namespace lg::server::test;
using namespace lg::server::terminals;
namespace fs = std::filesystem;

namespace {

constexpr int64_t kDay = 86'400'000;

std::string slurp(const fs::path& p) {
  auto t = files::read_text(p, 1 << 20);
  return t ? *t : std::string();
}

/// A child process that sleeps until a signal ends it: a stand-in broker whose pid goes in the
/// pid file. Killed (SIGKILL) and reaped when the test did not wait for it.
struct Sleeper {
  pid_t pid = -1;
  bool reaped = false;
  Sleeper() {
    char arg0[] = "sleep";
    char arg1[] = "600";
    char* argv[] = {arg0, arg1, nullptr};
    REQUIRE(::posix_spawnp(&pid, "sleep", nullptr, nullptr, argv, environ) == 0);
  }
  ~Sleeper() {
    if (reaped) return;
    ::kill(pid, SIGKILL);
    int st = 0;
    ::waitpid(pid, &st, 0);
  }
  Sleeper(const Sleeper&) = delete;
  Sleeper& operator=(const Sleeper&) = delete;
  void write_pid(const fs::path& file) const { std::ofstream(file) << pid << "\n"; }
  /// Sends sig and waits for the child to end: the signal that ended it (the first one it got).
  int end_with(int sig) {
    ::kill(pid, sig);
    int st = 0;
    REQUIRE(::waitpid(pid, &st, 0) == pid);
    reaped = true;
    REQUIRE(WIFSIGNALED(st));
    return WTERMSIG(st);
  }
};

/// A site: seeded store, the CA in <dir>/pki, the broker's files in <dir>/broker, its pid file in
/// <dir>/broker.pid, and the Enrolment service over them. now is the real clock (certificates
/// are checked against it by pki::verify).
struct Site {
  TempDir dir;
  std::unique_ptr<TestStore> store = open_store(dir);
  int64_t now = time::now_utc_ms();
  std::unique_ptr<SiteCa> ca;
  std::unique_ptr<Enrolment> enrolment;
  audit::Context admin{"root", "local", "req-1"};
  audit::Context device{"", "10.0.0.7", "req-2"};  ///< an open route: nobody signed in

  explicit Site(bool broker = true) {
    seed(*store, now);
    auto opened = SiteCa::open(dir.path / "pki", "demo", now);
    REQUIRE_MESSAGE(opened, (opened ? "" : opened.error().message()));
    ca = std::move(*opened);
    EnrolmentSettings s;
    s.site = "demo";
    s.server_identities = {"server"};
    if (broker) {
      s.broker.dir = dir.path / "broker";
      s.broker.pid_file = dir.path / "broker.pid";
      s.broker.hosts = {"localhost", "127.0.0.1"};
    }
    const Stores st = store->stores();
    enrolment = std::make_unique<Enrolment>(st.uow, st.terminals, st.audit, *ca, s);
  }
  terminals::Store& terminals() { return store->stores().terminals; }
  fs::path broker(const std::string& name) const { return dir.path / "broker" / name; }

  std::string token(const std::string& id, const std::string& resource = "inst-xrd", int64_t ttl_s = 0) {
    auto t = enrolment->issue_token(id, resource, ttl_s, admin, now);
    REQUIRE_MESSAGE(t, (t ? "" : t.error().message()));
    return t->token;
  }
  static std::string csr(const crypto::PrivateKey& key, const std::string& cn) {
    auto c = pki::make_csr(key, cn);
    REQUIRE(c);
    return *c;
  }
  Credentials enrol(const std::string& id, const crypto::PrivateKey& key, int64_t at) {
    auto c = enrolment->enrol(token(id), csr(key, id), device, at);
    REQUIRE_MESSAGE(c, (c ? "" : c.error().message()));
    return *c;
  }
  /// The audit entries about terminal id, oldest first.
  std::vector<audit::Entry> audit_of(const std::string& id) {
    audit::Filter f;
    f.entity = "terminal";
    f.entity_id = id;
    auto page = store->stores().audit.list(f);
    REQUIRE(page);
    return std::vector<audit::Entry>(page->rows.rbegin(), page->rows.rend());
  }
};

}  // namespace

TEST_CASE("a token enrols the device that holds the key of its request: a certificate of the site CA naming the id") {
  Site s;
  auto issued = s.enrolment->issue_token("t1", "inst-xrd", 0, s.admin, s.now);
  REQUIRE(issued);
  CHECK(pki::enrol_token_terminal(issued->token) == std::optional<std::string>("t1"));
  CHECK(issued->expires_ms == s.now + 24 * 3600'000);  // the configured hours by default
  // Only the hash is stored.
  auto stored = s.terminals().enrol_token(crypto::sha256_hex(issued->token));
  REQUIRE((stored && *stored));
  CHECK((*stored)->created_by == "root");

  auto key = new_key();
  auto c = s.enrolment->enrol(issued->token, Site::csr(key, "t1"), s.device, s.now + 1000);
  REQUIRE_MESSAGE(c, (c ? "" : c.error().message()));
  CHECK_FALSE(c->replaced);
  CHECK(c->terminal.id == "t1");
  CHECK(c->terminal.resource == "inst-xrd");
  CHECK(c->terminal.epoch == 1);
  CHECK(c->ca_certificate == s.ca->certificate());
  CHECK(pki::verify(c->certificate.pem, s.ca->certificate()));
  auto info = pki::read_certificate(c->certificate.pem);
  REQUIRE(info);
  CHECK(info->cn == "t1");
  CHECK(info->serial == c->certificate.serial);
  CHECK(info->key.to_pem() == key.public_pem());
  CHECK_FALSE(info->ca);
  auto certs = s.terminals().certificates("t1");
  REQUIRE(certs);
  REQUIRE(certs->size() == 1);
  CHECK(certs->at(0).serial == c->certificate.serial);
  CHECK(certs->at(0).not_after_ms == c->certificate.not_after_ms);

  // Audited: who issued the token, and the enrolment on that person's token; the token's text
  // appears in no entry.
  auto entries = s.audit_of("t1");
  REQUIRE(entries.size() == 2);
  CHECK(entries[0].action == "enrol_token");
  CHECK(entries[0].actor == "root");
  CHECK(entries[0].request_id == "req-1");
  CHECK(entries[1].action == "enrol");
  CHECK(entries[1].actor == "enrolment token of root");
  CHECK(entries[1].source == "10.0.0.7");
  for (const auto& e : entries) {
    CHECK(e.after.find(issued->token) == std::string::npos);
    CHECK(e.after.find(issued->token.substr(issued->token.find('.') + 1)) == std::string::npos);
  }

  // The token is spent.
  auto again = s.enrolment->enrol(issued->token, Site::csr(new_key(), "t1"), s.device, s.now + 2000);
  REQUIRE_FALSE(again);
  CHECK(is(again.error(), Errc::unauthorized));
}

TEST_CASE("enrolment refuses a request for another id, and unknown, used or expired tokens alike") {
  Site s;
  const std::string token = s.token("t1");
  auto key = new_key();

  auto other = s.enrolment->enrol(token, Site::csr(key, "t2"), s.device, s.now);
  REQUIRE_FALSE(other);
  CHECK(other.error().reason.find("'t2'") != std::string::npos);
  CHECK(other.error().reason.find("'t1'") != std::string::npos);
  CHECK_FALSE(is(other.error(), Errc::unauthorized));

  auto expired = s.enrolment->enrol(token, Site::csr(key, "t1"), s.device, s.now + 24 * 3600'000);
  REQUIRE_FALSE(expired);
  CHECK(is(expired.error(), Errc::unauthorized));
  const std::string vague = expired.error().reason;

  const std::string unknown_token = pki::make_enrol_token("t1", std::string(43, 'A'));
  auto unknown = s.enrolment->enrol(unknown_token, Site::csr(key, "t1"), s.device, s.now);
  REQUIRE_FALSE(unknown);
  CHECK(is(unknown.error(), Errc::unauthorized));
  CHECK(unknown.error().reason == vague);
  auto garbage = s.enrolment->enrol("not a token", Site::csr(key, "t1"), s.device, s.now);
  REQUIRE_FALSE(garbage);
  CHECK(is(garbage.error(), Errc::unauthorized));
  CHECK(garbage.error().reason == vague);
  auto bad_csr = s.enrolment->enrol(token, "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n", s.device, s.now);
  CHECK_FALSE(bad_csr);

  // None of these spent the token or enrolled anything: before it expires it still works.
  auto t = s.terminals().get("t1");
  REQUIRE(t);
  CHECK_FALSE(*t);
  CHECK(*s.terminals().get("t2") == std::nullopt);
  auto ok = s.enrolment->enrol(token, Site::csr(key, "t1"), s.device, s.now + 24 * 3600'000 - 1);
  CHECK(ok);

  SUBCASE("issuing: reserved and invalid ids, unknown resources and long lives are refused") {
    CHECK_FALSE(s.enrolment->issue_token("server", "inst-xrd", 0, s.admin, s.now));
    CHECK_FALSE(s.enrolment->issue_token("server.2", "inst-xrd", 0, s.admin, s.now));
    CHECK_FALSE(s.enrolment->issue_token("t 1", "inst-xrd", 0, s.admin, s.now));
    CHECK_FALSE(s.enrolment->issue_token("t3", "inst-xrd", 24 * 3600 + 1, s.admin, s.now));
    CHECK_FALSE(s.enrolment->issue_token("t3", "inst-xrd", -1, s.admin, s.now));
    auto unknown_res = s.enrolment->issue_token("t3", "no-such", 0, s.admin, s.now);
    REQUIRE_FALSE(unknown_res);
    CHECK(is(unknown_res.error(), Errc::unknown_reference));
    auto shortlived = s.enrolment->issue_token("t3", "door-1", 120, s.admin, s.now);
    REQUIRE(shortlived);
    CHECK(shortlived->expires_ms == s.now + 120'000);
    CHECK(s.audit_of("t3").size() == 1);  // the refused ones left no entry
  }
}

TEST_CASE("renewal: nothing new until a third of the life is left, then a new certificate, only for the enrolled key") {
  Site s;
  auto key = new_key();
  const Credentials first = s.enrol("t1", key, s.now);

  auto early = s.enrolment->renew(Site::csr(key, "t1"), s.device, s.now + kDay);
  REQUIRE_MESSAGE(early, (early ? "" : early.error().message()));
  CHECK(early->certificate.pem.empty());
  CHECK(early->certificate.serial == first.certificate.serial);
  CHECK(early->certificate.not_after_ms == first.certificate.not_after_ms);
  CHECK(s.terminals().certificates("t1")->size() == 1);

  // 397 days of life: due once less than a third (132.3 days) is left.
  const int64_t late = s.now + 300 * kDay;
  auto due = s.enrolment->renew(Site::csr(key, "t1"), s.device, late);
  REQUIRE_MESSAGE(due, (due ? "" : due.error().message()));
  CHECK_FALSE(due->certificate.pem.empty());
  CHECK(due->certificate.serial != first.certificate.serial);
  CHECK(due->certificate.not_after_ms == late + 397 * kDay);
  auto info = pki::read_certificate(due->certificate.pem);
  REQUIRE(info);
  CHECK(info->cn == "t1");
  CHECK(info->key.to_pem() == key.public_pem());
  auto certs = s.terminals().certificates("t1");
  REQUIRE(certs);
  REQUIRE(certs->size() == 2);
  CHECK(certs->at(0).serial == due->certificate.serial);  // newest first
  CHECK(certs->at(0).epoch == 1);
  CHECK_FALSE(certs->at(1).revoked_ms);  // the old one runs out on its own
  auto entries = s.audit_of("t1");
  REQUIRE(entries.size() == 3);
  CHECK(entries[2].action == "renew");
  CHECK(entries[2].actor == "terminal:t1");
  // Renewed just now: the next check gets nothing new.
  auto after = s.enrolment->renew(Site::csr(key, "t1"), s.device, late + kDay);
  REQUIRE(after);
  CHECK(after->certificate.pem.empty());
  CHECK(after->certificate.serial == due->certificate.serial);

  auto other_key = s.enrolment->renew(Site::csr(new_key(), "t1"), s.device, late);
  REQUIRE_FALSE(other_key);
  CHECK(is(other_key.error(), Errc::forbidden));
  auto unknown = s.enrolment->renew(Site::csr(key, "t9"), s.device, late);
  REQUIRE_FALSE(unknown);
  CHECK(is(unknown.error(), Errc::forbidden));
  CHECK(s.terminals().certificates("t1")->size() == 2);

  REQUIRE(s.enrolment->revoke("t1", "lost", s.admin, late + 2 * kDay));
  auto revoked = s.enrolment->renew(Site::csr(key, "t1"), s.device, late + 3 * kDay);
  REQUIRE_FALSE(revoked);
  CHECK(is(revoked.error(), Errc::forbidden));
  CHECK(revoked.error().reason.find("revoked") != std::string::npos);
}

TEST_CASE("revocation: the CRL cuts off the terminal's certificates, the ACL denies it every topic, audited") {
  Site s;
  auto key1 = new_key(), key2 = new_key();
  const Credentials t1 = s.enrol("t1", key1, s.now);
  const Credentials t2 = s.enrol("t2", key2, s.now);

  auto r = s.enrolment->revoke("t1", "stolen", s.admin, s.now + 1000);
  REQUIRE_MESSAGE(r, (r ? "" : r.error().message()));
  CHECK(r->revoked_ms == s.now + 1000);
  CHECK(r->revoke_reason == "stolen");

  const std::string crl = slurp(s.broker("crl.pem"));
  REQUIRE_FALSE(crl.empty());
  auto v1 = pki::verify(t1.certificate.pem, s.ca->certificate(), crl);
  REQUIRE_FALSE(v1);
  CHECK(v1.error().reason.find("revoked") != std::string::npos);
  CHECK(pki::verify(t2.certificate.pem, s.ca->certificate(), crl));
  const std::string acl = slurp(s.broker("acl"));
  CHECK(acl.find("user t1\ntopic deny #\n") != std::string::npos);
  CHECK(acl.find("user t2") == std::string::npos);
  CHECK(slurp(s.broker("ca.pem")) == s.ca->certificate());
  CHECK(fs::exists(s.broker("broker.crt")));
  CHECK(fs::exists(s.broker("mosquitto.conf")));

  auto entries = s.audit_of("t1");
  REQUIRE(entries.size() == 3);
  CHECK(entries[2].action == "revoke");
  CHECK(entries[2].actor == "root");
  CHECK(entries[2].after.find("stolen") != std::string::npos);

  auto twice = s.enrolment->revoke("t1", "again", s.admin, s.now + 2000);
  REQUIRE_FALSE(twice);
  CHECK(is(twice.error(), Errc::conflict));
  CHECK(s.audit_of("t1").size() == 3);

  SUBCASE("a new device under the id: a new epoch, the revocation lifted, the old certificate stays on the CRL") {
    auto key3 = new_key();
    const Credentials t1b = s.enrol("t1", key3, s.now + 3000);
    CHECK(t1b.replaced);
    CHECK(t1b.terminal.epoch == 2);
    CHECK_FALSE(t1b.terminal.revoked_ms);
    auto e = s.audit_of("t1");
    REQUIRE(e.size() == 5);
    CHECK(e[3].action == "enrol_token");
    CHECK(e[4].action == "re-enrol");
    CHECK(e[4].actor == "enrolment token of root");
    // The re-enrolment rewrote the broker's files: t1 is no longer denied, its old certificate
    // is still cut off and the new one is not.
    const std::string crl2 = slurp(s.broker("crl.pem"));
    CHECK_FALSE(pki::verify(t1.certificate.pem, s.ca->certificate(), crl2));
    CHECK(pki::verify(t1b.certificate.pem, s.ca->certificate(), crl2));
    CHECK(slurp(s.broker("acl")).find("user t1\n") == std::string::npos);
  }
  SUBCASE("a re-enrolment of a terminal that was not revoked supersedes its certificate") {
    const Credentials t2b = s.enrol("t2", new_key(), s.now + 3000);
    CHECK(t2b.replaced);
    auto certs = s.terminals().certificates("t2");
    REQUIRE(certs);
    REQUIRE(certs->size() == 2);
    CHECK(certs->at(1).serial == t2.certificate.serial);
    CHECK(certs->at(1).reason == "superseded");
    CHECK_FALSE(pki::verify(t2.certificate.pem, s.ca->certificate(), slurp(s.broker("crl.pem"))));
    CHECK(s.audit_of("t2").back().action == "re-enrol");
  }
}

TEST_CASE("the broker is sent SIGHUP when its ACL or CRL changed, and not when nothing did") {
  Site s;
  const fs::path pid_file = s.dir.path / "broker.pid";
  {
    // First write: every file is new.
    Sleeper broker;
    broker.write_pid(pid_file);
    auto told = s.enrolment->refresh_broker(s.now);
    REQUIRE_MESSAGE(told, (told ? "" : told.error().message()));
    CHECK(*told);
    CHECK(broker.end_with(SIGKILL) == SIGHUP);
  }
  {
    // The same again: nothing changed, nothing sent. SIGHUP (1) would be taken before the
    // SIGTERM (15) sent after it, so the child ending by SIGTERM shows it never got one.
    Sleeper broker;
    broker.write_pid(pid_file);
    auto told = s.enrolment->refresh_broker(s.now);
    REQUIRE(told);
    CHECK_FALSE(*told);
    CHECK(broker.end_with(SIGTERM) == SIGTERM);
  }
  {
    // A first enrolment changes neither (the ACL's patterns cover every terminal).
    Sleeper broker;
    broker.write_pid(pid_file);
    const std::string acl = slurp(s.broker("acl"));
    const Credentials t1 = s.enrol("t1", new_key(), s.now);
    CHECK(slurp(s.broker("acl")) == acl);
    CHECK(broker.end_with(SIGTERM) == SIGTERM);
  }
  {
    // A revocation changes both.
    Sleeper broker;
    broker.write_pid(pid_file);
    REQUIRE(s.enrolment->revoke("t1", "lost", s.admin, s.now));
    CHECK(broker.end_with(SIGKILL) == SIGHUP);
  }
  {
    // No pid file: the files are written, nobody is told, no error.
    fs::remove(pid_file);
    auto key = new_key();
    const Credentials t1b = s.enrol("t1", key, s.now);
    CHECK(t1b.replaced);
    CHECK(slurp(s.broker("acl")).find("user t1\n") == std::string::npos);
  }
}

TEST_CASE("without a broker dir the service writes no broker files") {
  Site s(false);
  auto told = s.enrolment->refresh_broker(s.now);
  REQUIRE(told);
  CHECK_FALSE(*told);
  s.enrol("t1", new_key(), s.now);
  REQUIRE(s.enrolment->revoke("t1", "lost", s.admin, s.now));
  CHECK_FALSE(fs::exists(s.dir.path / "broker"));
}

TEST_CASE("the site CA: created private, opened again as the same CA, refused when readable by others or mismatched") {
  TempDir dir;
  const int64_t now = time::now_utc_ms();
  const fs::path pki_dir = dir.path / "pki";
  auto first = SiteCa::open(pki_dir, "demo", now);
  REQUIRE_MESSAGE(first, (first ? "" : first.error().message()));
  struct stat st {};
  REQUIRE(::stat((pki_dir / "ca.key").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  REQUIRE(::stat(pki_dir.c_str(), &st) == 0);
  CHECK((st.st_mode & 077) == 0);
  auto info = pki::read_certificate((*first)->certificate());
  REQUIRE(info);
  CHECK(info->ca);
  CHECK(info->cn.find("demo") != std::string::npos);
  CHECK(info->not_after_ms > now + 19 * 365 * kDay);

  auto second = SiteCa::open(pki_dir, "demo", now + 1000);
  REQUIRE(second);
  CHECK((*second)->certificate() == (*first)->certificate());
  // What the first issues, the second's certificate verifies.
  auto key = new_key();
  auto issued = (*first)->issue(key.public_key(), "t1", pki::Usage::client, 30, now);
  REQUIRE(issued);
  CHECK(pki::verify(issued->pem, (*second)->certificate()));

  SUBCASE("a key others may read is refused, naming chmod") {
    fs::permissions(pki_dir / "ca.key", fs::perms(0644), fs::perm_options::replace);
    auto r = SiteCa::open(pki_dir, "demo", now);
    REQUIRE_FALSE(r);
    CHECK(r.error().reason.find("chmod 600") != std::string::npos);
    CHECK(r.error().reason.find("ca.key") != std::string::npos);
    CHECK(r.error().reason.find("0644") != std::string::npos);
    fs::permissions(pki_dir / "ca.key", fs::perms(0640), fs::perm_options::replace);
    CHECK_FALSE(SiteCa::open(pki_dir, "demo", now));
    // Nothing was replaced: the key is the same once its mode is right.
    fs::permissions(pki_dir / "ca.key", fs::perms(0600), fs::perm_options::replace);
    auto again = SiteCa::open(pki_dir, "demo", now);
    REQUIRE(again);
    CHECK((*again)->certificate() == (*first)->certificate());
  }
  SUBCASE("a certificate of another key is refused") {
    auto other = SiteCa::open(dir.path / "other", "demo", now);
    REQUIRE(other);
    REQUIRE(files::write_atomic(pki_dir / "ca.crt", (*other)->certificate(), 0644));
    auto r = SiteCa::open(pki_dir, "demo", now);
    REQUIRE_FALSE(r);
    CHECK(r.error().reason.find("does not belong") != std::string::npos);
  }
  SUBCASE("a key without its certificate is refused, not replaced by a new CA") {
    fs::remove(pki_dir / "ca.crt");
    auto r = SiteCa::open(pki_dir, "demo", now);
    REQUIRE_FALSE(r);
    CHECK(r.error().reason.find("ca.crt") != std::string::npos);
    CHECK_FALSE(fs::exists(pki_dir / "ca.crt"));
  }
}

TEST_CASE("the CA's own identities are issued once and again only when due, for other hosts or from another CA") {
  TempDir dir;
  const int64_t now = time::now_utc_ms();
  auto ca = SiteCa::open(dir.path / "pki", "demo", now);
  REQUIRE(ca);
  const fs::path d = dir.path / "ids";
  fs::create_directories(d);
  auto a = (*ca)->ensure_identity(d, "server", "server", pki::Usage::client, now);
  REQUIRE_MESSAGE(a, (a ? "" : a.error().message()));
  CHECK(a->renewed);
  struct stat st {};
  REQUIRE(::stat(a->key.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  const std::string pem = slurp(a->cert);
  CHECK(pki::verify(pem, (*ca)->certificate()));
  CHECK(pki::read_certificate(pem)->cn == "server");

  auto b = (*ca)->ensure_identity(d, "server", "server", pki::Usage::client, now + kDay);
  REQUIRE(b);
  CHECK_FALSE(b->renewed);
  CHECK(slurp(a->cert) == pem);
  auto due = (*ca)->ensure_identity(d, "server", "server", pki::Usage::client, now + 300 * kDay);
  REQUIRE(due);
  CHECK(due->renewed);

  auto br = (*ca)->ensure_identity(d, "broker", "broker", pki::Usage::server, now, {"localhost"});
  REQUIRE(br);
  CHECK(br->renewed);
  CHECK_FALSE((*ca)->ensure_identity(d, "broker", "broker", pki::Usage::server, now, {"localhost"})->renewed);
  CHECK((*ca)->ensure_identity(d, "broker", "broker", pki::Usage::server, now, {"localhost", "10.0.0.1"})->renewed);

  auto other = SiteCa::open(dir.path / "other", "demo", now);
  REQUIRE(other);
  auto moved = (*other)->ensure_identity(d, "server", "server", pki::Usage::client, now);
  REQUIRE(moved);
  CHECK(moved->renewed);
  CHECK(pki::verify(slurp(moved->cert), (*other)->certificate()));
}
