#include "server/config/server_config.hpp"

#include "server/conduct/rules.hpp"
#include "server/settlement/rules.hpp"

#include <algorithm>

#include <arpa/inet.h>
#include <unistd.h>

#include <set>

#include "labgate/common/protocol.hpp"
#include "labgate/common/time.hpp"

namespace lg::server {

namespace {

/// An IPv4 or IPv6 address in numeric form (what the listener can bind).
bool is_ip_address(const std::string& text) {
  unsigned char buf[sizeof(in6_addr)];
  return ::inet_pton(AF_INET, text.c_str(), buf) == 1 || ::inet_pton(AF_INET6, text.c_str(), buf) == 1;
}

}  // namespace

bool is_loopback_address(const std::string& text) {
  unsigned char b[sizeof(in6_addr)];
  if (::inet_pton(AF_INET, text.c_str(), b) == 1) return b[0] == 127;
  if (::inet_pton(AF_INET6, text.c_str(), b) != 1) return false;
  static constexpr unsigned char kLoop6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  static constexpr unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::equal(b, b + 16, kLoop6)) return true;
  return std::equal(b, b + 12, kMapped) && b[12] == 127;
}

std::string admin_token_weakness(const std::string& token) {
  constexpr std::size_t kMinLength = 16;
  constexpr std::size_t kMinDistinct = 6;
  if (token.size() < kMinLength) {
    return "too short (" + std::to_string(token.size()) + " characters): use at least " + std::to_string(kMinLength) +
           ", e.g. the output of `openssl rand -hex 24`";
  }
  for (const char ch : token) {
    const auto u = static_cast<unsigned char>(ch);
    if (u <= 0x20 || u >= 0x7f) {
      return "must be printable ASCII without spaces or control characters (it travels in an HTTP header)";
    }
  }
  const std::set<char> distinct(token.begin(), token.end());
  if (distinct.size() < kMinDistinct) {
    return "too easy to guess (" + std::to_string(distinct.size()) + " distinct characters): use at least " +
           std::to_string(kMinDistinct) + " different ones, e.g. the output of `openssl rand -hex 24`";
  }
  return "";
}

#define LG_CFG(var, expr)           \
  auto var = (expr);                \
  if (!var) return var.error();

Result<ServerConfig> load_config(const config::Document& doc) {
  ServerConfig c;
  const auto root = doc.root();
  if (auto s = root.reject_unknown({"server", "http", "mqtt", "store", "ingest", "health", "auth", "testing", "pki", "broker", "orders", "smtp", "conduct", "settlement"}); !s) return s.error();

  LG_CFG(server, root.section("server"));
  if (auto s = server->reject_unknown({"site", "data_dir", "time_zone", "currency", "log_level", "sync_refresh_s",
                                      "sync_delay_ms"});
      !s)
    return s.error();
  LG_CFG(site, server->string("site"));
  if (!proto::valid_id(*site)) return Error::invalid(server->path("site") + ": must be 1..64 of [A-Za-z0-9_.:-]");
  c.site = *site;
  LG_CFG(data_dir, server->string("data_dir"));
  if (data_dir->empty()) return Error::invalid(server->path("data_dir") + ": must not be empty");
  c.data_dir = server->resolve_path(*data_dir);
  LG_CFG(tz, server->string_or("time_zone", std::string(defaults::kTimeZone)));
  if (auto m = time::local_month(0, *tz); !m) {
    return Error::invalid(server->path("time_zone") + ": unknown time zone '" + *tz + "'");
  }
  c.time_zone = *tz;
  LG_CFG(currency, server->string_or("currency", std::string(defaults::kCurrency)));
  if (currency->size() != 3) return Error::invalid(server->path("currency") + ": must be a 3-letter code");
  c.currency = *currency;
  LG_CFG(level, server->one_of_or("log_level", "info", {"debug", "info", "warn", "error"}));
  (void)log::parse_level(*level, c.log_level);
  LG_CFG(refresh, server->integer_or("sync_refresh_s", 900, 10, 86400));
  c.sync_refresh_s = static_cast<int>(*refresh);
  LG_CFG(delay, server->integer_or("sync_delay_ms", 200, 0, 60'000));
  c.sync_delay_ms = static_cast<int>(*delay);

  LG_CFG(http, root.section("http"));
  if (auto s = http->reject_unknown(
          {"listen", "port", "admin_token", "body_limit", "max_connections", "idle_timeout_s", "threads", "tls_cert",
           "tls_key", "allow_plain", "header_limit", "header_timeout_s", "request_timeout_s",
           "max_connections_per_address", "rate_per_s", "rate_burst"});
      !s)
    return s.error();
  LG_CFG(listen, http->string_or("listen", "127.0.0.1"));
  if (!is_ip_address(*listen)) {
    return Error::invalid(http->path("listen") + ": '" + *listen +
                          "' is not an IPv4 or IPv6 address (e.g. 127.0.0.1, 0.0.0.0, ::1)");
  }
  c.http_listen = *listen;
  LG_CFG(port, http->integer_or("port", 8080, 0, 65535));
  c.http_port = static_cast<int>(*port);
  LG_CFG(token, http->string_or("admin_token", ""));
  if (auto weak = token->empty() ? std::string() : admin_token_weakness(*token); !weak.empty()) {
    return Error::invalid(http->path("admin_token") + ": " + weak);
  }
  c.admin_token = *token;
  LG_CFG(limit, http->integer_or("body_limit", 8 * 1024 * 1024, 1024, 64LL * 1024 * 1024));
  c.body_limit = static_cast<std::size_t>(*limit);
  LG_CFG(max_conn, http->integer_or("max_connections", 0, 0, 1000000));
  c.max_connections = static_cast<std::size_t>(*max_conn);
  LG_CFG(idle, http->integer_or("idle_timeout_s", 30, 1, 3600));
  c.idle_timeout_s = static_cast<int>(*idle);
  LG_CFG(threads, http->integer_or("threads", 4, 1, 256));
  c.http_threads = static_cast<int>(*threads);
  LG_CFG(tls_cert, http->string_or("tls_cert", ""));
  LG_CFG(tls_key, http->string_or("tls_key", ""));
  if (tls_cert->empty() != tls_key->empty()) {
    const char* missing = tls_cert->empty() ? "tls_cert" : "tls_key";
    return Error::invalid(http->path(missing) + ": missing: http.tls_cert and http.tls_key go together (PEM files)");
  }
  if (!tls_cert->empty()) {
    c.tls_cert = http->resolve_path(*tls_cert);
    c.tls_key = http->resolve_path(*tls_key);
  }
  LG_CFG(allow_plain, http->boolean_or("allow_plain", false));
  c.http_allow_plain = *allow_plain;
  // A campus server must not end up on plain HTTP by accident: without a certificate it serves
  // only this host, unless plain HTTP is asked for by name (behind a TLS proxy).
  if (c.tls_cert.empty() && !c.http_allow_plain && !is_loopback_address(c.http_listen)) {
    return Error::invalid(http->path("listen") + ": " + c.http_listen +
                          " is not a loopback address, so the API needs HTTPS there: set http.tls_cert and "
                          "http.tls_key (`labgate-server --make-self-signed DIR` makes a pair for a demo), or "
                          "http.allow_plain = true behind a TLS proxy");
  }
  LG_CFG(header_limit, http->integer_or("header_limit", 16 * 1024, 1024, 1024 * 1024));
  c.header_limit = static_cast<std::size_t>(*header_limit);
  LG_CFG(header_timeout, http->integer_or("header_timeout_s", 10, 1, 3600));
  c.header_timeout_s = static_cast<int>(*header_timeout);
  LG_CFG(request_timeout, http->integer_or("request_timeout_s", 30, 1, 3600));
  c.request_timeout_s = static_cast<int>(*request_timeout);
  if (c.request_timeout_s < c.header_timeout_s) {
    return Error::invalid(http->path("request_timeout_s") + ": must be at least http.header_timeout_s (" +
                          std::to_string(c.header_timeout_s) + ")");
  }
  LG_CFG(per_address, http->integer_or("max_connections_per_address", 256, 0, 1000000));
  c.max_connections_per_address = static_cast<std::size_t>(*per_address);
  LG_CFG(rate, http->number_or("rate_per_s", 100, 0, 1e6));
  c.rate_per_s = *rate;
  LG_CFG(burst, http->number_or("rate_burst", 1000, 1, 1e6));
  c.rate_burst = *burst;

  LG_CFG(mqtt, root.section("mqtt"));
  if (auto s = mqtt->reject_unknown({"uri", "client_id", "shared_group", "max_buffered", "allow_plain", "ca_file",
                                     "cert_file", "key_file", "identity"});
      !s)
    return s.error();
  LG_CFG(uri, mqtt->string_or("uri", c.mqtt_uri));
  if (uri->empty()) return Error::invalid(mqtt->path("uri") + ": must not be empty");
  c.mqtt_uri = *uri;
  LG_CFG(plain, mqtt->boolean_or("allow_plain", false));
  c.mqtt_allow_plain = *plain;
  if (c.mqtt_uri.rfind("ssl://", 0) != 0 && c.mqtt_uri.rfind("mqtts://", 0) != 0 && !c.mqtt_allow_plain)
    return Error::invalid(mqtt->path("uri") + ": must be ssl://host:port (mutual TLS); plain tcp:// only with " +
                          mqtt->path("allow_plain") + " = true, for development");
  LG_CFG(ca_file, mqtt->string_or("ca_file", ""));
  LG_CFG(cert_file, mqtt->string_or("cert_file", ""));
  LG_CFG(key_file, mqtt->string_or("key_file", ""));
  if (cert_file->empty() != key_file->empty())
    return Error::invalid(mqtt->path(cert_file->empty() ? "cert_file" : "key_file") +
                          ": cert_file and key_file go together");
  if (!ca_file->empty()) c.mqtt_ca_file = mqtt->resolve_path(*ca_file);
  if (!cert_file->empty()) c.mqtt_cert_file = mqtt->resolve_path(*cert_file);
  if (!key_file->empty()) c.mqtt_key_file = mqtt->resolve_path(*key_file);
  LG_CFG(identity, mqtt->string_or("identity", c.mqtt_identity));
  if (!proto::valid_id(*identity) || (*identity != "server" && identity->rfind("server.", 0) != 0))
    return Error::invalid(mqtt->path("identity") + ": \"server\" or \"server.<node>\" (1..64 of [A-Za-z0-9_.:-])");
  c.mqtt_identity = *identity;
  LG_CFG(group, mqtt->string_or("shared_group", ""));
  if (!group->empty() && !proto::valid_id(*group)) {
    return Error::invalid(mqtt->path("shared_group") + ": must be 1..64 of [A-Za-z0-9_.:-]");
  }
  if (group->find_first_of(".:") != std::string::npos) {
    return Error::invalid(mqtt->path("shared_group") + ": must be 1..64 of [A-Za-z0-9_-]");
  }
  c.mqtt_shared_group = *group;
  LG_CFG(buffered, mqtt->integer_or("max_buffered", c.mqtt_max_buffered, 1, 1000000));
  c.mqtt_max_buffered = static_cast<int>(*buffered);
  // Several nodes must not share one client id (the broker would disconnect one for the other).
  std::string default_id = "labgate-server-" + c.site;
  if (!group->empty()) {
    char host[128] = {};
    ::gethostname(host, sizeof host - 1);
    default_id += "-" + std::string(host) + "-" + std::to_string(::getpid());
  }
  LG_CFG(client_id, mqtt->string_or("client_id", default_id));
  if (client_id->empty()) return Error::invalid(mqtt->path("client_id") + ": must not be empty");
  c.mqtt_client_id = *client_id;

  LG_CFG(store, root.optional_section("store"));
  if (*store) {
    if (auto s = (*store)->reject_unknown({"kind", "conninfo", "schema"}); !s) return s.error();
    LG_CFG(kind, (*store)->one_of_or("kind", "sqlite", {"sqlite", "postgres"}));
    c.store_kind = *kind;
    LG_CFG(conninfo, (*store)->string_or("conninfo", ""));
    LG_CFG(schema, (*store)->string_or("schema", ""));
    if (c.store_kind == "postgres" && conninfo->empty()) {
      return Error::invalid((*store)->path("conninfo") +
                            ": required with kind = \"postgres\" (e.g. \"host=/run/postgresql dbname=labgate\")");
    }
    if (c.store_kind == "sqlite" && (!conninfo->empty() || !schema->empty())) {
      return Error::invalid((*store)->path(conninfo->empty() ? "schema" : "conninfo") +
                            ": only for kind = \"postgres\"");
    }
    const bool schema_ok = std::all_of(schema->begin(), schema->end(), [](char ch) {
      return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_';
    }) && schema->size() <= 63 && (schema->empty() || !((*schema)[0] >= '0' && (*schema)[0] <= '9'));
    if (!schema_ok) return Error::invalid((*store)->path("schema") + ": must be 1..63 of [a-z0-9_], not starting with a digit");
    c.pg_conninfo = *conninfo;
    c.pg_schema = *schema;
  }

  LG_CFG(ingest, root.optional_section("ingest"));
  if (*ingest) {
    if (auto s = (*ingest)->reject_unknown({"verify_threads", "max_group", "committers"}); !s) return s.error();
    LG_CFG(verify, (*ingest)->integer_or("verify_threads", 2, 1, 64));
    c.ingest_verify_threads = static_cast<int>(*verify);
    LG_CFG(max_group, (*ingest)->integer_or("max_group", 256, 1, 10'000));
    c.ingest_max_group = static_cast<int>(*max_group);
    LG_CFG(committers, (*ingest)->integer_or("committers", 0, 0, 16));
    c.ingest_committers = static_cast<int>(*committers);
  }

  LG_CFG(health, root.optional_section("health"));
  if (*health) {
    if (auto s = (*health)->reject_unknown({"max_ingest_lag_s"}); !s) return s.error();
    LG_CFG(lag, (*health)->integer_or("max_ingest_lag_s", 30, 1, 86400));
    c.max_ingest_lag_s = static_cast<int>(*lag);
  }
  LG_CFG(auth, root.optional_section("auth"));
  if (*auth) {
    const config::Section& a = **auth;
    if (auto s = a.reject_unknown({"session_hours", "personal_token_max_days", "password_t_cost", "password_m_cost_kib",
                                   "default_unit", "ldap", "cas"});
        !s)
      return s.error();
    LG_CFG(hours, a.integer_or("session_hours", 12, 1, 24 * 30));
    c.auth.session_hours = *hours;
    LG_CFG(days, a.integer_or("personal_token_max_days", 366, 1, 3660));
    c.auth.personal_token_max_days = *days;
    LG_CFG(t_cost, a.integer_or("password_t_cost", 3, 1, 20));
    c.auth.password_t_cost = *t_cost;
    LG_CFG(m_cost, a.integer_or("password_m_cost_kib", 65536, 64, 4 * 1024 * 1024));
    c.auth.password_m_cost_kib = *m_cost;
    LG_CFG(unit, a.string_or("default_unit", ""));
    if (!unit->empty() && !proto::valid_id(*unit)) return Error::invalid(a.path("default_unit") + ": must be a unit id");
    c.auth.default_unit = *unit;
    LG_CFG(ldap, a.optional_section("ldap"));
    if (*ldap) {
      const config::Section& l = **ldap;
      if (auto s = l.reject_unknown({"url", "bind_dn", "bind_password", "base_dn", "user_filter", "attr_name", "attr_mail",
                                     "attr_unit", "attr_category"});
          !s)
        return s.error();
      LG_CFG(url, l.string("url"));
      if (url->rfind("ldap://", 0) != 0 && url->rfind("ldaps://", 0) != 0 && url->rfind("ldapi://", 0) != 0) {
        return Error::invalid(l.path("url") + ": must start with ldap://, ldaps:// or ldapi://");
      }
      c.auth.ldap_url = *url;
      LG_CFG(base, l.string("base_dn"));
      c.auth.ldap_base_dn = *base;
      LG_CFG(bind_dn, l.string_or("bind_dn", ""));
      c.auth.ldap_bind_dn = *bind_dn;
      LG_CFG(bind_pw, l.string_or("bind_password", ""));
      c.auth.ldap_bind_password = *bind_pw;
      LG_CFG(filter, l.string_or("user_filter", "(uid={user})"));
      if (filter->find("{user}") == std::string::npos) return Error::invalid(l.path("user_filter") + ": must contain {user}");
      c.auth.ldap_user_filter = *filter;
      LG_CFG(an, l.string_or("attr_name", "cn"));
      c.auth.ldap_attr_name = *an;
      LG_CFG(am, l.string_or("attr_mail", "mail"));
      c.auth.ldap_attr_mail = *am;
      LG_CFG(au, l.string_or("attr_unit", "ou"));
      c.auth.ldap_attr_unit = *au;
      LG_CFG(ac, l.string_or("attr_category", "employeeType"));
      c.auth.ldap_attr_category = *ac;
    }
    LG_CFG(cas, a.optional_section("cas"));
    if (*cas) {
      const config::Section& k = **cas;
      if (auto s = k.reject_unknown({"url", "v3", "services"}); !s) return s.error();
      LG_CFG(url, k.string("url"));
      if (url->rfind("http://", 0) != 0 && url->rfind("https://", 0) != 0) {
        return Error::invalid(k.path("url") + ": must start with http:// or https://");
      }
      c.auth.cas_url = *url;
      LG_CFG(v3, k.boolean_or("v3", true));
      c.auth.cas_v3 = *v3;
      LG_CFG(services, k.strings_or("services"));
      if (services->empty()) {
        return Error::invalid(k.path("services") + ": list the service URLs (prefixes) this site's sign-in pages use");
      }
      c.auth.cas_services = *services;
    }
  }
  c.pki_dir = c.data_dir / "pki";
  LG_CFG(pki, root.optional_section("pki"));
  if (*pki) {
    const config::Section& k = **pki;
    if (auto s = k.reject_unknown({"dir", "cert_days", "enrol_token_hours", "signer_url", "signer_ca_file",
                                   "signer_cert_file", "signer_key_file"});
        !s)
      return s.error();
    LG_CFG(dir, k.string_or("dir", c.pki_dir.string()));
    if (dir->empty()) return Error::invalid(k.path("dir") + ": must not be empty");
    c.pki_dir = k.resolve_path(*dir);
    LG_CFG(days, k.integer_or("cert_days", c.pki_cert_days, 2, 3650));
    c.pki_cert_days = static_cast<int>(*days);
    LG_CFG(hours, k.integer_or("enrol_token_hours", c.pki_enrol_token_hours, 1, 24 * 30));
    c.pki_enrol_token_hours = static_cast<int>(*hours);
    LG_CFG(signer, k.string_or("signer_url", ""));
    LG_CFG(signer_ca, k.string_or("signer_ca_file", ""));
    LG_CFG(signer_cert, k.string_or("signer_cert_file", ""));
    LG_CFG(signer_key, k.string_or("signer_key_file", ""));
    if (!signer->empty()) {
      if (signer->rfind("https://", 0) != 0 || signer->size() <= 8 || signer->find_first_of(" \t\n") != std::string::npos)
        return Error::invalid(k.path("signer_url") + ": https://host:port of the signer (labgate-ca); mutual TLS only");
      const std::pair<const char*, const std::string*> files[] = {
          {"signer_ca_file", &*signer_ca}, {"signer_cert_file", &*signer_cert}, {"signer_key_file", &*signer_key}};
      for (const auto& [key, value] : files)
        if (value->empty())
          return Error::invalid(k.path(key) + ": required with " + k.path("signer_url") +
                                " (labgate-ca init writes the files to copy)");
      c.pki_signer_url = *signer;
      c.pki_signer_ca_file = k.resolve_path(*signer_ca);
      c.pki_signer_cert_file = k.resolve_path(*signer_cert);
      c.pki_signer_key_file = k.resolve_path(*signer_key);
    } else if (!signer_ca->empty() || !signer_cert->empty() || !signer_key->empty()) {
      return Error::invalid(k.path(!signer_ca->empty() ? "signer_ca_file"
                                   : !signer_cert->empty() ? "signer_cert_file"
                                                           : "signer_key_file") +
                            ": only with " + k.path("signer_url"));
    }
  }
  LG_CFG(broker, root.optional_section("broker"));
  if (*broker) {
    const config::Section& b = **broker;
    if (auto s = b.reject_unknown({"dir", "listen", "port", "hosts", "pid_file", "public_uri", "server_identities"}); !s)
      return s.error();
    LG_CFG(ids, b.strings_or("server_identities"));
    for (const auto& id : *ids)
      if (!proto::valid_id(id) || (id != "server" && id.rfind("server.", 0) != 0))
        return Error::invalid(b.path("server_identities") + ": '" + id.substr(0, 64) + "' is not \"server\" or \"server.<node>\"");
    c.broker_server_identities = *ids;
    LG_CFG(dir, b.string_or("dir", ""));
    if (!dir->empty()) c.broker_dir = b.resolve_path(*dir);
    LG_CFG(blisten, b.string_or("listen", c.broker_listen));
    if (blisten->empty() || blisten->find_first_of(" \t\n#") != std::string::npos)
      return Error::invalid(b.path("listen") + ": an address to listen on");
    c.broker_listen = *blisten;
    LG_CFG(bport, b.integer_or("port", c.broker_port, 1, 65535));
    c.broker_port = static_cast<int>(*bport);
    LG_CFG(hosts, b.strings_or("hosts"));
    if (!hosts->empty()) c.broker_hosts = *hosts;
    for (const auto& h : c.broker_hosts)
      if (h.empty() || h.size() > 64 || h.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") != std::string::npos)
        return Error::invalid(b.path("hosts") + ": '" + h.substr(0, 64) + "' is not a host name or IPv4 address");
    LG_CFG(pid, b.string_or("pid_file", ""));
    if (!pid->empty()) c.broker_pid_file = b.resolve_path(*pid);
    LG_CFG(pub, b.string_or("public_uri", ""));
    c.broker_public_uri = *pub;
  }
  if (c.broker_public_uri.empty()) c.broker_public_uri = c.mqtt_uri;
  if (c.broker_server_identities.empty()) c.broker_server_identities = {c.mqtt_identity};
  LG_CFG(smtp, root.optional_section("smtp"));
  if (*smtp) {
    const config::Section& m = **smtp;
    if (auto s = m.reject_unknown({"enabled", "host", "port", "from", "from_name", "starttls", "ca_file", "username",
                                   "password", "timeout_s", "batch", "poll_ms", "max_attempts", "retry_base_s",
                                   "retry_max_s"});
        !s)
      return s.error();
    SmtpConfig& o = c.smtp;
    LG_CFG(enabled, m.boolean_or("enabled", false));
    o.enabled = *enabled;
    LG_CFG(host, m.string_or("host", ""));
    if (host->size() > 253 || host->find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:") !=
                                 std::string::npos)
      return Error::invalid(m.path("host") + ": '" + host->substr(0, 64) + "' is not a host name or address");
    if (o.enabled && host->empty()) return Error::invalid(m.path("host") + ": required when smtp.enabled = true");
    o.host = *host;
    LG_CFG(smtp_port, m.integer_or("port", 25, 1, 65535));
    o.port = static_cast<int>(*smtp_port);
    LG_CFG(from, m.string_or("from", ""));
    if (o.enabled && from->empty())
      return Error::invalid(m.path("from") + ": required when smtp.enabled = true (e.g. \"labgate@lab.example.edu\")");
    if (!from->empty()) {
      const auto at = from->find('@');
      const bool ok = at != std::string::npos && at > 0 && at + 1 < from->size() && from->find('@', at + 1) == std::string::npos &&
                      from->size() <= 254 &&
                      std::none_of(from->begin(), from->end(), [](char ch) {
                        const auto u = static_cast<unsigned char>(ch);
                        return u <= 0x20 || u == 0x7f || ch == '<' || ch == '>' || ch == ',' || ch == '"' || ch == '(' ||
                               ch == ')' || ch == ';' || ch == '\\';
                      });
      if (!ok) return Error::invalid(m.path("from") + ": must be a bare address local@domain (the name goes in from_name)");
    }
    o.from = *from;
    LG_CFG(from_name, m.string_or("from_name", o.from_name));
    if (from_name->size() > 64 || std::any_of(from_name->begin(), from_name->end(), [](char ch) {
          const auto u = static_cast<unsigned char>(ch);
          return u < 0x20 || u == 0x7f;
        }))
      return Error::invalid(m.path("from_name") + ": at most 64 characters, no control characters");
    o.from_name = *from_name;
    LG_CFG(starttls, m.boolean_or("starttls", false));
    o.starttls = *starttls;
    LG_CFG(smtp_ca, m.string_or("ca_file", ""));
    if (!smtp_ca->empty() && !o.starttls) return Error::invalid(m.path("ca_file") + ": only with starttls = true");
    if (!smtp_ca->empty()) o.ca_file = m.resolve_path(*smtp_ca);
    LG_CFG(user, m.string_or("username", ""));
    LG_CFG(pass, m.string_or("password", ""));
    if (user->empty() != pass->empty())
      return Error::invalid(m.path(user->empty() ? "username" : "password") + ": username and password go together");
    if (!user->empty() && !o.starttls && !is_loopback_address(o.host) && o.host != "localhost")
      return Error::invalid(m.path("username") +
                            ": needs starttls = true (the password would cross the network in clear) unless host is loopback");
    o.username = *user;
    o.password = *pass;
    LG_CFG(timeout, m.integer_or("timeout_s", 30, 1, 600));
    o.timeout_s = static_cast<int>(*timeout);
    LG_CFG(batch, m.integer_or("batch", 20, 1, 1000));
    o.batch = static_cast<int>(*batch);
    LG_CFG(poll, m.integer_or("poll_ms", 5000, 100, 3'600'000));
    o.poll_ms = static_cast<int>(*poll);
    LG_CFG(attempts, m.integer_or("max_attempts", 8, 1, 100));
    o.max_attempts = static_cast<int>(*attempts);
    LG_CFG(base, m.integer_or("retry_base_s", 60, 1, 86'400));
    o.retry_base_s = static_cast<int>(*base);
    LG_CFG(max_delay, m.integer_or("retry_max_s", 21'600, 1, 7 * 86'400));
    if (*max_delay < *base)
      return Error::invalid(m.path("retry_max_s") + ": must be at least retry_base_s (" + std::to_string(*base) + ")");
    o.retry_max_s = static_cast<int>(*max_delay);
  }
  LG_CFG(orders, root.optional_section("orders"));
  if (*orders) {
    if (auto s = (*orders)->reject_unknown({"attachment_limit"}); !s) return s.error();
    LG_CFG(att_limit, (*orders)->integer_or("attachment_limit", kDefaultOrderAttachmentLimit, 1, 64LL * 1024 * 1024));
    c.orders_attachment_limit = *att_limit;
  }
  // For tests only: makes a report slow on purpose, to show it delays nothing else.
  LG_CFG(testing, root.optional_section("testing"));
  if (*testing) {
    if (auto s = (*testing)->reject_unknown({"report_hold_ms"}); !s) return s.error();
    LG_CFG(hold, (*testing)->integer_or("report_hold_ms", 0, 0, 600'000));
    c.report_hold_ms = *hold;
  }
  LG_CFG(conduct, root.optional_section("conduct"));
  if (*conduct) {
    const config::Section& d = **conduct;
    if (auto s = d.reject_unknown({"enabled", "no_show_after_min", "late_after_min", "overtime_grace_min", "start_score",
                                   "no_show_points", "late_arrival_points", "overtime_points", "late_cancel_points",
                                   "recovery_days", "block_below", "block_days"});
        !s)
      return s.error();
    conduct::Policy& p = c.conduct;
    LG_CFG(on, d.boolean_or("enabled", p.enabled));
    p.enabled = *on;
    LG_CFG(no_show, d.integer_or("no_show_after_min", p.no_show_after_s / 60, 1, 1440));
    p.no_show_after_s = *no_show * 60;
    LG_CFG(late, d.integer_or("late_after_min", p.late_after_s / 60, 0, 1440));
    p.late_after_s = *late * 60;
    LG_CFG(overtime, d.integer_or("overtime_grace_min", p.overtime_grace_s / 60, 0, 1440));
    p.overtime_grace_s = *overtime * 60;
    for (auto [key, into] : {std::pair<const char*, int32_t*>{"start_score", &p.start_score},
                             {"no_show_points", &p.no_show_points},
                             {"late_arrival_points", &p.late_arrival_points},
                             {"overtime_points", &p.overtime_points},
                             {"late_cancel_points", &p.late_cancel_points},
                             {"block_below", &p.block_below}}) {
      LG_CFG(v, d.integer_or(key, *into, 0, 10000));
      *into = static_cast<int32_t>(*v);
    }
    LG_CFG(recovery, d.integer_or("recovery_days", p.recovery_days, 1, 3650));
    p.recovery_days = *recovery;
    LG_CFG(block_days, d.integer_or("block_days", p.block_days, 1, 3650));
    p.block_days = *block_days;
    if (auto why = conduct::validate(p)) return Error::invalid(d.path(why->substr(0, why->find(':'))) + why->substr(why->find(':')));
  }
  LG_CFG(settle, root.optional_section("settlement"));
  if (*settle) {
    const config::Section& d = **settle;
    if (auto s = d.reject_unknown({"review_hours", "settle_day", "unit_share_bp", "platform_share_bp"}); !s) return s.error();
    settlement::Policy& p = c.settlement;
    LG_CFG(review, d.integer_or("review_hours", p.review_hours, 0, 24 * 90));
    p.review_hours = *review;
    LG_CFG(day, d.integer_or("settle_day", p.settle_day, 0, 28));
    p.settle_day = static_cast<int32_t>(*day);
    LG_CFG(unit_bp, d.integer_or("unit_share_bp", p.allocation.unit_bp, 0, 10000));
    p.allocation.unit_bp = *unit_bp;
    LG_CFG(platform_bp, d.integer_or("platform_share_bp", p.allocation.platform_bp, 0, 10000));
    p.allocation.platform_bp = *platform_bp;
    if (auto why = settlement::rule_problem(p.allocation); !why.empty())
      return Error::invalid(d.path("platform_share_bp") + ": " + why);
  }
  return c;
}

Result<ServerConfig> load_config_file(const std::filesystem::path& path) {
  auto doc = config::Document::load_file(path);
  if (!doc) return doc.error();
  return load_config(*doc);
}

#undef LG_CFG

}  // namespace lg::server
