// The rules of provisioning as plain values: which ids may be enrolled, what a token admits, when
// a certificate is renewed and by whom, and what the broker's ACL and configuration say.
#include <doctest/doctest.h>

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

#include "server/terminals/rules.hpp"

using namespace lg;
using namespace lg::server;
using namespace lg::server::terminals;

namespace {

constexpr int64_t kNow = 1'768'435'200'000;  // 2026-01-15T00:00:00Z
constexpr int64_t kDay = 86'400'000;

EnrolToken token_for(const std::string& id, int64_t expires_ms) {
  EnrolToken t;
  t.hash = std::string(64, 'a');
  t.terminal = id;
  t.resource = "inst-xrd";
  t.created_ms = kNow - 1000;
  t.expires_ms = expires_ms;
  t.created_by = "root";
  return t;
}

Terminal enrolled(const std::string& id, const std::string& key) {
  Terminal t;
  t.id = id;
  t.resource = "inst-xrd";
  t.public_key = key;
  return t;
}

/// The lines of text that are neither empty nor comments.
std::vector<std::string> directives(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!line.empty() && line[0] != '#') out.push_back(line);
  return out;
}

bool has_line(const std::string& text, const std::string& line) {
  const auto d = directives(text);
  return std::find(d.begin(), d.end(), line) != d.end();
}

}  // namespace

TEST_CASE("a terminal id must be valid, and the server's own names are reserved") {
  CHECK(terminal_id_refusal("t-xrd-01").empty());
  CHECK(terminal_id_refusal("door.1:a_b").empty());
  CHECK(terminal_id_refusal("servers").empty());  // only "server" and "server.*" are the server's
  CHECK(terminal_id_refusal("my-server").empty());
  CHECK(terminal_id_refusal("server").find("server") != std::string::npos);
  CHECK_FALSE(terminal_id_refusal("server.2").empty());
  CHECK_FALSE(terminal_id_refusal("server.").empty());
  CHECK_FALSE(terminal_id_refusal("").empty());
  CHECK_FALSE(terminal_id_refusal(std::string(65, 'a')).empty());
  CHECK(terminal_id_refusal(std::string(64, 'a')).empty());
  CHECK_FALSE(terminal_id_refusal("t 1").empty());
  CHECK_FALSE(terminal_id_refusal("t/1").empty());
  CHECK_FALSE(terminal_id_refusal("t+#").empty());  // MQTT wildcards never reach a topic
}

TEST_CASE("a token admits its own id once, before it expires, and refusals of a guess all read alike") {
  const auto good = token_for("t1", kNow + 3600'000);
  CHECK(enrol_refusal(good, "t1", kNow).empty());
  CHECK(enrol_refusal(good, "t1", kNow + 3600'000 - 1).empty());

  auto used = good;
  used.used_ms = kNow - 10;
  const std::string unknown = enrol_refusal(std::nullopt, "t1", kNow);
  CHECK_FALSE(unknown.empty());
  CHECK(enrol_refusal(used, "t1", kNow) == unknown);
  CHECK(enrol_refusal(good, "t1", kNow + 3600'000) == unknown);  // expired at expires_ms exactly
  CHECK(enrol_refusal(good, "t1", kNow + 7 * kDay) == unknown);
  // The vague answer names neither the id nor why.
  CHECK(unknown.find("t1") == std::string::npos);
  // A used or expired token says the same even for another CN: it tells a guesser nothing.
  CHECK(enrol_refusal(used, "t2", kNow) == unknown);

  SUBCASE("a request for another id is refused naming both") {
    const std::string why = enrol_refusal(good, "t2", kNow);
    CHECK(why != unknown);
    CHECK(why.find("'t2'") != std::string::npos);
    CHECK(why.find("'t1'") != std::string::npos);
    // A long CN is cut in the reason.
    const std::string long_why = enrol_refusal(good, std::string(500, 'x'), kNow);
    CHECK(long_why.find(std::string(64, 'x')) != std::string::npos);
    CHECK(long_why.find(std::string(65, 'x')) == std::string::npos);
  }
}

TEST_CASE("a certificate is due for renewal when less than a third of its life is left") {
  const int64_t from = kNow, until = kNow + 300 * kDay;  // a third is 100 days
  CHECK_FALSE(renewal_due(from, until, from));
  CHECK_FALSE(renewal_due(from, until, from + 199 * kDay));
  CHECK_FALSE(renewal_due(from, until, from + 200 * kDay));  // exactly a third left: not yet
  CHECK(renewal_due(from, until, from + 200 * kDay + 1));
  CHECK(renewal_due(from, until, until - 1));
  CHECK(renewal_due(from, until, until));
  CHECK(renewal_due(from, until, until + kDay));  // expired: certainly due
}

TEST_CASE("only the enrolled key of a terminal that is neither revoked nor retired renews") {
  const std::string key = "-----BEGIN PUBLIC KEY-----\nAAA\n-----END PUBLIC KEY-----\n";
  const auto t = enrolled("t1", key);
  CHECK(renewal_refusal(t, "t1", key).empty());

  const std::string none = renewal_refusal(std::nullopt, "t9", key);
  CHECK(none.find("'t9'") != std::string::npos);
  CHECK(none.find("enrolled") != std::string::npos);

  auto revoked = t;
  revoked.revoked_ms = kNow;
  CHECK(renewal_refusal(revoked, "t1", key).find("revoked") != std::string::npos);

  auto retired = t;
  retired.retired_ms = kNow;
  CHECK(renewal_refusal(retired, "t1", key).find("retired") != std::string::npos);

  const std::string other = renewal_refusal(t, "t1", "-----BEGIN PUBLIC KEY-----\nBBB\n-----END PUBLIC KEY-----\n");
  CHECK(other.find("key") != std::string::npos);
  CHECK(other.find("'t1'") != std::string::npos);
}

TEST_CASE("the broker ACL: the server's identities everywhere, a terminal only its own topics, revoked ones nothing") {
  BrokerSettings s;
  s.site = "demo";
  s.server_identities = {"server", "server.2"};
  s.revoked = {"t-lost"};
  const std::string acl = broker_acl(s);
  const auto lines = directives(acl);
  const std::vector<std::string> expected{
      "user server",
      "topic readwrite lg/v1/demo/#",
      "user server.2",
      "topic readwrite lg/v1/demo/#",
      "user t-lost",
      "topic deny #",
      "pattern write lg/v1/demo/%u/state",
      "pattern write lg/v1/demo/%u/evt",
      "pattern write lg/v1/demo/%u/cmdres",
      "pattern read lg/v1/demo/%u/ack",
      "pattern read lg/v1/demo/%u/sync",
      "pattern read lg/v1/demo/%u/cmd",
  };
  // Exactly these rules, in this order: the patterns come after every user block (Mosquitto
  // applies pattern lines to all users, and a line after "user x" belongs to x).
  CHECK(lines == expected);
  // Nothing gives a terminal a wildcard or another terminal's topics.
  for (const auto& l : lines)
    if (l.rfind("pattern", 0) == 0) {
      CHECK(l.find('#') == std::string::npos);
      CHECK(l.find('+') == std::string::npos);
      CHECK(l.find("readwrite") == std::string::npos);
    }

  SUBCASE("no revoked terminal: no deny block") {
    s.revoked.clear();
    const std::string plain = broker_acl(s);
    CHECK(plain.find("deny") == std::string::npos);
    CHECK(directives(plain).size() == expected.size() - 2);
  }
  SUBCASE("the topics are the site's") {
    s.site = "other-site";
    CHECK(has_line(broker_acl(s), "pattern read lg/v1/other-site/%u/sync"));
    CHECK(broker_acl(s).find("lg/v1/demo/") == std::string::npos);
  }
}

TEST_CASE("mosquitto.conf: one TLS listener, a certificate required, its CN the user and the client id") {
  BrokerSettings s;
  s.site = "demo";
  s.listen = "0.0.0.0";
  s.port = 18883;
  s.dir = "/var/lib/labgate/broker";
  const std::string conf = broker_conf(s);
  CHECK(has_line(conf, "listener 18883 0.0.0.0"));
  CHECK(has_line(conf, "require_certificate true"));
  CHECK(has_line(conf, "use_identity_as_username true"));
  CHECK(has_line(conf, "use_username_as_clientid true"));
  CHECK(has_line(conf, "allow_anonymous false"));
  CHECK(has_line(conf, "crlfile /var/lib/labgate/broker/crl.pem"));
  CHECK(has_line(conf, "cafile /var/lib/labgate/broker/ca.pem"));
  CHECK(has_line(conf, "certfile /var/lib/labgate/broker/broker.crt"));
  CHECK(has_line(conf, "keyfile /var/lib/labgate/broker/broker.key"));
  CHECK(has_line(conf, "acl_file /var/lib/labgate/broker/acl"));
  CHECK(has_line(conf, "pid_file /var/lib/labgate/broker/mosquitto.pid"));
  // One listener only, and no plain port: Mosquitto's default listener is not configured.
  int listeners = 0;
  for (const auto& l : directives(conf)) {
    if (l.rfind("listener", 0) == 0) ++listeners;
    CHECK(l.rfind("port ", 0) != 0);
    CHECK(l != "allow_anonymous true");
  }
  CHECK(listeners == 1);
  for (const auto& l : directives(conf)) CHECK(l.rfind("user ", 0) != 0);  // no user unless one is named
  // Commented for the people who run it.
  CHECK(conf.find("# ") != std::string::npos);

  s.user = "labgate";
  CHECK(has_line(broker_conf(s), "user labgate"));
}
