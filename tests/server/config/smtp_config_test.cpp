// [smtp] in the server config: off by default, the keys a sender needs when on, and an error
// naming the key for every bad value.
#include <doctest/doctest.h>

#include "server/config/server_config.hpp"

using namespace lg;
using namespace lg::server;

namespace {

const std::string kBase = R"(
[server]
site = "demo"
data_dir = "var/server"

[http]
listen = "127.0.0.1"
port = 0

[mqtt]
uri = "ssl://127.0.0.1:8883"
)";

Result<ServerConfig> parse(const std::string& smtp) {
  auto doc = config::Document::parse(kBase + "\n[smtp]\n" + smtp, "/etc/labgate/server.toml");
  if (!doc) return doc.error();
  return load_config(*doc);
}

/// The error of a config that must be refused.
std::string refused(const std::string& smtp) {
  auto c = parse(smtp);
  REQUIRE_FALSE(c);
  return c.error().message();
}

}  // namespace

TEST_CASE("smtp config: off by default, with the documented defaults") {
  auto doc = config::Document::parse(kBase, "/etc/labgate/server.toml");
  REQUIRE(doc);
  auto c = load_config(*doc);
  REQUIRE(c);
  CHECK_FALSE(c->smtp.enabled);
  CHECK(c->smtp.port == 25);
  CHECK(c->smtp.timeout_s == 30);
  CHECK(c->smtp.batch == 20);
  CHECK(c->smtp.poll_ms == 5000);
  CHECK(c->smtp.max_attempts == 8);
  CHECK(c->smtp.retry_base_s == 60);
  CHECK(c->smtp.retry_max_s == 21600);
  CHECK(c->smtp.from_name == "labgate");
}

TEST_CASE("smtp config: every key read") {
  auto c = parse(R"(enabled = true
host = "mail.lab.example.edu"
port = 587
from = "labgate@lab.example.edu"
from_name = "实验室 labgate"
starttls = true
ca_file = "ca.pem"
username = "labgate"
password = "secret"
timeout_s = 10
batch = 5
poll_ms = 250
max_attempts = 4
retry_base_s = 2
retry_max_s = 30
)");
  REQUIRE(c);
  CHECK(c->smtp.enabled);
  CHECK(c->smtp.host == "mail.lab.example.edu");
  CHECK(c->smtp.port == 587);
  CHECK(c->smtp.from == "labgate@lab.example.edu");
  CHECK(c->smtp.from_name == "实验室 labgate");
  CHECK(c->smtp.starttls);
  CHECK(c->smtp.ca_file == "/etc/labgate/ca.pem");
  CHECK(c->smtp.username == "labgate");
  CHECK(c->smtp.password == "secret");
  CHECK(c->smtp.timeout_s == 10);
  CHECK(c->smtp.batch == 5);
  CHECK(c->smtp.poll_ms == 250);
  CHECK(c->smtp.max_attempts == 4);
  CHECK(c->smtp.retry_base_s == 2);
  CHECK(c->smtp.retry_max_s == 30);
}

TEST_CASE("smtp config: bad values are refused naming the key") {
  CHECK(refused("enabled = true\nfrom = \"a@b.cn\"").find("smtp.host") != std::string::npos);
  CHECK(refused("enabled = true\nhost = \"mail\"").find("smtp.from") != std::string::npos);
  CHECK(refused("host = \"mail\"\nfrom = \"labgate <a@b.cn>\"").find("smtp.from") != std::string::npos);
  CHECK(refused("from = \"nobody\"").find("smtp.from") != std::string::npos);
  CHECK(refused("host = \"mail server\"").find("smtp.host") != std::string::npos);
  CHECK(refused("port = 0").find("smtp.port") != std::string::npos);
  CHECK(refused("port = 70000").find("smtp.port") != std::string::npos);
  CHECK(refused("enabled = \"yes\"").find("smtp.enabled") != std::string::npos);
  CHECK(refused("username = \"u\"").find("smtp.") != std::string::npos);
  CHECK(refused("host = \"mail.example.edu\"\nusername = \"u\"\npassword = \"p\"").find("smtp.username") !=
        std::string::npos);
  CHECK(refused("ca_file = \"ca.pem\"").find("smtp.ca_file") != std::string::npos);
  CHECK(refused("timeout_s = 0").find("smtp.timeout_s") != std::string::npos);
  CHECK(refused("poll_ms = 10").find("smtp.poll_ms") != std::string::npos);
  CHECK(refused("batch = 0").find("smtp.batch") != std::string::npos);
  CHECK(refused("max_attempts = 0").find("smtp.max_attempts") != std::string::npos);
  CHECK(refused("retry_base_s = 60\nretry_max_s = 30").find("smtp.retry_max_s") != std::string::npos);
  CHECK(refused("from_name = \"a\\nb\"").find("smtp.from_name") != std::string::npos);
  CHECK(refused("relay = true").find("relay") != std::string::npos);
  // On loopback a password may go without TLS (a local relay).
  CHECK(parse("host = \"127.0.0.1\"\nusername = \"u\"\npassword = \"p\""));
}
