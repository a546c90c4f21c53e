#include "server/ca/ca_config.hpp"

#include "labgate/common/protocol.hpp"

namespace lg::server::ca {

namespace {

bool host_shaped(const std::string& h) {
  return !h.empty() && h.size() <= 64 &&
         h.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") == std::string::npos;
}

bool server_name(const std::string& id) {
  return proto::valid_id(id) && (id == "server" || id.rfind("server.", 0) == 0);
}

std::string list(const std::vector<std::string>& v) {
  std::string out = "[";
  for (std::size_t i = 0; i < v.size(); ++i) out += (i ? ", \"" : "\"") + v[i] + "\"";
  return out + "]";
}

}  // namespace

#define LG_CFG(var, expr) \
  auto var = (expr);      \
  if (!var) return var.error();

Result<CaConfig> load_ca_config(const config::Document& doc) {
  CaConfig c;
  const auto root = doc.root();
  if (auto s = root.reject_unknown({"ca", "policy"}); !s) return s.error();
  LG_CFG(ca, root.section("ca"));
  if (auto s = ca->reject_unknown({"site", "dir", "listen", "port", "hosts", "log_level"}); !s) return s.error();
  LG_CFG(site, ca->string("site"));
  if (!proto::valid_id(*site)) return Error::invalid(ca->path("site") + ": 1..64 of [A-Za-z0-9_.:-]");
  c.site = *site;
  LG_CFG(dir, ca->string_or("dir", "."));
  if (dir->empty()) return Error::invalid(ca->path("dir") + ": must not be empty");
  c.dir = ca->resolve_path(*dir);
  LG_CFG(listen, ca->string_or("listen", c.listen));
  if (listen->empty()) return Error::invalid(ca->path("listen") + ": an address to listen on");
  c.listen = *listen;
  LG_CFG(port, ca->integer_or("port", c.port, 0, 65535));
  c.port = static_cast<int>(*port);
  LG_CFG(hosts, ca->strings_or("hosts"));
  if (!hosts->empty()) c.hosts = *hosts;
  for (const auto& h : c.hosts)
    if (!host_shaped(h))
      return Error::invalid(ca->path("hosts") + ": '" + h.substr(0, 64) + "' is not a host name or IPv4 address");
  LG_CFG(level, ca->one_of_or("log_level", "info", {"debug", "info", "warn", "error"}));
  (void)log::parse_level(*level, c.log_level);

  LG_CFG(policy, root.optional_section("policy"));
  if (*policy) {
    const config::Section& p = **policy;
    if (auto s = p.reject_unknown({"clients", "server_identities", "tls_names", "tls_hosts", "max_days"}); !s)
      return s.error();
    LG_CFG(clients, p.strings_or("clients"));
    if (p.has("clients")) c.policy.clients = *clients;
    LG_CFG(ids, p.strings_or("server_identities"));
    if (p.has("server_identities")) c.policy.server_identities = *ids;
    // Both are server names, which no terminal may take: a terminal's certificate never opens the signer.
    const std::pair<const char*, const std::vector<std::string>*> lists[] = {
        {"clients", &c.policy.clients}, {"server_identities", &c.policy.server_identities}};
    for (const auto& [key, names] : lists)
      for (const auto& id : *names)
        if (!server_name(id))
          return Error::invalid(p.path(key) + ": '" + id.substr(0, 64) + "' is not \"server\" or \"server.<node>\"");
    LG_CFG(names, p.strings_or("tls_names"));
    if (p.has("tls_names")) c.policy.tls_names = *names;
    for (const auto& n : c.policy.tls_names)
      if (!proto::valid_id(n)) return Error::invalid(p.path("tls_names") + ": '" + n.substr(0, 64) + "' is not a name");
    LG_CFG(tls_hosts, p.strings_or("tls_hosts"));
    if (p.has("tls_hosts")) c.policy.tls_hosts = *tls_hosts;
    for (const auto& h : c.policy.tls_hosts)
      if (!host_shaped(h))
        return Error::invalid(p.path("tls_hosts") + ": '" + h.substr(0, 64) + "' is not a host name or IPv4 address");
    LG_CFG(days, p.integer_or("max_days", c.policy.max_days, 1, 3650));
    c.policy.max_days = static_cast<int>(*days);
  }
  if (c.policy.clients.empty())
    return Error::invalid("policy.clients: name at least the server's identity (\"server\")");
  return c;
}

#undef LG_CFG

Result<CaConfig> load_ca_config_file(const std::filesystem::path& path) {
  auto doc = config::Document::load_file(path);
  if (!doc) return doc.error();
  return load_ca_config(*doc);
}

std::string ca_config_text(const CaConfig& c) {
  return "# labgate-ca: the site terminal CA's signer (docs/SECURITY.md, \"The CA key on a separate machine\").\n"
         "# Start it with  labgate-ca serve --config <this file>\n\n"
         "[ca]\n"
         "site = \"" +
         c.site +
         "\"\n"
         "dir = \"" +
         c.dir.string() +
         "\"     # ca.key (0600), ca.crt, signer.crt/.key, issued.log\n"
         "listen = \"" +
         c.listen +
         "\"        # the address labgate-server reaches (pki.signer_url)\n"
         "port = " +
         std::to_string(c.port) +
         "\n"
         "hosts = " +
         list(c.hosts) +
         "   # names in the signer's TLS certificate (the host of signer_url)\n"
         "log_level = \"info\"\n\n"
         "[policy]\n"
         "# Client certificates (from this CA) that may ask for certificates and CRLs: the server's.\n"
         "clients = " +
         list(c.policy.clients) +
         "\n"
         "# Client certificates issued besides terminals' (a valid terminal id): the server's broker identities.\n"
         "server_identities = " +
         list(c.policy.server_identities) +
         "\n"
         "# TLS server certificates issued (the broker's), and the names they may carry ([broker] hosts).\n"
         "tls_names = " +
         list(c.policy.tls_names) +
         "\n"
         "tls_hosts = " +
         list(c.policy.tls_hosts) +
         "\n"
         "# The longest validity of any certificate it issues (pki.cert_days must not exceed it).\n"
         "max_days = " +
         std::to_string(c.policy.max_days) + "\n";
}

}  // namespace lg::server::ca
