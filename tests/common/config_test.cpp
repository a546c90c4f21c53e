// Config: typed getters name the offending key and file; unknown keys are refused.
#include <doctest/doctest.h>

#include "labgate/common/config.hpp"

using namespace lg::config;

TEST_CASE("typed values and defaults") {
  auto d = Document::parse("[mqtt]\nuri = \"tcp://h:1\"\nport = 1883\n[x]\nflag = true\n", "/etc/lg/a.toml");
  REQUIRE(d);
  auto mqtt = d->root().section("mqtt");
  REQUIRE(mqtt);
  CHECK(*mqtt->string("uri") == "tcp://h:1");
  CHECK(*mqtt->integer("port", 1, 65535) == 1883);
  CHECK(*mqtt->integer_or("keepalive", 10, 1, 60) == 10);
  CHECK(*d->root().section("x")->boolean("flag"));
  CHECK(mqtt->resolve_path("data").string() == "/etc/lg/data");
}

TEST_CASE("errors name the file and the dotted key") {
  auto d = Document::parse("[mqtt]\nport = \"abc\"\nprot = 1\n[relay]\ntransport = \"udp\"\n", "t.toml");
  REQUIRE(d);
  auto mqtt = *d->root().section("mqtt");
  CHECK(mqtt.integer("port", 1, 65535).error().reason == "t.toml: mqtt.port: must be an integer, got a string");
  CHECK(mqtt.string("uri").error().reason == "t.toml: mqtt.uri: is required");
  CHECK(mqtt.reject_unknown({"uri", "port"}).error().reason ==
        "t.toml: mqtt.prot: unknown key (expected one of: uri, port)");
  auto relay = *d->root().section("relay");
  CHECK(relay.one_of("transport", {"tcp", "rtu"}).error().reason ==
        "t.toml: relay.transport: must be one of \"tcp\", \"rtu\", got \"udp\"");
  auto range = Document::parse("p = 70000\n", "r.toml");
  CHECK(range->root().integer("p", 1, 65535).error().reason == "r.toml: p: must be in 1..65535, got 70000");
}

TEST_CASE("syntax errors give file, line and column") {
  auto d = Document::parse("a = 1\nb = = 2\n", "bad.toml");
  REQUIRE_FALSE(d);
  CHECK(d.error().reason.find("bad.toml:2:") == 0);
  CHECK_FALSE(Document::load_file("/nonexistent/labgate.toml"));
}

TEST_CASE("arrays of tables are indexed in messages") {
  auto d = Document::parse("[[outputs]]\nname = \"a\"\n[[outputs]]\ncoil = 1\n", "b.toml");
  auto outs = d->root().tables("outputs");
  REQUIRE(outs);
  REQUIRE(outs->size() == 2);
  CHECK((*outs)[1].string("name").error().reason == "b.toml: outputs[1].name: is required");
}
