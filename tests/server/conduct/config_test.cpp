// [conduct] in the server config: the defaults, each key, the checks, unknown keys.
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

TEST_CASE("conduct config: defaults, minutes and days, points, and refusals naming the key") {
  auto c = parse("");
  REQUIRE_MESSAGE(c, (c ? "" : c.error().message()));
  CHECK(c->conduct == conduct::Policy{});
  CHECK(c->conduct.no_show_after_s == 15 * 60);
  c = parse("\n[conduct]\nno_show_after_min = 30\nlate_after_min = 10\novertime_grace_min = 0\nno_show_points = 25\n"
            "recovery_days = 60\nblock_below = 50\nblock_days = 7\nenabled = false\n");
  REQUIRE_MESSAGE(c, (c ? "" : c.error().message()));
  CHECK(c->conduct.no_show_after_s == 1800);
  CHECK(c->conduct.late_after_s == 600);
  CHECK(c->conduct.overtime_grace_s == 0);
  CHECK(c->conduct.no_show_points == 25);
  CHECK(c->conduct.recovery_days == 60);
  CHECK(c->conduct.block_below == 50);
  CHECK(c->conduct.block_days == 7);
  CHECK_FALSE(c->conduct.enabled);
  for (const char* bad : {"late_after_min = 20", "block_below = 101", "no_show_after_min = 0", "recovery_days = 0",
                          "no_show_points = \"lots\"", "fine_fen = 100"}) {
    auto r = parse(std::string("\n[conduct]\n") + bad + "\n");
    INFO(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().message().find("conduct") != std::string::npos);
  }
}
