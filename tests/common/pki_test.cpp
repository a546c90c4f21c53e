// The site terminal CA's X.509: requests, certificates, revocation lists, checked with Mbed TLS
// and, where the openssl command exists, with OpenSSL too (the library Mosquitto and Paho use).
#include <doctest/doctest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "labgate/common/pki.hpp"
#include "support/temp_dir.hpp"

using namespace lg;

namespace {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}
constexpr int64_t kDay = 86'400'000;

pki::CertSpec spec_of(std::string cn, uint64_t serial, int64_t from, int64_t until, pki::Usage usage) {
  pki::CertSpec s;
  s.cn = std::move(cn);
  s.org = "demo-univ";
  s.serial = serial;
  s.not_before_ms = from;
  s.not_after_ms = until;
  s.usage = usage;
  return s;
}

struct Ca {
  crypto::PrivateKey key = std::move(*crypto::PrivateKey::generate());
  std::string cert;
  Ca() {
    auto c = pki::self_signed(key, spec_of("labgate terminal CA", pki::random_serial(), now_ms() - kDay,
                                           now_ms() + 3650 * kDay, pki::Usage::ca));
    REQUIRE_MESSAGE(c, (c ? "" : c.error().reason));
    cert = *c;
  }
  std::string issue(const crypto::PublicKey& k, const std::string& cn, uint64_t serial, pki::Usage u = pki::Usage::client,
                    int64_t from = now_ms() - 60'000, int64_t until = now_ms() + 365 * kDay) {
    pki::CertSpec spec = spec_of(cn, serial, from, until, u);
    if (u == pki::Usage::server) spec.dns = {"localhost"}, spec.ips = {"127.0.0.1"};
    auto c = pki::issue(key, cert, k, spec);
    REQUIRE_MESSAGE(c, (c ? "" : c.error().reason));
    return *c;
  }
};

void write(const std::filesystem::path& p, const std::string& text) { std::ofstream(p) << text; }

bool have_openssl() { return std::system("openssl version >/dev/null 2>&1") == 0; }

}  // namespace

TEST_CASE("a terminal's request names it and proves it holds its key") {
  auto key = *crypto::PrivateKey::generate();
  auto csr = pki::make_csr(key, "t-xrd-01");
  REQUIRE(csr);
  auto got = pki::read_csr(*csr);
  REQUIRE(got);
  CHECK(got->cn == "t-xrd-01");
  CHECK(got->key.to_pem() == key.public_pem());

  SUBCASE("a request altered in transit is refused") {
    std::string bad = *csr;
    bad[bad.size() / 2] = bad[bad.size() / 2] == 'A' ? 'B' : 'A';
    CHECK_FALSE(pki::read_csr(bad));
  }
  SUBCASE("garbage and oversize requests are refused with a reason") {
    CHECK(pki::read_csr("hello").error().reason.find("not a PEM") != std::string::npos);
    CHECK_FALSE(pki::read_csr(std::string(9000, 'x')));
  }
  SUBCASE("a name that could change the subject's structure is refused") {
    CHECK_FALSE(pki::make_csr(key, "t1,O=evil"));
    CHECK_FALSE(pki::make_csr(key, ""));
  }
}

TEST_CASE("the CA issues a certificate that verifies, says what it was given, and fails under another CA") {
  Ca ca;
  auto term = *crypto::PrivateKey::generate();
  const uint64_t serial = pki::random_serial();
  const std::string cert = ca.issue(term.public_key(), "t-xrd-01", serial);
  CHECK(pki::verify(cert, ca.cert));
  auto info = pki::read_certificate(cert);
  REQUIRE(info);
  CHECK(info->cn == "t-xrd-01");
  CHECK(info->issuer_cn == "labgate terminal CA");
  CHECK(info->serial == serial);
  CHECK_FALSE(info->ca);
  CHECK(info->key.to_pem() == term.public_pem());
  CHECK(info->not_after_ms > now_ms() + 364 * kDay);
  auto ca_info = pki::read_certificate(ca.cert);
  REQUIRE(ca_info);
  CHECK(ca_info->ca);

  Ca other;
  CHECK_FALSE(pki::verify(cert, other.cert));
  // An expired certificate does not verify.
  const std::string old = ca.issue(term.public_key(), "t-old", pki::random_serial(), pki::Usage::client,
                                   now_ms() - 10 * kDay, now_ms() - kDay);
  auto expired = pki::verify(old, ca.cert);
  REQUIRE_FALSE(expired);
  CHECK(expired.error().reason.find("expired") != std::string::npos);
  // The CA refuses to sign with a key that is not its own.
  auto wrong = *crypto::PrivateKey::generate();
  CHECK_FALSE(pki::issue(wrong, ca.cert, term.public_key(), spec_of("t", 5, 0, kDay, pki::Usage::client)));
}

TEST_CASE("a revocation list cuts off exactly the revoked certificates") {
  Ca ca;
  auto k1 = *crypto::PrivateKey::generate();
  auto k2 = *crypto::PrivateKey::generate();
  const uint64_t s1 = pki::random_serial(), s2 = pki::random_serial();
  const std::string c1 = ca.issue(k1.public_key(), "t-1", s1), c2 = ca.issue(k2.public_key(), "t-2", s2);
  auto empty = pki::make_crl(ca.key, ca.cert, {}, 1, now_ms() - 1000, now_ms() + 30 * kDay);
  REQUIRE_MESSAGE(empty, (empty ? "" : empty.error().reason));
  CHECK(pki::verify(c1, ca.cert, *empty));
  auto crl = pki::make_crl(ca.key, ca.cert, {{s1, now_ms() - 500}}, 2, now_ms() - 1000, now_ms() + 30 * kDay);
  REQUIRE(crl);
  auto v1 = pki::verify(c1, ca.cert, *crl);
  REQUIRE_FALSE(v1);
  CHECK(v1.error().reason.find("revoked") != std::string::npos);
  CHECK(pki::verify(c2, ca.cert, *crl));

  if (!have_openssl()) {
    MESSAGE("openssl not installed: the OpenSSL cross-check is skipped");
    return;
  }
  // OpenSSL, which Mosquitto uses for the broker's checks, reads the same files the same way.
  test::TempDir dir("pki");
  const auto p = dir.path();
  write(p / "ca.pem", ca.cert);
  write(p / "c1.pem", c1);
  write(p / "c2.pem", c2);
  write(p / "crl.pem", *crl);
  const std::string base = "openssl verify -purpose sslclient -CAfile " + (p / "ca.pem").string() + " -crl_check -CRLfile " +
                           (p / "crl.pem").string() + " ";
  CHECK(std::system((base + (p / "c2.pem").string() + " >/dev/null 2>&1").c_str()) == 0);
  CHECK(std::system((base + (p / "c1.pem").string() + " >/dev/null 2>&1").c_str()) != 0);
  CHECK(std::system(("openssl crl -noout -in " + (p / "crl.pem").string() + " -CAfile " + (p / "ca.pem").string() +
                     " >/dev/null 2>&1").c_str()) == 0);
  // A server certificate carries its names: OpenSSL checks the host against them.
  auto bk = *crypto::PrivateKey::generate();
  write(p / "broker.pem", ca.issue(bk.public_key(), "broker", pki::random_serial(), pki::Usage::server));
  const std::string sv = "openssl verify -purpose sslserver -CAfile " + (p / "ca.pem").string();
  CHECK(std::system((sv + " -verify_ip 127.0.0.1 " + (p / "broker.pem").string() + " >/dev/null 2>&1").c_str()) == 0);
  CHECK(std::system((sv + " -verify_hostname localhost " + (p / "broker.pem").string() + " >/dev/null 2>&1").c_str()) == 0);
  CHECK(std::system((sv + " -verify_hostname evil.example " + (p / "broker.pem").string() + " >/dev/null 2>&1").c_str()) != 0);
  // A client certificate is not a server certificate.
  CHECK(std::system((sv + " " + (p / "c2.pem").string() + " >/dev/null 2>&1").c_str()) != 0);
}

TEST_CASE("an enrolment token names its terminal and is checked for shape before any lookup") {
  const std::string secret = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcde";  // 43 base64url characters
  REQUIRE(secret.size() == 43);
  const std::string token = pki::make_enrol_token("t-xrd-01", secret);
  CHECK(token == "lge_t-xrd-01." + secret);
  CHECK(pki::enrol_token_terminal(token) == std::optional<std::string>("t-xrd-01"));
  // Ids may hold dots and colons: the secret is the part after the last dot.
  CHECK(pki::enrol_token_terminal(pki::make_enrol_token("door.1:a", secret)) == std::optional<std::string>("door.1:a"));
  CHECK(pki::enrol_token_terminal(pki::make_enrol_token("x", secret)) == std::optional<std::string>("x"));

  SUBCASE("the wrong prefix") {
    CHECK_FALSE(pki::enrol_token_terminal("lgx_t-xrd-01." + secret));
    CHECK_FALSE(pki::enrol_token_terminal("t-xrd-01." + secret));
    CHECK_FALSE(pki::enrol_token_terminal("LGE_t-xrd-01." + secret));
  }
  SUBCASE("a secret too short or too long") {
    CHECK_FALSE(pki::enrol_token_terminal("lge_t-xrd-01." + secret.substr(1)));
    CHECK_FALSE(pki::enrol_token_terminal("lge_t-xrd-01." + secret + "A"));
    CHECK_FALSE(pki::enrol_token_terminal("lge_t-xrd-01."));
    CHECK_FALSE(pki::enrol_token_terminal(""));
  }
  SUBCASE("no id, or one that is not a valid id") {
    CHECK_FALSE(pki::enrol_token_terminal("lge_." + secret));
    CHECK_FALSE(pki::enrol_token_terminal("lge_" + secret));
    CHECK_FALSE(pki::enrol_token_terminal("lge_t 1." + secret));
    CHECK_FALSE(pki::enrol_token_terminal("lge_t/1." + secret));
    CHECK_FALSE(pki::enrol_token_terminal("lge_" + std::string(65, 'a') + "." + secret));
    CHECK(pki::enrol_token_terminal("lge_" + std::string(64, 'a') + "." + secret));
  }
  SUBCASE("a secret outside the base64url alphabet") {
    for (const char bad : {'+', '/', '=', '.', ' ', '\n', '\0', '\xc3'}) {
      std::string s = secret;
      s[20] = bad;
      CAPTURE(static_cast<int>(static_cast<unsigned char>(bad)));
      CHECK_FALSE(pki::enrol_token_terminal("lge_t1." + s));
    }
  }
}
