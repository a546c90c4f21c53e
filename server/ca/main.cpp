// labgate-ca: the site terminal CA's signer, on a machine of its own (docs/SECURITY.md, "The CA
// key on a separate machine"). It holds ca.key (0600) and signs for labgate-server over HTTPS
// with mutual TLS, within its own policy (server/ca/policy.hpp), logging everything it signs.
//   labgate-ca init --dir D --site S     the CA, the signer's TLS identity, the server's identity to copy
//   labgate-ca serve --config F          serve (until SIGINT/SIGTERM)
//   labgate-ca client --config F --cn C --out DIR   another (or a renewed) client identity for a server
#include <utility>  // must precede boost/asio.hpp with GCC 12 + C++20 + Boost 1.74

#include <CLI/CLI.hpp>
#include <boost/asio.hpp>
#include <csignal>
#include <cstdio>
#include <filesystem>

#include "labgate/common/files.hpp"
#include "labgate/common/log.hpp"
#include "labgate/common/time.hpp"
#include "server/ca/ca_config.hpp"
#include "server/ca/issue_log.hpp"
#include "server/ca/service.hpp"
#include "server/terminals/site_ca.hpp"
#include "server/transport/http/http_server.hpp"

#ifndef LABGATE_VERSION
#define LABGATE_VERSION "0.0.0"
#endif

namespace fs = std::filesystem;
namespace net = boost::asio;
using namespace lg;
using namespace lg::server;

namespace {

constexpr std::string_view kLog = "ca";
constexpr const char* kClientName = "signer-client";  // <name>.crt/.key of a server's identity towards the signer

int fail(const std::string& what, int code = 1) {
  std::fprintf(stderr, "labgate-ca: %s\n", log::escape(what).c_str());
  return code;
}

/// The signer's own TLS certificate (CN "signer", for cfg.hosts): issued or renewed as needed.
Result<terminals::IdentityFiles> signer_identity(const terminals::Signer& ca, const fs::path& dir,
                                                 const std::vector<std::string>& hosts, int64_t now) {
  return ca.ensure_identity(dir, "signer", "signer", pki::Usage::server, now, hosts);
}

/// A client identity CN = cn in out (key made here, mode 0600), with the CA certificate beside it.
Result<terminals::IdentityFiles> client_identity(const terminals::Signer& ca, const fs::path& out,
                                                 const std::string& cn, int64_t now) {
  LG_TRY(files::ensure_private_dir(out));
  LG_TRY(files::write_atomic(out / "ca.crt", ca.certificate(), 0644));
  return ca.ensure_identity(out, kClientName, cn, pki::Usage::client, now);
}

void print_server_steps(const fs::path& out, const ca::CaConfig& c) {
  const std::string host = c.hosts.empty() ? "HOST" : c.hosts.front();
  std::printf(
      "\nOn the server machine:\n"
      "  1. Copy %s/{ca.crt,%s.crt,%s.key} to it (e.g. /etc/labgate/signer/; the key mode 0600, owned by the\n"
      "     server's user), then delete %s here.\n"
      "  2. Remove any ca.key from the server's pki.dir, and put in its config:\n"
      "       [pki]\n"
      "       signer_url = \"https://%s:%d\"\n"
      "       signer_ca_file = \"/etc/labgate/signer/ca.crt\"\n"
      "       signer_cert_file = \"/etc/labgate/signer/%s.crt\"\n"
      "       signer_key_file = \"/etc/labgate/signer/%s.key\"\n"
      "  3. Start the signer here (labgate-ca serve --config %s), then the server.\n",
      out.c_str(), kClientName, kClientName, out.c_str(), host.c_str(), c.port, kClientName, kClientName,
      (c.dir / "labgate-ca.toml").c_str());
}

int init(const fs::path& dir_arg, const std::string& site, ca::CaConfig c, const std::string& client_cn) {
  const fs::path dir = fs::absolute(dir_arg).lexically_normal();
  std::error_code ec;
  if (fs::exists(dir / "ca.key", ec))
    return fail(dir.string() + " holds a CA already (ca.key); `labgate-ca client` issues another identity for a server",
                2);
  if (fs::exists(dir / "labgate-ca.toml", ec))
    return fail((dir / "labgate-ca.toml").string() + " exists already; init makes a new CA in an empty dir", 2);
  c.site = site;
  c.dir = dir;
  const int64_t now = time::now_utc_ms();
  auto ca = terminals::SiteCa::open(dir, site, now, true);
  if (!ca) return fail(ca.error().message());
  auto log = ca::IssueLog::open(dir / "issued.log");
  if (!log) return fail(log.error().message());
  ca::LoggedCa logged(**ca, **log, ca::Requester{"labgate-ca init", ""});
  auto tls = signer_identity(logged, dir, c.hosts, now);
  if (!tls) return fail("the signer's TLS certificate: " + tls.error().message());
  const fs::path out = dir / "for-server";
  auto client = client_identity(logged, out, client_cn, now);
  if (!client) return fail("the server's client identity: " + client.error().message());
  if (auto s = files::write_atomic(dir / "labgate-ca.toml", ca::ca_config_text(c), 0600); !s)
    return fail(s.error().message());
  std::printf(
      "labgate-ca: the site CA of %s is in %s: ca.key (mode 0600; it never leaves this machine), ca.crt,\n"
      "signer.crt/.key (the signer's TLS identity), issued.log (everything it signs), labgate-ca.toml.\n"
      "The server's client identity (CN %s) is in %s.\n",
      site.c_str(), dir.c_str(), client_cn.c_str(), out.c_str());
  print_server_steps(out, c);
  return 0;
}

int client(const fs::path& config, const std::string& cn, const fs::path& out) {
  auto c = ca::load_ca_config_file(config);
  if (!c) return fail("bad config: " + c.error().message(), 2);
  if (const std::string why = ca::requester_refusal(c->policy, cn); !why.empty())
    return fail("--cn " + cn + ": add it to policy.clients first (" + why + ")", 2);
  const int64_t now = time::now_utc_ms();
  auto ca = terminals::SiteCa::open(c->dir, c->site, now, false);
  if (!ca) return fail(ca.error().message());
  auto log = ca::IssueLog::open(c->dir / "issued.log");
  if (!log) return fail(log.error().message());
  ca::LoggedCa logged(**ca, **log, ca::Requester{"labgate-ca client", ""});
  auto id = client_identity(logged, out, cn, now);
  if (!id) return fail(id.error().message());
  std::printf("labgate-ca: %s the client identity %s in %s\n", id->renewed ? "issued" : "kept (not due yet)",
              cn.c_str(), out.c_str());
  print_server_steps(out, *c);
  return 0;
}

int serve(const fs::path& config) {
  auto c = ca::load_ca_config_file(config);
  if (!c) return fail("bad config: " + c.error().message(), 2);
  log::set_level(c->log_level);
  const int64_t now = time::now_utc_ms();
  auto ca = terminals::SiteCa::open(c->dir, c->site, now, false);
  if (!ca) return fail(ca.error().message(), 2);
  auto log = ca::IssueLog::open(c->dir / "issued.log");
  if (!log) return fail(log.error().message(), 2);
  ca::LoggedCa self(**ca, **log, ca::Requester{"labgate-ca serve", ""});
  auto tls = signer_identity(self, c->dir, c->hosts, now);
  if (!tls) return fail("the signer's TLS certificate: " + tls.error().message());
  if (tls->renewed)
    log::info(kLog, "issued the signer's TLS certificate for " + std::to_string(c->hosts.size()) + " names");
  ca::Service service(**ca, c->site, c->policy, **log, [] { return time::now_utc_ms(); });

  net::io_context io;
  http::HttpOptions o;
  o.address = c->listen;
  o.port = static_cast<uint16_t>(c->port);
  o.threads = 2;
  o.body_limit = 16 << 20;  // a CRL request of many revoked certificates
  o.tls.cert_file = tls->cert;
  o.tls.key_file = tls->key;
  o.tls.client_ca_file = c->dir / "ca.crt";  // mutual TLS: only certificates of this CA get in ...
  // ... and of those only policy.clients get an answer (Service::handle).
  auto srv = http::HttpServer::start(io, o, [&service](const http::Request& r) { return service.handle(r); });
  if (!srv) return fail("ca.listen/port: " + srv.error().message(), 2);
  const uint16_t port = (*srv)->port();
  if (auto s = files::write_atomic(c->dir / "labgate-ca.port", std::to_string(port) + "\n", 0644); !s)
    return fail(s.error().message());
  std::string clients;
  for (const auto& n : c->policy.clients) clients += (clients.empty() ? "" : ", ") + n;
  log::info(kLog, "labgate-ca " + std::string(LABGATE_VERSION) + " site " + c->site + ": the CA in " + c->dir.string() +
                      " signs on https://" + c->listen + ":" + std::to_string(port) + " for " + clients +
                      " (mutual TLS), at most " + std::to_string(c->policy.max_days) + " days; log " +
                      (*log)->path().string());
  net::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& e, int) {
    if (e) return;
    log::info(kLog, "stopping");
    (*srv)->stop();
    io.stop();
  });
  io.run();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"labgate-ca: the site terminal CA's signer, on a machine of its own"};
  app.require_subcommand(1);
  ca::CaConfig defaults;
  fs::path dir;
  std::string site, client_cn = "server";
  std::vector<std::string> hosts, identities, tls_hosts;
  auto* cmd_init = app.add_subcommand("init",
                                      "Make the CA in an empty dir, the signer's TLS identity, the "
                                      "server's client identity to copy, and labgate-ca.toml");
  cmd_init->add_option("--dir", dir, "the CA's dir (made 0700)")->required();
  cmd_init->add_option("--site", site, "the site code")->required();
  cmd_init->add_option("--host", hosts,
                       "a name or IPv4 address the server reaches the signer by (repeatable; "
                       "default localhost, 127.0.0.1)");
  cmd_init->add_option("--listen", defaults.listen, "the address to serve on (default 127.0.0.1)");
  cmd_init->add_option("--port", defaults.port, "the port to serve on (default 8443; 0 = any free)");
  cmd_init->add_option("--client", client_cn, "the CN of the server's client identity (default server)");
  cmd_init->add_option("--server-identity", identities,
                       "a server identity at the broker it may issue (repeatable; default server)");
  cmd_init->add_option("--broker-host", tls_hosts,
                       "a name the broker's certificate may carry (repeatable; default localhost, 127.0.0.1)");
  cmd_init->add_option("--max-days", defaults.policy.max_days, "the longest validity it issues (default 397)");

  fs::path config;
  auto* cmd_serve = app.add_subcommand("serve", "Serve the signer over HTTPS with mutual TLS");
  cmd_serve->add_option("--config", config, "labgate-ca.toml")->required();

  fs::path out;
  std::string cn;
  auto* cmd_client = app.add_subcommand("client", "Issue (or renew when due) a server's client identity into a dir");
  cmd_client->add_option("--config", config, "labgate-ca.toml")->required();
  cmd_client->add_option("--cn", cn, "its CN: one of policy.clients")->required();
  cmd_client->add_option("--out", out, "the dir to write ca.crt, signer-client.crt/.key into")->required();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (cmd_init->parsed()) {
    if (!hosts.empty()) defaults.hosts = hosts;
    if (!identities.empty()) defaults.policy.server_identities = identities;
    if (!tls_hosts.empty()) defaults.policy.tls_hosts = tls_hosts;
    defaults.policy.clients = {client_cn};
    // What init writes must load again: check it through the parser before making anything.
    defaults.site = site;
    defaults.dir = fs::absolute(dir);
    auto doc = config::Document::parse(ca::ca_config_text(defaults), defaults.dir / "labgate-ca.toml");
    if (!doc) return fail(doc.error().message(), 2);
    if (auto checked = ca::load_ca_config(*doc); !checked) return fail(checked.error().message(), 2);
    return init(dir, site, defaults, client_cn);
  }
  if (cmd_serve->parsed()) return serve(config);
  return client(config, cn, out);
}
