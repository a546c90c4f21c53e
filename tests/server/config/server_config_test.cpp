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
admin_token = "change-me-0123456789"
body_limit = 4096

[mqtt]
uri = "ssl://127.0.0.1:8883"
client_id = "labgate-server-demo"
)";
/// kGood with `key = <old value>` in [http] replaced by `line`.
std::string with_http(const std::string& key, const std::string& line) {
  std::string text = kGood;
  const auto at = text.find("\n" + key + " = ");
  REQUIRE(at != std::string::npos);
  const auto end = text.find('\n', at + 1);
  text.replace(at + 1, end - at - 1, line);
  return text;
}

/// The error reason of loading text (which must fail).
std::string refusal(const std::string& text) {
  auto c = parse(text);
  REQUIRE_FALSE(c);
  return c.error().reason;
}
}  // namespace

TEST_CASE("the documented server config loads") {
  auto c = parse(kGood);
  REQUIRE(c);
  CHECK(c->site == "demo");
  CHECK(c->http_port == 0);
  CHECK(c->body_limit == 4096);
  CHECK(c->admin_token == "change-me-0123456789");
  CHECK(c->max_connections == 0);
  CHECK(c->idle_timeout_s == 30);
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

  // Without an admin token the bootstrap token is off: people sign in.
  std::string token = kGood;
  token.replace(token.find("admin_token = \"change-me-0123456789\""), 36, "");
  c = parse(token);
  REQUIRE(c);
  CHECK(c->admin_token.empty());
}

TEST_CASE("[auth] is read: sessions, password cost, LDAP and CAS, bad values name the key") {
  auto c = parse(kGood);
  REQUIRE(c);
  CHECK(c->auth.session_hours == 12);
  CHECK(c->auth.ldap_url.empty());
  CHECK(c->auth.cas_url.empty());
  c = parse(kGood + R"toml(
[auth]
session_hours = 8
password_t_cost = 2
default_unit = "guests"
[auth.ldap]
url = "ldap://127.0.0.1:3890"
base_dn = "ou=people,dc=example,dc=edu"
user_filter = "(&(objectClass=person)(uid={user}))"
[auth.cas]
url = "https://cas.example.edu/cas"
services = ["https://labgate.example.edu/login/cas"]
)toml");
  REQUIRE(c);
  CHECK(c->auth.session_hours == 8);
  CHECK(c->auth.password_t_cost == 2);
  CHECK(c->auth.default_unit == "guests");
  CHECK(c->auth.ldap_url == "ldap://127.0.0.1:3890");
  CHECK(c->auth.ldap_user_filter == "(&(objectClass=person)(uid={user}))");
  CHECK(c->auth.cas_services == std::vector<std::string>{"https://labgate.example.edu/login/cas"});
  CHECK(refusal(kGood + "[auth]\nsession_hours = 0\n").find("auth.session_hours") != std::string::npos);
  CHECK(refusal(kGood + "[auth.ldap]\nurl = \"http://x\"\nbase_dn = \"dc=x\"\n").find("auth.ldap.url") != std::string::npos);
  CHECK(refusal(kGood + "[auth.ldap]\nurl = \"ldap://x\"\nbase_dn = \"dc=x\"\nuser_filter = \"(uid=x)\"\n")
            .find("{user}") != std::string::npos);
  CHECK(refusal(kGood + "[auth.cas]\nurl = \"https://cas\"\n").find("auth.cas.services") != std::string::npos);
  CHECK(refusal(kGood + "[auth.cas]\nurl = \"https://cas\"\nservices = [1]\n").find("auth.cas.services") !=
        std::string::npos);
  CHECK(refusal(kGood + "[auth]\nsesion_hours = 3\n").find("sesion_hours") != std::string::npos);
}

TEST_CASE("a weak admin token is refused naming the key and what is needed") {
  auto why = refusal(with_http("admin_token", R"(admin_token = "t")"));
  CHECK(why.find("http.admin_token") != std::string::npos);
  CHECK(why.find("at least 16") != std::string::npos);
  CHECK(why.find("\"t\"") == std::string::npos);  // a secret is not echoed

  why = refusal(with_http("admin_token", R"(admin_token = "change-me")"));
  CHECK(why.find("http.admin_token") != std::string::npos);

  why = refusal(with_http("admin_token", R"(admin_token = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")"));
  CHECK(why.find("http.admin_token") != std::string::npos);
  CHECK(why.find("distinct") != std::string::npos);

  why = refusal(with_http("admin_token", R"(admin_token = "abababababababab123")"));
  CHECK(why.find("distinct") != std::string::npos);  // 5 distinct characters

  why = refusal(with_http("admin_token", R"(admin_token = "correct horse battery staple")"));
  CHECK(why.find("http.admin_token") != std::string::npos);
  CHECK(why.find("spaces") != std::string::npos);

  why = refusal(with_http("admin_token", R"(admin_token = "0123456789abcde\tf")"));
  CHECK(why.find("control") != std::string::npos);

  // The test harness's token and a generated one are fine.
  CHECK(parse(with_http("admin_token", R"(admin_token = "test-admin-token")")));
  CHECK(parse(with_http("admin_token", R"(admin_token = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822c")")));
  CHECK(admin_token_weakness("abcdefabcdefabcd").empty());  // 16 characters, 6 distinct
  CHECK_FALSE(admin_token_weakness("abcdefabcdefabc").empty());
}

TEST_CASE("http.listen must be an IPv4 or IPv6 address") {
  for (const char* bad : {"localhost", "not-an-ip", "127.0.0.1:8080", "256.1.1.1", "", "fe80::1%eth0"}) {
    CAPTURE(bad);
    auto why = refusal(with_http("listen", std::string("listen = \"") + bad + "\""));
    CHECK(why.find("http.listen") != std::string::npos);
  }
  for (const char* good : {"127.0.0.1", "0.0.0.0", "::1", "::", "192.0.2.1"}) {
    CAPTURE(good);
    // allow_plain: a non-loopback address otherwise needs a certificate (the next case)
    auto c = parse(with_http("listen", std::string("listen = \"") + good + "\"\nallow_plain = true"));
    REQUIRE(c);
    CHECK(c->http_listen == good);
  }
}

TEST_CASE("http.max_connections and http.idle_timeout_s are read and bounded") {
  std::string text = with_http("body_limit", "body_limit = 4096\nmax_connections = 200\nidle_timeout_s = 5");
  auto c = parse(text);
  REQUIRE(c);
  CHECK(c->max_connections == 200);
  CHECK(c->idle_timeout_s == 5);

  CHECK(refusal(with_http("body_limit", "body_limit = 4096\nmax_connections = -1")).find("http.max_connections") !=
        std::string::npos);
  CHECK(refusal(with_http("body_limit", "body_limit = 4096\nidle_timeout_s = 0")).find("http.idle_timeout_s") !=
        std::string::npos);
}

TEST_CASE("the broker is reached over mutual TLS unless plain TCP is asked for by name") {
  auto c = parse(kGood);
  REQUIRE(c);
  CHECK_FALSE(c->mqtt_allow_plain);
  CHECK(c->pki_dir == std::filesystem::path("/etc/labgate/var/server/pki"));
  CHECK(c->broker_dir.empty());
  CHECK(c->broker_public_uri == "ssl://127.0.0.1:8883");

  std::string plain = kGood;
  plain.replace(plain.find("ssl://127.0.0.1:8883"), 20, "tcp://127.0.0.1:1883");
  const std::string why = refusal(plain);
  CHECK(why.find("mqtt.uri") != std::string::npos);
  CHECK(why.find("mqtt.allow_plain") != std::string::npos);
  auto dev = parse(plain + "allow_plain = true\n");
  REQUIRE(dev);
  CHECK(dev->mqtt_allow_plain);

  CHECK(refusal(kGood + "cert_file = \"a.crt\"\n").find("mqtt.key_file") != std::string::npos);

  auto managed = parse(kGood + R"(
[pki]
dir = "/srv/labgate/pki"
cert_days = 90

[broker]
dir = "broker"
port = 18883
hosts = ["mqtt.campus.example", "10.0.0.5"]
pid_file = "/run/mosquitto/mosquitto.pid"
public_uri = "ssl://mqtt.campus.example:18883"
)");
  REQUIRE_MESSAGE(managed, (managed ? "" : managed.error().reason));
  CHECK(managed->pki_dir == std::filesystem::path("/srv/labgate/pki"));
  CHECK(managed->pki_cert_days == 90);
  CHECK(managed->broker_dir == std::filesystem::path("/etc/labgate/broker"));
  CHECK(managed->broker_port == 18883);
  CHECK(managed->broker_hosts == std::vector<std::string>{"mqtt.campus.example", "10.0.0.5"});
  CHECK(managed->broker_public_uri == "ssl://mqtt.campus.example:18883");
  CHECK(refusal(kGood + "[broker]\nhosts = [\"bad host\"]\n").find("broker.hosts") != std::string::npos);
  CHECK(refusal(kGood + "[pki]\ncert_days = 1\n").find("pki.cert_days") != std::string::npos);
}

TEST_CASE("plain HTTP serves only a loopback address unless allow_plain - TLS files go together") {
  // No certificate on a campus address: refused, naming the listen key and the way out.
  for (const char* address : {"0.0.0.0", "::", "192.0.2.1", "::ffff:10.1.2.3"}) {
    CAPTURE(address);
    auto why = refusal(with_http("listen", std::string("listen = \"") + address + "\""));
    CHECK(why.find("http.listen") != std::string::npos);
    CHECK(why.find("http.tls_cert") != std::string::npos);
    CHECK(why.find("allow_plain") != std::string::npos);
  }
  for (const char* address : {"127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1"}) {
    CAPTURE(address);
    CHECK(is_loopback_address(address));
    CHECK(parse(with_http("listen", std::string("listen = \"") + address + "\"")));
  }
  auto plain = parse(with_http("listen", "listen = \"0.0.0.0\"\nallow_plain = true"));
  REQUIRE(plain);
  CHECK(plain->http_allow_plain);
  CHECK(plain->tls_cert.empty());

  // With both files, any address; the paths are relative to the config file.
  auto tls = parse(with_http("listen", "listen = \"0.0.0.0\"\ntls_cert = \"tls/cert.pem\"\ntls_key = \"tls/key.pem\""));
  REQUIRE(tls);
  CHECK(tls->tls_cert == std::filesystem::path("/etc/labgate/tls/cert.pem"));
  CHECK(tls->tls_key == std::filesystem::path("/etc/labgate/tls/key.pem"));
  // One without the other: refused naming the missing one.
  auto no_key = refusal(with_http("listen", "listen = \"127.0.0.1\"\ntls_cert = \"c.pem\""));
  CHECK(no_key.rfind("http.tls_key", 0) == 0);
  auto no_cert = refusal(with_http("listen", "listen = \"127.0.0.1\"\ntls_key = \"k.pem\""));
  CHECK(no_cert.rfind("http.tls_cert", 0) == 0);
}

TEST_CASE("the HTTP limits are read, bounded, and default to what docs/INTERFACES.md says") {
  auto d = parse(kGood);
  REQUIRE(d);
  CHECK(d->header_limit == 16384);
  CHECK(d->header_timeout_s == 10);
  CHECK(d->request_timeout_s == 30);
  CHECK(d->max_connections_per_address == 256);
  CHECK(d->rate_per_s == 100);
  CHECK(d->rate_burst == 1000);
  auto c = parse(with_http("body_limit", "body_limit = 4096\nheader_limit = 8192\nheader_timeout_s = 5\n"
                                         "request_timeout_s = 60\nmax_connections_per_address = 0\n"
                                         "rate_per_s = 0.5\nrate_burst = 20"));
  REQUIRE(c);
  CHECK(c->header_limit == 8192);
  CHECK(c->header_timeout_s == 5);
  CHECK(c->request_timeout_s == 60);
  CHECK(c->max_connections_per_address == 0);
  CHECK(c->rate_per_s == 0.5);
  CHECK(c->rate_burst == 20);
  for (auto [line, key] : {std::pair{"header_limit = 100", "http.header_limit"},
                           std::pair{"header_timeout_s = 0", "http.header_timeout_s"},
                           std::pair{"header_timeout_s = 20\nrequest_timeout_s = 10", "http.request_timeout_s"},
                           std::pair{"rate_per_s = -1", "http.rate_per_s"},
                           std::pair{"rate_burst = 0", "http.rate_burst"},
                           std::pair{"max_connections_per_address = -1", "http.max_connections_per_address"}}) {
    CAPTURE(line);
    CHECK(refusal(with_http("body_limit", std::string("body_limit = 4096\n") + line)).find(key) != std::string::npos);
  }
}
