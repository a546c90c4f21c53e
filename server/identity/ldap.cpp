// LDAP search-then-bind through libldap's synchronous API. One connection per sign-in: bind as the
// service account, search for the person, bind again as them (the same connection), unbind.
#include "server/identity/ldap.hpp"

#include <ldap.h>
#include <sys/time.h>

#include <cctype>
#include <memory>
#include <vector>

#include "labgate/common/csv.hpp"
#include "server/core/errors.hpp"

namespace lg::server::identity {

namespace {

constexpr std::string_view kWrong = "wrong user or password";
constexpr std::size_t kMaxUserBytes = 256;

struct LdapFree {
  void operator()(LDAP* ld) const { ldap_unbind_ext_s(ld, nullptr, nullptr); }
  void operator()(LDAPMessage* m) const { ldap_msgfree(m); }
  void operator()(char* s) const { ldap_memfree(s); }
  void operator()(berval** v) const { ldap_value_free_len(v); }
  void operator()(BerElement* b) const { ber_free(b, 0); }
};
template <typename T>
using Owned = std::unique_ptr<T, LdapFree>;

Error unauthorized() { return domain_error(Errc::unauthorized, std::string(kWrong)); }

timeval to_timeval(int ms) {
  if (ms <= 0) ms = 5000;
  timeval tv{};
  tv.tv_sec = ms / 1000;
  tv.tv_usec = static_cast<suseconds_t>((ms % 1000) * 1000);
  return tv;
}

/// True for the result codes that mean "the server is not there (or not answering)".
bool is_unreachable(int rc) {
  return rc == LDAP_SERVER_DOWN || rc == LDAP_CONNECT_ERROR || rc == LDAP_TIMEOUT || rc == LDAP_UNAVAILABLE ||
         rc == LDAP_BUSY || rc == LDAP_TIMELIMIT_EXCEEDED;
}

Error unreachable(const LdapConfig& c, int rc, std::string_view during) {
  return domain_error(Errc::unavailable, "the LDAP server " + c.url + " is not reachable (" + ldap_err2string(rc) +
                                             " during " + std::string(during) +
                                             "); check [auth.ldap] url or retry later");
}

/// RFC 3629 UTF-8 (surrogates and overlong forms refused: the JSON library would throw on them).
bool valid_utf8(std::string_view s) { return csv::valid_utf8(s); }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

/// Simple bind on ld; returns the LDAP result code.
int simple_bind(LDAP* ld, const std::string& dn, std::string_view password) {
  std::string pw(password);
  berval cred{};
  cred.bv_val = pw.data();
  cred.bv_len = pw.size();
  return ldap_sasl_bind_s(ld, dn.c_str(), LDAP_SASL_SIMPLE, &cred, nullptr, nullptr, nullptr);
}

/// The entry's attributes (UTF-8 values only, userPassword never), values joined by "; ".
std::map<std::string, std::string> read_attributes(LDAP* ld, LDAPMessage* entry) {
  std::map<std::string, std::string> out;
  BerElement* raw_ber = nullptr;
  for (char* raw = ldap_first_attribute(ld, entry, &raw_ber); raw != nullptr;
       raw = ldap_next_attribute(ld, entry, raw_ber)) {
    Owned<char> name(raw);
    if (iequals(name.get(), "userPassword")) continue;
    Owned<berval*> values(ldap_get_values_len(ld, entry, name.get()));
    if (!values) continue;
    std::string joined;
    for (berval** v = values.get(); *v != nullptr; ++v) {
      std::string_view text((*v)->bv_val, (*v)->bv_len);
      if (!valid_utf8(text) || text.find('\0') != std::string_view::npos) continue;
      if (!joined.empty()) joined += "; ";
      joined += text;
    }
    if (!joined.empty()) out[name.get()] = joined;
  }
  Owned<BerElement> ber(raw_ber);
  return out;
}

/// The first value of attribute attr (case-insensitive name), "" when absent.
std::string first_value(LDAP* ld, LDAPMessage* entry, const std::string& attr) {
  if (attr.empty()) return "";
  Owned<berval*> values(ldap_get_values_len(ld, entry, attr.c_str()));
  if (!values || values.get()[0] == nullptr) return "";
  std::string v(values.get()[0]->bv_val, values.get()[0]->bv_len);
  return valid_utf8(v) ? v : "";
}

}  // namespace

std::string ldap_filter_escape(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '*' || c == '(' || c == ')' || c == '\\' || c == '\0') {
      out += '\\';
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    } else {
      out += ch;
    }
  }
  return out;
}

Result<ExternalIdentity> ldap_authenticate(const LdapConfig& c, std::string_view user, std::string_view password) {
  // An empty password would make the second bind an unauthenticated bind, which servers accept.
  if (user.empty() || password.empty() || user.size() > kMaxUserBytes) return unauthorized();
  if (c.url.rfind("ldap://", 0) != 0 && c.url.rfind("ldaps://", 0) != 0 && c.url.rfind("ldapi://", 0) != 0) {
    return Error::invalid("[auth.ldap] url '" + c.url + "' is not an ldap://host:port (or ldaps://) URL");
  }
  const auto placeholder = c.user_filter.find("{user}");
  if (placeholder == std::string::npos) {
    return Error::invalid("[auth.ldap] user_filter '" + c.user_filter + "' has no {user} placeholder");
  }

  LDAP* raw = nullptr;
  if (int rc = ldap_initialize(&raw, c.url.c_str()); rc != LDAP_SUCCESS) {
    return Error::invalid("[auth.ldap] url '" + c.url + "' is not usable: " + ldap_err2string(rc));
  }
  Owned<LDAP> ld(raw);
  const int version = LDAP_VERSION3;
  const timeval tv = to_timeval(c.timeout_ms);
  ldap_set_option(ld.get(), LDAP_OPT_PROTOCOL_VERSION, &version);
  ldap_set_option(ld.get(), LDAP_OPT_NETWORK_TIMEOUT, &tv);
  ldap_set_option(ld.get(), LDAP_OPT_TIMEOUT, &tv);
  ldap_set_option(ld.get(), LDAP_OPT_REFERRALS, LDAP_OPT_OFF);

  if (!c.bind_dn.empty()) {
    const int rc = simple_bind(ld.get(), c.bind_dn, c.bind_password);
    if (is_unreachable(rc)) return unreachable(c, rc, "the service bind");
    if (rc != LDAP_SUCCESS) {
      return Error::invalid("the LDAP server refused the service account '" + c.bind_dn + "' (" + ldap_err2string(rc) +
                            "); check [auth.ldap] bind_dn and bind_password");
    }
  }

  // Every {user} in the filter, escaped.
  std::string filter;
  const std::string escaped = ldap_filter_escape(user);
  for (std::size_t pos = 0;;) {
    const auto at = c.user_filter.find("{user}", pos);
    filter.append(c.user_filter, pos, at == std::string::npos ? std::string::npos : at - pos);
    if (at == std::string::npos) break;
    filter += escaped;
    pos = at + 6;
  }
  std::vector<std::string> names = {"*"};  // all user attributes
  std::vector<char*> attrs;
  for (auto& n : names) attrs.push_back(n.data());
  attrs.push_back(nullptr);
  LDAPMessage* raw_res = nullptr;
  timeval search_tv = tv;
  const int rc = ldap_search_ext_s(ld.get(), c.base_dn.c_str(), LDAP_SCOPE_SUBTREE, filter.c_str(), attrs.data(), 0,
                                   nullptr, nullptr, &search_tv, 2, &raw_res);
  Owned<LDAPMessage> res(raw_res);
  if (is_unreachable(rc)) return unreachable(c, rc, "the search");
  if (rc == LDAP_FILTER_ERROR) {
    return Error::invalid("[auth.ldap] user_filter '" + c.user_filter + "' is not a valid LDAP filter");
  }
  if (rc == LDAP_NO_SUCH_OBJECT) {
    return Error::invalid("[auth.ldap] base_dn '" + c.base_dn + "' does not exist on " + c.url);
  }
  if (rc == LDAP_INSUFFICIENT_ACCESS || rc == LDAP_STRONG_AUTH_REQUIRED || rc == LDAP_INAPPROPRIATE_AUTH) {
    return Error::invalid(std::string("the LDAP server refuses the search (") + ldap_err2string(rc) + "); " +
                          (c.bind_dn.empty() ? "it may not allow anonymous search: set [auth.ldap] bind_dn"
                                             : "check the rights of [auth.ldap] bind_dn"));
  }
  if (rc != LDAP_SUCCESS && rc != LDAP_SIZELIMIT_EXCEEDED) {
    return Error::invalid(std::string("the LDAP search for a user failed: ") + ldap_err2string(rc));
  }
  const int found = res ? ldap_count_entries(ld.get(), res.get()) : 0;
  if (found == 0) return unauthorized();
  if (found > 1 || rc == LDAP_SIZELIMIT_EXCEEDED) {
    return Error::invalid("[auth.ldap] user_filter '" + c.user_filter +
                          "' matches more than one entry for one user; it must select a single person");
  }
  LDAPMessage* entry = ldap_first_entry(ld.get(), res.get());
  Owned<char> dn(ldap_get_dn(ld.get(), entry));
  if (!dn) return Error::invalid("the LDAP server returned an entry without a DN");

  ExternalIdentity who;
  who.login = first_value(ld.get(), entry, c.attr_login);
  if (who.login.empty()) who.login = std::string(user);
  who.name = first_value(ld.get(), entry, c.attr_name);
  who.mail = first_value(ld.get(), entry, c.attr_mail);
  who.unit = first_value(ld.get(), entry, c.attr_unit);
  who.category = first_value(ld.get(), entry, c.attr_category);
  who.attributes = read_attributes(ld.get(), entry);

  const int brc = simple_bind(ld.get(), dn.get(), password);
  if (brc == LDAP_SUCCESS) return who;
  if (is_unreachable(brc)) return unreachable(c, brc, "the user's bind");
  if (brc == LDAP_INVALID_CREDENTIALS || brc == LDAP_INAPPROPRIATE_AUTH || brc == LDAP_UNWILLING_TO_PERFORM) {
    return unauthorized();
  }
  return Error::invalid(std::string("the LDAP bind as the user failed: ") + ldap_err2string(brc));
}

}  // namespace lg::server::identity
