// CAS service-ticket validation (server/identity/cas.*, http_fetch.*): the URL, the service
// response reader on real CAS 2.0/3.0 answers, and the whole exchange against tools/cas_server
// (a real CAS endpoint in Python, started by the cases that need it, well under a second).
#include "server/identity/cas.hpp"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "server/core/errors.hpp"
#include "server/identity/http_fetch.hpp"
#include "support/temp_dir.hpp"

using namespace lg::server::identity;
using lg::server::Errc;
using lg::server::is;

namespace {

// The samples of the CAS protocol specification (Apereo CAS 3.0 spec, sections 2.5.2 and 2.6.2),
// with a Chinese display name added.
const std::string kSuccessV2 = R"(<cas:serviceResponse xmlns:cas="http://www.yale.edu/tp/cas">
 <cas:authenticationSuccess>
  <cas:user>username</cas:user>
  <cas:proxyGrantingTicket>PGTIOU-84678-8a9d...</cas:proxyGrantingTicket>
 </cas:authenticationSuccess>
</cas:serviceResponse>
)";

const std::string kSuccessV3 = R"(<?xml version="1.0" encoding="UTF-8"?>
<cas:serviceResponse xmlns:cas="http://www.yale.edu/tp/cas">
 <cas:authenticationSuccess>
  <cas:user>2021010203</cas:user>
  <cas:attributes>
   <cas:firstname>John</cas:firstname>
   <cas:lastname>Doe</cas:lastname>
   <cas:title>Mr.</cas:title>
   <cas:email>jdoe@example.org</cas:email>
   <cas:affiliation>staff</cas:affiliation>
   <cas:affiliation>faculty</cas:affiliation>
   <cas:cn>张三</cas:cn>
   <cas:department>物理学院</cas:department>
   <cas:employeeType>postdoc</cas:employeeType>
   <cas:isFromNewLogin>true</cas:isFromNewLogin>
   <cas:authenticationDate>2024-03-01T08:00:00.000+08:00</cas:authenticationDate>
   <cas:longTermAuthenticationRequestTokenUsed>false</cas:longTermAuthenticationRequestTokenUsed>
  </cas:attributes>
  <cas:proxyGrantingTicket>PGTIOU-84678-8a9d...</cas:proxyGrantingTicket>
 </cas:authenticationSuccess>
</cas:serviceResponse>
)";

std::string failure_xml(const std::string& code, const std::string& text) {
  return "<cas:serviceResponse xmlns:cas='http://www.yale.edu/tp/cas'>\n  <cas:authenticationFailure code=\"" + code +
         "\">\n    " + text + "\n  </cas:authenticationFailure>\n</cas:serviceResponse>\n";
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// A TCP port on 127.0.0.1 that nothing listens on (bound, then released).
int unused_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  socklen_t len = sizeof a;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  ::close(fd);
  return ntohs(a.sin_port);
}

/// tools/cas_server on a free port with three users; SIGTERM and reaped when the object dies.
class CasServer {
 public:
  CasServer() : dir_("cas") {
    std::ofstream(dir_.file("users.json")) << R"({
      "alice": {"password": "alice-password-1",
                "attributes": {"cn": "Alice Example", "mail": "alice@example.edu", "ou": "Physics",
                               "employeeType": "staff"}},
      "wang":  {"password": "王的密码-2024",
                "attributes": {"cn": "王小明 & <同学>", "mail": ["wang@example.edu", "xm.wang@example.edu"],
                               "ou": "化学系", "employeeType": "student"}}
    })";
    const std::string script = std::string(LABGATE_SOURCE_DIR) + "/tools/cas_server";
    const std::string port_file = dir_.file("port");
    const std::string log = dir_.file("cas_server.log");
    std::vector<std::string> args = {script,        "--users", dir_.file("users.json"), "--port", "0",
                                     "--port-file", port_file};
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd >= 0) {
        ::dup2(fd, STDOUT_FILENO);
        ::dup2(fd, STDERR_FILENO);
      }
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    // Wait for the port file (the server writes it once it listens); the deadline only bounds a hang.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (true) {
      const std::string p = read_file(port_file);
      if (!p.empty() && p.back() == '\n') {
        port_ = std::stoi(p);
        break;
      }
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        FAIL("tools/cas_server exited while starting: " << read_file(log));
      }
      if (std::chrono::steady_clock::now() > deadline) FAIL("tools/cas_server did not start: " << read_file(log));
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  ~CasServer() { stop(); }
  CasServer(const CasServer&) = delete;
  CasServer& operator=(const CasServer&) = delete;

  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  std::string base() const { return "http://127.0.0.1:" + std::to_string(port_); }

  /// Signs in at /login for service (the scripted form) and returns the ticket from the redirect.
  std::string ticket(const std::string& service, const std::string& user, const std::string& password) const {
    const std::string url =
        base() + "/login?service=" + pct(service) + "&user=" + pct(user) + "&password=" + pct(password);
    auto r = http_get(url, 5000);
    REQUIRE_MESSAGE(r.has_value(), r.error().message());
    REQUIRE(r->first == 302);
    const auto at = r->second.find("ticket=");
    REQUIRE(at != std::string::npos);
    std::string t = r->second.substr(at + 7);
    while (!t.empty() && (t.back() == '\n' || t.back() == '\r')) t.pop_back();
    REQUIRE(t.rfind("ST-", 0) == 0);
    return t;
  }

  /// Percent-encodes a query value (everything but unreserved characters).
  static std::string pct(const std::string& s) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    for (char ch : s) {
      const auto c = static_cast<unsigned char>(ch);
      if (std::isalnum(c) != 0 || c == '-' || c == '.' || c == '_' || c == '~') {
        out += ch;
      } else {
        out += '%';
        out += kHex[c >> 4];
        out += kHex[c & 0xF];
      }
    }
    return out;
  }

 private:
  lg::test::TempDir dir_;
  pid_t pid_ = -1;
  int port_ = 0;
};

}  // namespace

TEST_CASE("identity.cas: the validation URL percent-encodes service and ticket") {
  CHECK(cas_validate_url("https://cas.example.edu/cas", "https://lab.example.edu/api/cas?next=/a b&x=1", "ST-1-abc",
                         true) ==
        "https://cas.example.edu/cas/p3/serviceValidate?service=https%3A%2F%2Flab.example.edu%2Fapi%2Fcas%3Fnext%3D%2Fa"
        "%20b%26x%3D1&ticket=ST-1-abc");
  CHECK(cas_validate_url("http://cas/cas/", "s", "ST-1", false) ==
        "http://cas/cas/serviceValidate?service=s&ticket=ST-1");
  CHECK(cas_validate_url("http://cas", "服务", "T&x=y", false) ==
        "http://cas/serviceValidate?service=%E6%9C%8D%E5%8A%A1&ticket=T%26x%3Dy");
  CHECK(cas_validate_url("http://cas", "a-b.c_d~e", "", true) ==
        "http://cas/p3/serviceValidate?service=a-b.c_d~e&ticket=");
}

TEST_CASE("identity.cas: a CAS 2.0 success gives the user") {
  auto r = parse_service_response(kSuccessV2);
  REQUIRE_MESSAGE(r.has_value(), r.error().message());
  CHECK(r->login == "username");
  CHECK(r->name.empty());
  CHECK(r->attributes.empty());
}

TEST_CASE("identity.cas: a CAS 3.0 success gives the user and the attributes, UTF-8 included") {
  auto r = parse_service_response(kSuccessV3);
  REQUIRE_MESSAGE(r.has_value(), r.error().message());
  CHECK(r->login == "2021010203");
  CHECK(r->name == "张三");
  CHECK(r->mail == "jdoe@example.org");
  CHECK(r->unit == "物理学院");
  CHECK(r->category == "postdoc");
  CHECK(r->attributes.at("affiliation") == "staff; faculty");
  CHECK(r->attributes.at("firstname") == "John");
  CHECK(r->attributes.at("isFromNewLogin") == "true");
  CHECK(r->attributes.count("proxyGrantingTicket") == 0);
  CHECK(r->attributes.count("user") == 0);
}

TEST_CASE("identity.cas: entities, character references, CDATA, comments, any prefix") {
  const std::string xml =
      "\xEF\xBB\xBF<?xml version='1.0'?>\n<!-- a comment -->\n"
      "<c:serviceResponse xmlns:c=\"http://www.yale.edu/tp/cas\" xmlns:o='urn:other'>"
      "<c:authenticationSuccess><c:user> u&amp;1 </c:user>"
      "<c:attributes><c:cn>&#20013;&#x6587; &lt;&gt;&quot;&apos;</c:cn>"
      "<c:ou><![CDATA[R&D <lab>]]></c:ou><!-- skip --><?pi here?>"
      "<o:mail>not-cas@example.org</o:mail>"
      "<c:attribute name=\"employeeType\" value=\"staff\"/></c:attributes>"
      "</c:authenticationSuccess></c:serviceResponse>\n";
  auto r = parse_service_response(xml);
  REQUIRE_MESSAGE(r.has_value(), r.error().message());
  CHECK(r->login == "u&1");
  CHECK(r->name == "中文 <>\"'");
  CHECK(r->unit == "R&D <lab>");
  CHECK(r->category == "staff");
  CHECK(r->mail == "not-cas@example.org");  // attributes are taken by local name

  // The default namespace works too.
  auto d = parse_service_response(
      "<serviceResponse xmlns='http://www.yale.edu/tp/cas'><authenticationSuccess><user>dflt</user>"
      "</authenticationSuccess></serviceResponse>");
  REQUIRE_MESSAGE(d.has_value(), d.error().message());
  CHECK(d->login == "dflt");

  // Attributes beside <cas:user> (some CAS 2.0 servers put them there).
  auto two = parse_service_response(
      "<cas:serviceResponse xmlns:cas='http://www.yale.edu/tp/cas'><cas:authenticationSuccess><cas:user>x</cas:user>"
      "<cas:mail>x@example.edu</cas:mail></cas:authenticationSuccess></cas:serviceResponse>");
  REQUIRE_MESSAGE(two.has_value(), two.error().message());
  CHECK(two->mail == "x@example.edu");
}

TEST_CASE("identity.cas: failures are unauthorized with the code and the text") {
  auto t =
      parse_service_response(failure_xml("INVALID_TICKET", "Ticket ST-1856339-aA5Yuvrxzpv8Tau1cYQ7 not recognized"));
  REQUIRE_FALSE(t.has_value());
  CHECK(is(t.error(), Errc::unauthorized));
  CHECK(lg::server::http_status(t.error()) == 401);
  CHECK(t.error().reason == "INVALID_TICKET: Ticket ST-1856339-aA5Yuvrxzpv8Tau1cYQ7 not recognized");

  for (const std::string code :
       {"INVALID_SERVICE", "INVALID_REQUEST", "INVALID_TICKET_SPEC", "UNAUTHORIZED_SERVICE_PROXY"}) {
    CAPTURE(code);
    auto r = parse_service_response(failure_xml(code, "text &amp; more"));
    REQUIRE_FALSE(r.has_value());
    CHECK(is(r.error(), Errc::unauthorized));
    CHECK(r.error().reason == code + ": text & more");
  }
  auto internal = parse_service_response(failure_xml("INTERNAL_ERROR", "database down"));
  REQUIRE_FALSE(internal.has_value());
  CHECK(is(internal.error(), Errc::unavailable));
}

TEST_CASE("identity.cas: what is not a service response is refused with a reason") {
  const std::vector<std::string> bad = {
      "",
      "not xml at all",
      "<html><body>CAS is down for maintenance</body></html>",
      "<cas:serviceResponse xmlns:cas='http://www.yale.edu/tp/cas'><cas:authenticationSuccess><cas:user>u</cas:user>",
      "<cas:serviceResponse xmlns:cas='http://www.yale.edu/tp/cas'></cas:serviceRespons>",
      "<cas:serviceResponse xmlns:cas='urn:not-cas'><cas:authenticationSuccess><cas:user>u</cas:user>"
      "</cas:authenticationSuccess></cas:serviceResponse>",
      "<cas:serviceResponse><cas:authenticationSuccess><cas:user>u</cas:user></cas:authenticationSuccess>"
      "</cas:serviceResponse>",  // undeclared prefix
      "<cas:serviceResponse xmlns:cas='http://www.yale.edu/tp/cas'><cas:authenticationSuccess><cas:user>u&nbsp;"
      "</cas:user></cas:authenticationSuccess></cas:serviceResponse>",  // unknown entity
      "<cas:serviceResponse xmlns:cas='http://www.yale.edu/tp/cas'><cas:authenticationSuccess><cas:user>u & v"
      "</cas:user></cas:authenticationSuccess></cas:serviceResponse>",  // bare &
      "<cas:serviceResponse xmlns:cas='http://www.yale.edu/tp/cas'><cas:authenticationSuccess><cas:user>&#0;"
      "</cas:user></cas:authenticationSuccess></cas:serviceResponse>",  // NUL reference
      "<!DOCTYPE lolz [<!ENTITY lol \"lol\">]><cas:serviceResponse xmlns:cas='http://www.yale.edu/tp/cas'>"
      "<cas:authenticationSuccess><cas:user>&lol;</cas:user></cas:authenticationSuccess></cas:serviceResponse>",
      "<cas:serviceResponse xmlns:cas='http://www.yale.edu/tp/cas'><cas:authenticationSuccess><cas:user>  </cas:user>"
      "</cas:authenticationSuccess></cas:serviceResponse>",  // empty user
      "<cas:serviceResponse xmlns:cas='http://www.yale.edu/tp/cas'><cas:authenticationSuccess>"
      "</cas:authenticationSuccess></cas:serviceResponse>",             // no user
      "<cas:serviceResponse xmlns:cas='http://www.yale.edu/tp/cas'/>",  // neither success nor failure
      "<cas:serviceResponse xmlns:cas='http://www.yale.edu/tp/cas' a='1' a='2'/>",
      "<cas:serviceResponse xmlns:cas='http://www.yale.edu/tp/cas'><cas:authenticationSuccess><cas:user>u</cas:user>"
      "</cas:authenticationSuccess></cas:serviceResponse><second/>",
      "<cas:serviceResponse xmlns:cas='http://www.yale.edu/tp/cas'><![CDATA[ unterminated",
  };
  for (const auto& xml : bad) {
    CAPTURE(xml);
    auto r = parse_service_response(xml);
    REQUIRE_FALSE(r.has_value());
    CHECK(is(r.error(), Errc::unavailable));
    CHECK(r.error().reason.find("not a service response") != std::string::npos);
  }
  // Nesting beyond what a CAS answer needs is refused, not recursed into without bound.
  std::string deep = "<cas:serviceResponse xmlns:cas='http://www.yale.edu/tp/cas'>";
  for (int i = 0; i < 10000; ++i) deep += "<a>";
  auto d = parse_service_response(deep);
  REQUIRE_FALSE(d.has_value());
  CHECK(d.error().reason.find("deeper") != std::string::npos);
}

TEST_CASE("identity.cas: https and unreachable servers") {
  // An https server whose certificate does not verify is unavailable, not trusted: tools/cas_server
  // speaks plain HTTP, so a TLS handshake with it fails.
  CasServer plain;
  std::string as_tls = plain.base();
  as_tls.replace(0, 4, "https");
  CasConfig tls{as_tls, true, 3000};
  auto t = cas_validate(tls, "http://lab/api", "ST-1");
  REQUIRE_FALSE(t.has_value());
  CHECK(is(t.error(), Errc::unavailable));
  CHECK(t.error().reason.find("TLS handshake") != std::string::npos);
  CasConfig ftp{"ftp://cas.example.edu/cas", true, 1000};
  CHECK_FALSE(cas_validate(ftp, "http://lab/api", "ST-1").has_value());

  CasConfig down{"http://127.0.0.1:" + std::to_string(unused_port()) + "/cas", true, 2000};
  auto d = cas_validate(down, "http://lab/api", "ST-1");
  REQUIRE_FALSE(d.has_value());
  CHECK(is(d.error(), Errc::unavailable));

  auto empty = cas_validate(down, "http://lab/api", "");
  REQUIRE_FALSE(empty.has_value());
  CHECK(is(empty.error(), Errc::unauthorized));
}

TEST_CASE("identity.cas: a ticket from tools/cas_server validates once, for its own service only") {
  CasServer cas;
  const std::string service = "http://lab.example.edu/api/cas?next=/bookings";
  const CasConfig v3{cas.base(), true, 5000};

  const std::string t1 = cas.ticket(service, "wang", "王的密码-2024");
  auto who = cas_validate(v3, service, t1);
  REQUIRE_MESSAGE(who.has_value(), who.error().message());
  CHECK(who->login == "wang");
  CHECK(who->name == "王小明 & <同学>");
  CHECK(who->mail == "wang@example.edu");
  CHECK(who->attributes.at("mail") == "wang@example.edu; xm.wang@example.edu");
  CHECK(who->unit == "化学系");
  CHECK(who->category == "student");

  auto again = cas_validate(v3, service, t1);
  REQUIRE_FALSE(again.has_value());
  CHECK(is(again.error(), Errc::unauthorized));
  CHECK(again.error().reason.rfind("INVALID_TICKET:", 0) == 0);

  const std::string t2 = cas.ticket(service, "alice", "alice-password-1");
  auto elsewhere = cas_validate(v3, "http://evil.example.org/", t2);
  REQUIRE_FALSE(elsewhere.has_value());
  CHECK(is(elsewhere.error(), Errc::unauthorized));
  CHECK(elsewhere.error().reason.rfind("INVALID_SERVICE:", 0) == 0);

  // CAS 2.0 validation: the user, no attributes.
  const std::string t3 = cas.ticket(service, "alice", "alice-password-1");
  auto v2 = cas_validate(CasConfig{cas.base(), false, 5000}, service, t3);
  REQUIRE_MESSAGE(v2.has_value(), v2.error().message());
  CHECK(v2->login == "alice");
  CHECK(v2->attributes.empty());

  auto made_up = cas_validate(v3, service, "ST-made-up");
  REQUIRE_FALSE(made_up.has_value());
  CHECK(is(made_up.error(), Errc::unauthorized));

  // A wrong password gets no ticket.
  auto refused = http_get(cas.base() + "/login?service=x&user=alice&password=wrong", 5000);
  REQUIRE(refused.has_value());
  CHECK(refused->first == 401);

  // Not a CAS endpoint: HTTP 404 is unavailable.
  auto nowhere = cas_validate(CasConfig{cas.base() + "/no-cas-here", true, 5000}, service, "ST-1");
  REQUIRE_FALSE(nowhere.has_value());
  CHECK(is(nowhere.error(), Errc::unavailable));
  CHECK(nowhere.error().reason.find("404") != std::string::npos);

  cas.stop();
  auto gone = cas_validate(v3, service, "ST-1");
  REQUIRE_FALSE(gone.has_value());
  CHECK(is(gone.error(), Errc::unavailable));
}

TEST_CASE("identity.cas: a server that accepts but never answers is unavailable after timeout_ms") {
  // A listening socket nobody reads: the connection completes, no HTTP answer ever comes.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(::listen(fd, 4) == 0);
  socklen_t len = sizeof a;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  const CasConfig silent{"http://127.0.0.1:" + std::to_string(ntohs(a.sin_port)) + "/cas", true, 300};
  auto r = cas_validate(silent, "http://lab/api", "ST-1");
  ::close(fd);
  REQUIRE_FALSE(r.has_value());
  CHECK(is(r.error(), Errc::unavailable));
  CHECK(r.error().reason.find("no answer within 300 ms") != std::string::npos);
}
