#include <doctest/doctest.h>

#include "server/config/server_config.hpp"

using namespace lg;
using namespace lg::server;

namespace {
Result<ServerConfig> parse(const std::string& text) {
  auto doc = config::Document::parse(text, "/etc/labgate/server.toml");
  if (!doc) return doc.error();
  return load_config(*doc);
}

const std::string kGood = R"(
[server]
site = "demo"
data_dir = "var/server"
time_zone = "Asia/Shanghai"
currency = "CNY"
log_level = "info"

[http]
listen = "127.0.0.1"
port = 0
admin_token = "change-me"
body_limit = 4096

[mqtt]
uri = "tcp://127.0.0.1:1883"
client_id = "labgate-server-demo"
)";
}  // namespace

TEST_CASE("the documented server config loads") {
  auto c = parse(kGood);
  REQUIRE(c);
  CHECK(c->site == "demo");
  CHECK(c->http_port == 0);
  CHECK(c->body_limit == 4096);
  CHECK(c->admin_token == "change-me");
  CHECK(c->data_dir == std::filesystem::path("/etc/labgate/var/server"));
}

TEST_CASE("unknown keys and bad values are refused naming the key") {
  std::string typo = kGood;
  typo.replace(typo.find("port = 0"), 8, "prot = 0");
  auto c = parse(typo);
  REQUIRE_FALSE(c);
  CHECK(c.error().reason.find("http.prot") != std::string::npos);

  std::string port = kGood;
  port.replace(port.find("port = 0"), 8, "port = 70000");
  c = parse(port);
  REQUIRE_FALSE(c);
  CHECK(c.error().reason.find("http.port") != std::string::npos);

  std::string tz = kGood;
  tz.replace(tz.find("Asia/Shanghai"), 13, "Mars/Olympus");
  c = parse(tz);
  REQUIRE_FALSE(c);
  CHECK(c.error().reason.find("server.time_zone") != std::string::npos);

  std::string token = kGood;
  token.replace(token.find("admin_token = \"change-me\""), 25, "");
  c = parse(token);
  REQUIRE_FALSE(c);
  CHECK(c.error().reason.find("http.admin_token") != std::string::npos);
}
