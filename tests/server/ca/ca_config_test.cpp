// labgate-ca.toml (server/ca/ca_config.hpp): defaults, errors naming the key, and the text
// `labgate-ca init` writes loading back to the same values.
#include <doctest/doctest.h>

#include "server/ca/ca_config.hpp"

using namespace lg;
using namespace lg::server::ca;

namespace {
Result<CaConfig> load(const std::string& text) {
  auto doc = config::Document::parse(text, "/etc/labgate-ca/labgate-ca.toml");
  if (!doc) return doc.error();
  return load_ca_config(*doc);
}
}  // namespace

TEST_CASE("labgate-ca config: defaults and the dir beside the file") {
  auto c = load("[ca]\nsite = \"demo\"\n");
  REQUIRE_MESSAGE(c, (c ? "" : c.error().message()));
  CHECK(c->site == "demo");
  CHECK(c->dir == std::filesystem::path("/etc/labgate-ca/."));
  CHECK(c->port == 8443);
  CHECK(c->listen == "127.0.0.1");
  CHECK(c->policy.clients == std::vector<std::string>{"server"});
  CHECK(c->policy.server_identities == std::vector<std::string>{"server"});
  CHECK(c->policy.tls_names == std::vector<std::string>{"broker"});
  CHECK(c->policy.max_days == 397);
}

TEST_CASE("labgate-ca config: errors name the key") {
  auto error_of = [](const std::string& text) {
    auto c = load(text);
    REQUIRE_FALSE(c);
    return c.error().message();
  };
  CHECK(error_of("[ca]\n").find("ca.site") != std::string::npos);
  CHECK(error_of("[ca]\nsite = \"demo\"\nprot = 1\n").find("ca.prot") != std::string::npos);
  CHECK(error_of("[ca]\nsite = \"demo\"\n[policy]\nclients = [\"t-xrd-01\"]\n").find("policy.clients") !=
        std::string::npos);
  CHECK(error_of("[ca]\nsite = \"demo\"\n[policy]\nclients = []\n").find("policy.clients") != std::string::npos);
  CHECK(
      error_of("[ca]\nsite = \"demo\"\n[policy]\nserver_identities = [\"admin\"]\n").find("policy.server_identities") !=
      std::string::npos);
  CHECK(error_of("[ca]\nsite = \"demo\"\n[policy]\nmax_days = 0\n").find("policy.max_days") != std::string::npos);
  CHECK(error_of("[ca]\nsite = \"demo\"\n[policy]\ntls_hosts = [\"a b\"]\n").find("policy.tls_hosts") !=
        std::string::npos);
  CHECK(error_of("[ca]\nsite = \"demo\"\nport = 70000\n").find("ca.port") != std::string::npos);
}

TEST_CASE("labgate-ca config: what init writes loads back to the same values") {
  CaConfig c;
  c.site = "demo";
  c.dir = "/srv/labgate-ca";
  c.listen = "0.0.0.0";
  c.port = 9443;
  c.hosts = {"ca.lab.example", "10.1.2.3"};
  c.policy.clients = {"server"};
  c.policy.server_identities = {"server", "server.b"};
  c.policy.tls_hosts = {"mqtt.lab.example"};
  c.policy.max_days = 200;
  auto doc = config::Document::parse(ca_config_text(c), "/srv/labgate-ca/labgate-ca.toml");
  REQUIRE_MESSAGE(doc, (doc ? "" : doc.error().message()));
  auto back = load_ca_config(*doc);
  REQUIRE_MESSAGE(back, (back ? "" : back.error().message()));
  CHECK(back->site == c.site);
  CHECK(back->dir == c.dir);
  CHECK(back->listen == c.listen);
  CHECK(back->port == c.port);
  CHECK(back->hosts == c.hosts);
  CHECK(back->policy.clients == c.policy.clients);
  CHECK(back->policy.server_identities == c.policy.server_identities);
  CHECK(back->policy.tls_names == c.policy.tls_names);
  CHECK(back->policy.tls_hosts == c.policy.tls_hosts);
  CHECK(back->policy.max_days == 200);
}
