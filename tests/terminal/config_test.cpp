#include <doctest/doctest.h>

#include <fstream>

#include "support/temp_dir.hpp"
#include "terminal_config.hpp"

using namespace lg::terminal;

namespace {

const char* kSample = R"(
[terminal]
id = "t-xrd-01"
site = "demo"
data_dir = "var/t-xrd-01"
board = "../boards/sim-x86/board.toml"
resource = "inst-xrd"
output = "power"
server_public_key = "var/server/server.pub"
heartbeat_s = 30
resend_s = 5
log_level = "info"

[mqtt]
uri = "tcp://127.0.0.1:1883"
allow_plain = true

[relay]
transport = "tcp"
host = "127.0.0.1"
port = 1502
device = "/dev/ttyUSB0"
baud = 9600
parity = "N"
unit_id = 1
timeout_ms = 500

[meter]
enabled = true
transport = "tcp"
host = "127.0.0.1"
port = 1502
unit_id = 1

[card]
source = "socket"
path = "var/t-xrd-01/card.sock"
device = "/dev/ttyS1"
baud = 9600

[outputs.power]
fail_mode = "open"
)";

std::string replace(std::string s, const std::string& from, const std::string& to) {
  auto p = s.find(from);
  REQUIRE(p != std::string::npos);
  return s.replace(p, from.size(), to);
}

}  // namespace

TEST_CASE("the documented sample config loads") {
  auto c = parse_config(kSample, "/etc/labgate/terminal.toml");
  REQUIRE_MESSAGE(c.has_value(), (c ? "" : c.error().message()));
  CHECK(c->id == "t-xrd-01");
  CHECK(c->site == "demo");
  CHECK(c->data_dir == std::filesystem::path("/etc/labgate/var/t-xrd-01"));
  CHECK(c->relay.port == 1502);
  CHECK(c->relay.timeout_ms == 500);
  CHECK(c->meter_enabled);
  CHECK(c->meter.same_link(c->relay));
  CHECK(c->card.source == CardSourceKind::socket);
  CHECK(c->card.path == std::filesystem::path("/etc/labgate/var/t-xrd-01/card.sock"));
  CHECK(c->mqtt_client_id == "t-xrd-01");
  CHECK(c->auth == lg::proto::Auth::mac);  // the default
  REQUIRE(c->fail_modes.count("power") == 1);
  CHECK(c->fail_modes.at("power") == lg::board::FailMode::open);

  lg::board::Output out;
  out.name = "power";
  out.fail_mode = lg::board::FailMode::closed;
  CHECK(effective_fail_mode(*c, out) == lg::board::FailMode::open);
  out.name = "door";
  CHECK(effective_fail_mode(*c, out) == lg::board::FailMode::closed);
}

TEST_CASE("unknown keys are refused and named") {
  auto c = parse_config(replace(kSample, "port = 1502\ndevice", "prot = 1502\ndevice"), "t.toml");
  REQUIRE_FALSE(c.has_value());
  CHECK(c.error().message().find("relay.prot") != std::string::npos);

  auto o = parse_config(replace(kSample, "fail_mode = \"open\"", "failmode = \"open\""), "t.toml");
  REQUIRE_FALSE(o.has_value());
  CHECK(o.error().message().find("failmode") != std::string::npos);
}

TEST_CASE("bad values name their key") {
  auto c = parse_config(replace(kSample, "fail_mode = \"open\"", "fail_mode = \"ajar\""), "t.toml");
  REQUIRE_FALSE(c.has_value());
  CHECK(c.error().message().find("outputs.power.fail_mode") != std::string::npos);

  auto t = parse_config(replace(kSample, "transport = \"tcp\"\nhost", "transport = \"udp\"\nhost"), "t.toml");
  REQUIRE_FALSE(t.has_value());
  CHECK(t.error().message().find("relay.transport") != std::string::npos);

  auto a = parse_config(replace(kSample, "resend_s = 5\n", "resend_s = 5\nauth = \"none\"\n"), "t.toml");
  REQUIRE_FALSE(a.has_value());
  CHECK(a.error().message().find("terminal.auth") != std::string::npos);
  auto sig = parse_config(replace(kSample, "resend_s = 5\n", "resend_s = 5\nauth = \"signature\"\n"), "t.toml");
  REQUIRE(sig.has_value());
  CHECK(sig->auth == lg::proto::Auth::signature);

  auto m = parse_config(replace(kSample, "[mqtt]\nuri", "[mqtt]\nurl"), "t.toml");
  REQUIRE_FALSE(m.has_value());
  CHECK(m.error().message().find("mqtt.url") != std::string::npos);
}

TEST_CASE("missing required key is named") {
  auto c = parse_config(replace(kSample, "resource = \"inst-xrd\"\n", ""), "t.toml");
  REQUIRE_FALSE(c.has_value());
  CHECK(c.error().message().find("terminal.resource") != std::string::npos);
}

TEST_CASE("the broker is reached over mutual TLS with the enrolled identity, plain TCP only by name") {
  lg::test::TempDir dir("tcfg");
  const std::string data = (dir.path() / "data").string();
  const std::string base = "[terminal]\ndata_dir = \"" + data +
                           "\"\nboard = \"board.toml\"\n[relay]\nhost = \"127.0.0.1\"\nport = 1502\n"
                           "[card]\nsource = \"socket\"\npath = \"card.sock\"\n";
  // Not enrolled: the error says how to enrol.
  auto bare = parse_config(base, dir.path() / "terminal.toml");
  REQUIRE_FALSE(bare);
  CHECK(bare.error().reason.find("terminal.id: missing") != std::string::npos);
  CHECK(bare.error().reason.find("labgate-terminal --config FILE enrol") != std::string::npos);
  // What enrolling needs is there.
  std::ofstream(dir.path() / "terminal.toml") << base;
  auto for_enrol = load_config_for_enrolment(dir.path() / "terminal.toml");
  REQUIRE_MESSAGE(for_enrol, (for_enrol ? "" : for_enrol.error().reason));
  CHECK(for_enrol->data_dir == std::filesystem::path(data));

  std::filesystem::create_directories(data);
  std::ofstream(std::filesystem::path(data) / kEnrolledFile)
      << "[enrolled]\nid = \"t-9\"\nsite = \"demo\"\nresource = \"inst-xrd\"\nepoch = 3\n"
         "broker_uri = \"ssl://mqtt.example:8883\"\nserver_url = \"https://labgate.example\"\n";
  // Enrolled but the certificate is gone: refused, naming the file.
  auto no_cert = parse_config(base, dir.path() / "terminal.toml");
  REQUIRE_FALSE(no_cert);
  CHECK(no_cert.error().reason.find("mqtt.cert_file") != std::string::npos);
  std::ofstream(std::filesystem::path(data) / "terminal.crt") << "x";
  auto c = parse_config(base, dir.path() / "terminal.toml");
  REQUIRE_MESSAGE(c, (c ? "" : c.error().reason));
  CHECK(c->id == "t-9");
  CHECK(c->site == "demo");
  CHECK(c->resource == "inst-xrd");
  CHECK(c->epoch == 3);
  CHECK(c->enrolled);
  CHECK(c->mqtt_uri == "ssl://mqtt.example:8883");
  CHECK(c->server_url == "https://labgate.example");
  CHECK(c->server_public_key == std::filesystem::path(data) / "server.pub");
  CHECK(c->mqtt_ca_file == std::filesystem::path(data) / "ca.crt");
  CHECK(c->mqtt_key_file == std::filesystem::path(data) / "terminal.key");
  // A config that names another id than the enrolment is refused, naming both.
  auto clash = parse_config(replace(base, "[terminal]\n", "[terminal]\nid = \"t-1\"\n"), dir.path() / "terminal.toml");
  REQUIRE_FALSE(clash);
  CHECK(clash.error().reason.find("terminal.id") != std::string::npos);
  CHECK(clash.error().reason.find("t-9") != std::string::npos);
  // Plain TCP only with allow_plain.
  auto plain = parse_config(base + "[mqtt]\nuri = \"tcp://127.0.0.1:1883\"\n", dir.path() / "terminal.toml");
  REQUIRE_FALSE(plain);
  CHECK(plain.error().reason.find("mqtt.allow_plain") != std::string::npos);
  CHECK(parse_config(base + "[mqtt]\nuri = \"tcp://127.0.0.1:1883\"\nallow_plain = true\n", dir.path() / "terminal.toml"));
}
