// labgate-ca's handler (server/ca/service.hpp) over a real site CA in a temp dir and a real issue
// log, without sockets: requests carry the client certificate's CN as the TLS listener fills it in.
#include <doctest/doctest.h>

#include <sys/stat.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "labgate/common/files.hpp"
#include "labgate/common/time.hpp"
#include "server/ca/service.hpp"
#include "server/terminals/signer_wire.hpp"
#include "support/temp_dir.hpp"

using namespace lg;
using namespace lg::server;
using namespace lg::server::ca;
namespace wire = lg::server::terminals::wire;
namespace fs = std::filesystem;

namespace {

constexpr int64_t kDay = 86'400'000;

crypto::PrivateKey key() {
  auto k = crypto::PrivateKey::generate();
  REQUIRE(k);
  return std::move(*k);
}

/// A signer: the CA in <tmp>/ca, its log, the service with the default policy.
struct Signer {
  lg::test::TempDir dir{"ca-service"};
  int64_t now = time::now_utc_ms();
  std::unique_ptr<terminals::SiteCa> ca;
  std::unique_ptr<IssueLog> log;
  std::unique_ptr<Service> service;

  explicit Signer(Policy p = {}) {
    auto opened = terminals::SiteCa::open(dir.path() / "ca", "demo", now);
    REQUIRE_MESSAGE(opened, (opened ? "" : opened.error().message()));
    ca = std::move(*opened);
    auto l = IssueLog::open(dir.path() / "ca" / "issued.log");
    REQUIRE_MESSAGE(l, (l ? "" : l.error().message()));
    log = std::move(*l);
    service = std::make_unique<Service>(*ca, "demo", std::move(p), *log, [this] { return now; });
  }
  http::Response call(const std::string& method, const std::string& path, const std::string& body = "",
                      const std::string& peer = "server") {
    http::Request r = http::make_request(method, path, "", body);
    r.peer_cn = peer;
    r.remote = "10.0.0.5";
    return service->handle(r);
  }
  std::vector<nlohmann::json> lines() const {
    std::vector<nlohmann::json> out;
    auto text = files::read_text(dir.path() / "ca" / "issued.log");
    REQUIRE(text);
    std::size_t at = 0;
    for (std::size_t nl; (nl = text->find('\n', at)) != std::string::npos; at = nl + 1)
      out.push_back(nlohmann::json::parse(text->substr(at, nl - at)));
    CHECK(at == text->size());  // whole lines only
    return out;
  }
  static std::string error_of(const http::Response& r) { return nlohmann::json::parse(r.body).at("error"); }
};

std::string issue_body(const crypto::PrivateKey& k, const std::string& cn, pki::Usage usage = pki::Usage::client,
                       int days = 397, std::vector<std::string> hosts = {}) {
  return wire::encode(wire::IssueRequest{k.public_pem(), cn, usage, days, std::move(hosts)});
}

}  // namespace

TEST_CASE("labgate-ca issues a terminal's certificate to the server and logs it before answering") {
  Signer s;
  auto k = key();
  auto r = s.call("POST", "/v1/certificates", issue_body(k, "t-xrd-01"));
  REQUIRE_MESSAGE(r.status == 201, r.body);
  auto issued = wire::decode_issued(r.body);
  REQUIRE_MESSAGE(issued, (issued ? "" : issued.error().message()));
  CHECK(pki::verify(issued->pem, s.ca->certificate()));
  auto info = pki::read_certificate(issued->pem);
  REQUIRE(info);
  CHECK(info->cn == "t-xrd-01");
  CHECK(info->serial == issued->serial);
  CHECK(info->key.to_pem() == k.public_pem());
  CHECK(issued->not_after_ms == s.now + 397 * kDay);  // by the signer's clock
  auto lines = s.lines();
  REQUIRE(lines.size() == 1);
  CHECK(lines[0]["kind"] == "certificate");
  CHECK(lines[0]["serial"] == std::to_string(issued->serial));
  CHECK(lines[0]["cn"] == "t-xrd-01");
  CHECK(lines[0]["usage"] == "client");
  CHECK(lines[0]["requester"] == "server");
  CHECK(lines[0]["address"] == "10.0.0.5");
  CHECK(lines[0]["time"] == time::format_utc(s.now));
  CHECK(lines[0]["key"] == k.public_key().fingerprint());

  SUBCASE("the broker's certificate for the configured hosts") {
    auto b = s.call("POST", "/v1/certificates", issue_body(key(), "broker", pki::Usage::server, 397, {"localhost"}));
    CHECK_MESSAGE(b.status == 201, b.body);
    CHECK(s.lines().size() == 2);
  }
  SUBCASE("GET /v1/ca and /v1/health") {
    auto ca = s.call("GET", "/v1/ca");
    REQUIRE(ca.status == 200);
    auto info2 = wire::decode_ca_info(ca.body);
    REQUIRE(info2);
    CHECK(info2->site == "demo");
    CHECK(info2->certificate == s.ca->certificate());
    CHECK(s.call("GET", "/v1/health").status == 200);
    CHECK(s.lines().size() == 1);  // reading signs nothing
  }
}

TEST_CASE("labgate-ca answers only its clients: a terminal's certificate of the same CA gets 403 and nothing") {
  Signer s;
  for (const std::string peer : {"t-xrd-01", "server.other", ""}) {
    CAPTURE(peer);
    const std::pair<std::string, std::string> routes[] = {
        {"POST", "/v1/certificates"}, {"POST", "/v1/crl"}, {"GET", "/v1/ca"}};
    for (const auto& [method, path] : routes) {
      auto r = s.call(method, path, method == "POST" ? issue_body(key(), "t-xrd-02") : "", peer);
      CHECK(r.status == 403);
      CHECK_FALSE(Signer::error_of(r).empty());
    }
  }
  CHECK(s.lines().empty());
}

TEST_CASE("labgate-ca refuses bad requests with a clear 4xx JSON error and signs nothing") {
  Signer s;
  auto k = key();
  struct Case {
    std::string body;
    int status;
    std::string says;
  };
  const std::vector<Case> cases{
      {"not json", 400, "not JSON"},
      {R"({"cn":"t1"})", 400, "public_key"},
      {issue_body(k, "t1").insert(1, R"("extra":1,)"), 400, "extra: unknown field"},
      {R"({"public_key":"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n","cn":"t1","usage":"client","days":1,"hosts":[]})",
       400, "public_key"},
      {issue_body(k, "t1", pki::Usage::ca), 422, "no CA certificates"},
      {issue_body(k, "server.evil"), 422, "policy.server_identities"},
      {issue_body(k, "t1", pki::Usage::client, 398), 422, "policy.max_days"},
      {issue_body(k, "broker", pki::Usage::server, 30, {"evil.example"}), 422, "policy.tls_hosts"},
      {issue_body(k, "labgate.example", pki::Usage::server, 30, {"localhost"}), 422, "policy.tls_names"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.body);
    auto r = s.call("POST", "/v1/certificates", c.body);
    CHECK(r.status == c.status);
    CHECK(Signer::error_of(r).find(c.says) != std::string::npos);
  }
  auto crl_dup = s.call("POST", "/v1/crl",
                        R"({"revoked":[{"serial":"5","revoked_ms":1,"not_after_ms":)" + std::to_string(s.now + kDay) +
                            R"(},{"serial":"5","revoked_ms":1,"not_after_ms":)" + std::to_string(s.now + kDay) + "}]}");
  CHECK(crl_dup.status == 422);
  CHECK(s.call("POST", "/v1/crl", R"({"revoked":[{"serial":"0","revoked_ms":1,"not_after_ms":2}]})").status == 400);
  CHECK(s.call("GET", "/v1/certificates").status == 405);
  CHECK(s.call("POST", "/v1/ca", "{}").status == 405);
  auto unknown = s.call("GET", "/api/health");
  CHECK(unknown.status == 404);
  CHECK(Signer::error_of(unknown).find("/v1/certificates") != std::string::npos);
  CHECK(s.lines().empty());
}

TEST_CASE("labgate-ca signs the CRL it is asked for (still valid entries only) and logs its serials") {
  Signer s;
  auto k = key();
  auto r = s.call("POST", "/v1/certificates", issue_body(k, "t1"));
  REQUIRE(r.status == 201);
  auto issued = wire::decode_issued(r.body);
  REQUIRE(issued);
  CertRecord revoked, expired;
  revoked.serial = issued->serial;
  revoked.revoked_ms = s.now - 1000;
  revoked.not_after_ms = issued->not_after_ms;
  expired.serial = 77;
  expired.revoked_ms = s.now - 10 * kDay;
  expired.not_after_ms = s.now - kDay;
  auto c = s.call("POST", "/v1/crl", wire::encode_crl_request({revoked, expired}, s.now - 2 * kDay));
  REQUIRE_MESSAGE(c.status == 200, c.body);
  auto crl = wire::decode_signed_crl(c.body);
  REQUIRE(crl);
  CHECK(crl->number == static_cast<uint64_t>(s.now / 1000));
  auto v = pki::verify(issued->pem, s.ca->certificate(), crl->pem);
  REQUIRE_FALSE(v);
  CHECK(v.error().reason.find("revoked") != std::string::npos);
  auto lines = s.lines();
  REQUIRE(lines.size() == 2);
  CHECK(lines[1]["kind"] == "crl");
  CHECK(lines[1]["number"] == std::to_string(crl->number));
  CHECK(lines[1]["serials"] == nlohmann::json::array({std::to_string(issued->serial)}));  // 77 had expired
  CHECK(lines[1]["requester"] == "server");
  // A second CRL within the same second still gets a greater number.
  auto again = s.call("POST", "/v1/crl", wire::encode_crl_request({revoked}, s.now));
  REQUIRE(again.status == 200);
  auto crl2 = wire::decode_signed_crl(again.body);
  REQUIRE(crl2);
  CHECK(crl2->number == crl->number + 1);
  CHECK(s.lines().back()["number"] == std::to_string(crl2->number));
}

TEST_CASE("the issue log is created owner-only, appended to, and refused when others may read it") {
  lg::test::TempDir dir("ca-log");
  const fs::path p = dir.path() / "issued.log";
  {
    auto log = IssueLog::open(p);
    REQUIRE(log);
    REQUIRE((*log)->append("{\"a\":1}"));
    REQUIRE((*log)->append("{\"b\":2}"));
  }
  struct stat st {};
  REQUIRE(::stat(p.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  {
    auto again = IssueLog::open(p);  // reopened: appended after what is there
    REQUIRE(again);
    REQUIRE((*again)->append("{\"c\":3}"));
  }
  CHECK(*files::read_text(p) == "{\"a\":1}\n{\"b\":2}\n{\"c\":3}\n");
  fs::permissions(p, fs::perms::owner_read | fs::perms::owner_write | fs::perms::others_read,
                  fs::perm_options::replace);
  auto open = IssueLog::open(p);
  REQUIRE_FALSE(open);
  CHECK(open.error().reason.find("chmod 600") != std::string::npos);
  CHECK(open.error().reason.find("0604") != std::string::npos);
}
