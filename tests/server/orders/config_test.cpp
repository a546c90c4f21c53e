// [orders] in the server config: the attachment limit, its default, its range, unknown keys.
#include <doctest/doctest.h>

#include "server/config/server_config.hpp"

using namespace lg;
using namespace lg::server;

namespace {

Result<ServerConfig> parse(const std::string& extra) {
  const std::string text = R"(
[server]
site = "demo"
data_dir = "var/server"

[http]
listen = "127.0.0.1"

[mqtt]
uri = "ssl://127.0.0.1:8883"
)" + extra;
  auto doc = config::Document::parse(text, "/etc/labgate/server.toml");
  if (!doc) return doc.error();
  return load_config(*doc);
}

}  // namespace

TEST_CASE("orders config: attachment_limit, default 10 MiB, 1..64 MiB, no other keys") {
  auto c = parse("");
  REQUIRE_MESSAGE(c, (c ? "" : c.error().message()));
  CHECK(c->orders_attachment_limit == 10 * 1024 * 1024);
  c = parse("\n[orders]\nattachment_limit = 2048\n");
  REQUIRE(c);
  CHECK(c->orders_attachment_limit == 2048);
  for (const char* bad : {"attachment_limit = 0", "attachment_limit = 67108865", "attachment_limit = \"1M\"",
                          "max_files = 3"}) {
    auto r = parse(std::string("\n[orders]\n") + bad + "\n");
    INFO(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().reason.find("orders.") != std::string::npos);
  }
}
