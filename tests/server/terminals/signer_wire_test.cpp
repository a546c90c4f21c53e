// The signer protocol's encoding (server/terminals/signer_wire.hpp): what RemoteSigner sends and
// labgate-ca reads, and back; every refusal names its field.
#include <doctest/doctest.h>

#include <limits>

#include "server/terminals/signer_wire.hpp"

using namespace lg;
using namespace lg::server;
using namespace lg::server::terminals;

namespace {
std::string pem() {
  auto k = crypto::PrivateKey::generate();
  REQUIRE(k);
  return k->public_pem();
}
}  // namespace

TEST_CASE("signer wire: a certificate request and its answer round-trip") {
  const wire::IssueRequest r{pem(), "broker", pki::Usage::server, 200, {"localhost", "10.0.0.1"}};
  auto back = wire::decode_issue_request(wire::encode(r));
  REQUIRE_MESSAGE(back, (back ? "" : back.error().message()));
  CHECK(back->public_key == r.public_key);
  CHECK(back->cn == "broker");
  CHECK(back->usage == pki::Usage::server);
  CHECK(back->days == 200);
  CHECK(back->hosts == r.hosts);

  const Issued c{"-----BEGIN CERTIFICATE-----\n...\n", std::numeric_limits<int64_t>::max(), 1'700'000'000'000,
                 1'800'000'000'000};
  auto issued = wire::decode_issued(wire::encode(c));
  REQUIRE_MESSAGE(issued, (issued ? "" : issued.error().message()));
  CHECK(issued->pem == c.pem);
  CHECK(issued->serial == c.serial);  // 2^63-1 survives (a string on the wire)
  CHECK(issued->not_before_ms == c.not_before_ms);
  CHECK(issued->not_after_ms == c.not_after_ms);
  CHECK(wire::encode(c).find("\"serial\":\"9223372036854775807\"") != std::string::npos);
}

TEST_CASE("signer wire: a bad certificate request is refused naming the field") {
  const std::string key = pem();
  auto error_of = [](const std::string& body) {
    auto r = wire::decode_issue_request(body);
    REQUIRE_FALSE(r);
    return r.error().reason;
  };
  CHECK(error_of("[]").find("object") != std::string::npos);
  CHECK(error_of("{").find("not JSON") == 0);
  CHECK(error_of(R"({"cn":"t1","cn":"t2"})").find("duplicate") != std::string::npos);
  const wire::IssueRequest ok{key, "t1", pki::Usage::client, 30, {}};
  std::string good = wire::encode(ok);
  auto replaced = [&](const std::string& from, const std::string& to) {
    std::string s = good;
    const auto at = s.find(from);
    REQUIRE(at != std::string::npos);
    return s.replace(at, from.size(), to);
  };
  CHECK(error_of(replaced("\"usage\":\"client\"", "\"usage\":\"root\"")).find("usage") == 0);
  CHECK(error_of(replaced("\"days\":30", "\"days\":0")).find("days") == 0);
  CHECK(error_of(replaced("\"days\":30", "\"days\":\"30\"")).find("days") == 0);
  CHECK(error_of(replaced("\"cn\":\"t1\"", "\"cn\":\"\"")).find("cn") == 0);
  CHECK(error_of(replaced("\"cn\":\"t1\"", "\"cn\":\"t\\u0001\"")).find("cn") == 0);
  CHECK(error_of(replaced("\"hosts\":[]", "\"hosts\":[\"a b\"]")).find("hosts") == 0);
  CHECK(error_of(replaced("\"hosts\":[]", "\"hosts\":\"localhost\"")).find("hosts") == 0);
  CHECK(error_of(replaced("\"hosts\":[]", "\"hosts\":[],\"ca\":true")).find("ca: unknown field") == 0);
  CHECK(error_of(replaced(key.substr(30, 20), "AAAA")).find("public_key") == 0);
}

TEST_CASE("signer wire: the CRL request lists revoked certificates still valid, and is read back entry by entry") {
  const int64_t now = 1'800'000'000'000;
  std::vector<CertRecord> certs(4);
  certs[0].serial = 11;  // revoked, valid: listed
  certs[0].revoked_ms = now - 5;
  certs[0].not_after_ms = now + 1000;
  certs[1].serial = 12;  // not revoked: not listed
  certs[1].not_after_ms = now + 1000;
  certs[2].serial = 13;  // revoked but expired: not listed
  certs[2].revoked_ms = now - 5000;
  certs[2].not_after_ms = now;
  certs[3].serial = 9'223'372'036'854'775'807ULL;
  certs[3].revoked_ms = now;
  certs[3].not_after_ms = now + 1;
  auto back = wire::decode_crl_request(wire::encode_crl_request(certs, now));
  REQUIRE_MESSAGE(back, (back ? "" : back.error().message()));
  REQUIRE(back->size() == 2);
  CHECK(back->at(0).serial == 11);
  CHECK(back->at(0).revoked_ms == now - 5);
  CHECK(back->at(0).not_after_ms == now + 1000);
  CHECK(back->at(1).serial == certs[3].serial);
  CHECK(wire::decode_crl_request(R"({"revoked":[]})"));

  auto error_of = [](const std::string& body) {
    auto r = wire::decode_crl_request(body);
    REQUIRE_FALSE(r);
    return r.error().reason;
  };
  CHECK(error_of("{}").find("revoked") == 0);
  CHECK(
      error_of(
          R"({"revoked":[{"serial":"1","revoked_ms":1,"not_after_ms":2},{"serial":1,"revoked_ms":1,"not_after_ms":2}]})")
          .find("revoked[1].serial") == 0);
  CHECK(error_of(R"({"revoked":[{"serial":"9223372036854775808","revoked_ms":1,"not_after_ms":2}]})")
            .find("revoked[0].serial") == 0);
  CHECK(error_of(R"({"revoked":[{"serial":"1","revoked_ms":0,"not_after_ms":2}]})").find("revoked[0].revoked_ms") == 0);
  CHECK(error_of(R"({"revoked":[{"serial":"1","revoked_ms":1}]})").find("revoked[0].not_after_ms") == 0);
  CHECK(error_of(R"({"revoked":[{"serial":"1","revoked_ms":1,"not_after_ms":2,"x":0}]})")
            .find("revoked[0].x: unknown field") == 0);
  CHECK(error_of(R"({"revoked":[],"all":true})").find("all: unknown field") == 0);
}

TEST_CASE("signer wire: the CA, the signed CRL and error answers") {
  auto ca = wire::decode_ca_info(wire::encode(wire::CaInfo{"demo", "PEM"}));
  REQUIRE(ca);
  CHECK(ca->site == "demo");
  CHECK(ca->certificate == "PEM");
  auto crl = wire::decode_signed_crl(wire::encode(wire::SignedCrl{"CRL PEM", 1'800'000'000}));
  REQUIRE(crl);
  CHECK(crl->pem == "CRL PEM");
  CHECK(crl->number == 1'800'000'000);
  CHECK_FALSE(wire::decode_signed_crl(R"({"crl":"x"})"));
  CHECK_FALSE(wire::decode_ca_info(R"({"certificate":"x"})"));
  CHECK(wire::error_reason(wire::error_body("days: 1..397")) == "days: 1..397");
  CHECK(wire::error_reason("<html>bad gateway</html>") == "<html>bad gateway</html>");
}
