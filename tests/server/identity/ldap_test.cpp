// LDAP search-then-bind (server/identity/ldap.*) against a real slapd: each case that needs a
// directory starts its own through tools/ldap_dir (a fresh mdb directory on a free port, about
// half a second to start and stop) and stops it at the end.
#include "server/identity/ldap.hpp"

#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "server/core/errors.hpp"
#include "support/temp_dir.hpp"

using namespace lg::server::identity;
using lg::server::Errc;

namespace {

const std::string kPeople = "ou=people,dc=example,dc=edu";

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

/// A private directory (tools/ldap_dir) with three people, stopped when the object dies.
class Directory {
 public:
  Directory() : dir_("ldap") {
    std::ofstream(dir_.file("users.json")) << R"({
      "alice": {"password": "alice-password-1",
                "attributes": {"cn": "Alice Example", "mail": "alice@example.edu", "ou": "Physics",
                               "employeeType": "staff", "telephoneNumber": ["+86 10 1111", "+86 10 2222"]}},
      "wang":  {"password": "王的密码-2024",
                "attributes": {"cn": "王小明", "mail": "wang@example.edu", "ou": "化学系", "employeeType": "student"}},
      "carol": {"password": "carol-password-3", "attributes": {"cn": "Carol"}}
    })";
    const std::string cmd =
        script("start") + " --users '" + dir_.file("users.json") + "' >'" + dir_.file("ldap_dir.out") + "' 2>&1";
    const int rc = std::system(cmd.c_str());
    INFO(read_file(dir_.file("ldap_dir.out")));
    REQUIRE(rc == 0);
    url_ = trimmed(read_file(dir_.file("url")));
    REQUIRE(url_.rfind("ldap://127.0.0.1:", 0) == 0);
  }
  ~Directory() { stop(); }
  Directory(const Directory&) = delete;
  Directory& operator=(const Directory&) = delete;

  void stop() {
    if (stopped_) return;
    stopped_ = true;
    (void)std::system((script("stop") + " >>'" + dir_.file("ldap_dir.out") + "' 2>&1").c_str());
  }

  /// The configuration labgate would use for this directory.
  LdapConfig config() const {
    LdapConfig c;
    c.url = url_;
    c.bind_dn = "cn=labgate,ou=services,dc=example,dc=edu";
    c.bind_password = "labgate-service";
    c.base_dn = kPeople;
    return c;
  }

 private:
  std::string script(const std::string& verb) const {
    return "'" + std::string(LABGATE_SOURCE_DIR) + "/tools/ldap_dir' " + verb + " --dir '" + dir_.path().string() + "'";
  }

  lg::test::TempDir dir_;
  std::string url_;
  bool stopped_ = false;
};

/// A TCP port on 127.0.0.1 that nothing listens on (bound, then released).
int unused_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  socklen_t len = sizeof a;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  ::close(fd);
  return ntohs(a.sin_port);
}

}  // namespace

TEST_CASE("identity.ldap: filter values are escaped per RFC 4515") {
  CHECK(ldap_filter_escape("alice") == "alice");
  CHECK(ldap_filter_escape("*)(uid=*") == "\\2a\\29\\28uid=\\2a");
  CHECK(ldap_filter_escape("a\\b") == "a\\5cb");
  CHECK(ldap_filter_escape(std::string("a\0b", 3)) == "a\\00b");
  CHECK(ldap_filter_escape("王小明") == "王小明");
}

TEST_CASE("identity.ldap: an empty password or user is refused before any bind") {
  // Nothing listens at this URL: the answer comes without connecting (an empty password would
  // make the user's bind an unauthenticated bind, which a server accepts).
  LdapConfig c;
  c.url = "ldap://127.0.0.1:" + std::to_string(unused_port()) + "/";
  c.base_dn = kPeople;
  auto r = ldap_authenticate(c, "alice", "");
  REQUIRE_FALSE(r.has_value());
  CHECK(lg::server::is(r.error(), Errc::unauthorized));
  auto u = ldap_authenticate(c, "", "something");
  REQUIRE_FALSE(u.has_value());
  CHECK(lg::server::is(u.error(), Errc::unauthorized));
}

TEST_CASE("identity.ldap: the right password gives the person with the mapped attributes") {
  Directory d;
  auto a = ldap_authenticate(d.config(), "alice", "alice-password-1");
  REQUIRE_MESSAGE(a.has_value(), a.error().message());
  CHECK(a->login == "alice");
  CHECK(a->name == "Alice Example");
  CHECK(a->mail == "alice@example.edu");
  CHECK(a->unit == "Physics");
  CHECK(a->category == "staff");
  CHECK(a->attributes.at("uid") == "alice");
  CHECK(a->attributes.at("telephoneNumber") == "+86 10 1111; +86 10 2222");
  CHECK(a->attributes.count("userPassword") == 0);

  auto w = ldap_authenticate(d.config(), "wang", "王的密码-2024");
  REQUIRE_MESSAGE(w.has_value(), w.error().message());
  CHECK(w->login == "wang");
  CHECK(w->name == "王小明");
  CHECK(w->unit == "化学系");
  CHECK(w->category == "student");

  // Missing attributes are empty, not an error.
  auto c = ldap_authenticate(d.config(), "carol", "carol-password-3");
  REQUIRE_MESSAGE(c.has_value(), c.error().message());
  CHECK(c->name == "Carol");
  CHECK(c->mail.empty());
  CHECK(c->unit.empty());

  // uid matches case-insensitively; the login is the entry's uid, not what was typed.
  auto upper = ldap_authenticate(d.config(), "ALICE", "alice-password-1");
  REQUIRE_MESSAGE(upper.has_value(), upper.error().message());
  CHECK(upper->login == "alice");
}

TEST_CASE("identity.ldap: a wrong password and an unknown user get the same unauthorized answer") {
  Directory d;
  auto wrong = ldap_authenticate(d.config(), "alice", "not-her-password");
  REQUIRE_FALSE(wrong.has_value());
  CHECK(lg::server::is(wrong.error(), Errc::unauthorized));
  CHECK(lg::server::http_status(wrong.error()) == 401);
  auto unknown = ldap_authenticate(d.config(), "nobody", "alice-password-1");
  REQUIRE_FALSE(unknown.has_value());
  CHECK(lg::server::is(unknown.error(), Errc::unauthorized));
  CHECK(unknown.error().reason == wrong.error().reason);
  // Another person's password does not open this account.
  auto other = ldap_authenticate(d.config(), "alice", "王的密码-2024");
  REQUIRE_FALSE(other.has_value());
  CHECK(lg::server::is(other.error(), Errc::unauthorized));
  // A real user with an empty password: refused (not an anonymous bind that "succeeds").
  auto empty = ldap_authenticate(d.config(), "alice", "");
  REQUIRE_FALSE(empty.has_value());
  CHECK(lg::server::is(empty.error(), Errc::unauthorized));
}

TEST_CASE("identity.ldap: filter injection matches nobody") {
  Directory d;
  for (const std::string user : {"*)(uid=*", "*", "al*", "alice)(|(uid=*", "*)(|(objectClass=*)", "alice\\"}) {
    CAPTURE(user);
    auto r = ldap_authenticate(d.config(), user, "alice-password-1");
    REQUIRE_FALSE(r.has_value());
    CHECK(lg::server::is(r.error(), Errc::unauthorized));
  }
  // An injected filter in the configuration's own syntax is still one person's filter.
  LdapConfig c = d.config();
  c.user_filter = "(&(objectClass=inetOrgPerson)(uid={user}))";
  auto ok = ldap_authenticate(c, "wang", "王的密码-2024");
  REQUIRE_MESSAGE(ok.has_value(), ok.error().message());
  CHECK(ok->login == "wang");
  auto injected = ldap_authenticate(c, "*)(uid=*", "王的密码-2024");
  REQUIRE_FALSE(injected.has_value());
  CHECK(lg::server::is(injected.error(), Errc::unauthorized));
}

TEST_CASE("identity.ldap: configuration mistakes are errors that name the key, not a wrong password") {
  Directory d;
  LdapConfig bad_service = d.config();
  bad_service.bind_password = "wrong-service-password";
  auto s = ldap_authenticate(bad_service, "alice", "alice-password-1");
  REQUIRE_FALSE(s.has_value());
  CHECK_FALSE(lg::server::is(s.error(), Errc::unauthorized));
  CHECK(s.error().reason.find("bind_dn") != std::string::npos);

  LdapConfig anonymous = d.config();  // this directory lets only bound users search
  anonymous.bind_dn.clear();
  anonymous.bind_password.clear();
  auto an = ldap_authenticate(anonymous, "alice", "alice-password-1");
  REQUIRE_FALSE(an.has_value());
  CHECK_FALSE(lg::server::is(an.error(), Errc::unauthorized));

  LdapConfig bad_base = d.config();
  bad_base.base_dn = "ou=nowhere,dc=example,dc=edu";
  auto b = ldap_authenticate(bad_base, "alice", "alice-password-1");
  REQUIRE_FALSE(b.has_value());
  CHECK(b.error().reason.find("base_dn") != std::string::npos);

  LdapConfig wide = d.config();
  wide.user_filter = "(|(uid={user})(objectClass=inetOrgPerson))";
  auto w = ldap_authenticate(wide, "alice", "alice-password-1");
  REQUIRE_FALSE(w.has_value());
  CHECK(w.error().reason.find("more than one") != std::string::npos);

  LdapConfig no_placeholder = d.config();
  no_placeholder.user_filter = "(uid=alice)";
  auto n = ldap_authenticate(no_placeholder, "alice", "alice-password-1");
  REQUIRE_FALSE(n.has_value());
  CHECK(n.error().reason.find("user_filter") != std::string::npos);

  LdapConfig bad_url = d.config();
  bad_url.url = "http://127.0.0.1/";
  auto u = ldap_authenticate(bad_url, "alice", "alice-password-1");
  REQUIRE_FALSE(u.has_value());
  CHECK(u.error().reason.find("url") != std::string::npos);
}

TEST_CASE("identity.ldap: a server that is down is unavailable, with the URL in the reason") {
  Directory d;
  const LdapConfig c = d.config();
  REQUIRE(ldap_authenticate(c, "alice", "alice-password-1").has_value());
  d.stop();
  auto r = ldap_authenticate(c, "alice", "alice-password-1");
  REQUIRE_FALSE(r.has_value());
  CHECK(lg::server::is(r.error(), Errc::unavailable));
  CHECK(lg::server::http_status(r.error()) == 503);
  CHECK(r.error().reason.find(c.url) != std::string::npos);

  LdapConfig nothing = c;  // never was a server there
  nothing.url = "ldap://127.0.0.1:" + std::to_string(unused_port()) + "/";
  auto n = ldap_authenticate(nothing, "alice", "alice-password-1");
  REQUIRE_FALSE(n.has_value());
  CHECK(lg::server::is(n.error(), Errc::unavailable));
}

TEST_CASE("identity.ldap: a server that accepts but never answers is unavailable after timeout_ms") {
  // A listening socket nobody reads: the kernel completes the connection, no LDAP reply ever comes.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(::listen(fd, 4) == 0);
  socklen_t len = sizeof a;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  LdapConfig c;
  c.url = "ldap://127.0.0.1:" + std::to_string(ntohs(a.sin_port)) + "/";
  c.bind_dn = "cn=labgate,ou=services,dc=example,dc=edu";
  c.bind_password = "labgate-service";
  c.base_dn = kPeople;
  c.timeout_ms = 300;
  auto r = ldap_authenticate(c, "alice", "alice-password-1");
  ::close(fd);
  REQUIRE_FALSE(r.has_value());
  CHECK(lg::server::is(r.error(), Errc::unavailable));
}
