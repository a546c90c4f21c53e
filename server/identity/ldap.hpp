// Sign-on against a campus directory: LDAP search-then-bind (libldap, simple bind).
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "labgate/common/result.hpp"

namespace lg::server::identity {

/// [auth.ldap] in the server config.
struct LdapConfig {
  std::string url;                           ///< ldap://host:port (ldaps:// goes through libldap's own TLS settings)
  std::string bind_dn;                       ///< service account that searches for people; "" = anonymous search
  std::string bind_password;                 ///< its password
  std::string base_dn;                       ///< where people are searched (subtree)
  std::string user_filter = "(uid={user})";  ///< {user} is replaced by the escaped user (RFC 4515)
  std::string attr_name = "cn";
  std::string attr_mail = "mail";
  std::string attr_unit = "ou";
  std::string attr_category = "employeeType";
  int timeout_ms = 5000;           ///< bounds the connect and each operation
  std::string attr_login = "uid";  ///< the entry's attribute that is the login; the user as typed when absent
};

/// A person as a campus sign-on (LDAP or CAS) describes them.
struct ExternalIdentity {
  std::string login;  ///< the user id
  std::string name;   ///< display name ("" when the source has none)
  std::string mail;
  std::string unit;                               ///< department / organisational unit, as the source spells it
  std::string category;                           ///< staff, student, ... as the source spells it
  std::map<std::string, std::string> attributes;  ///< every attribute the source gave, values joined by "; "
};

/// Escapes text for use as a value in an LDAP search filter (RFC 4515): '*', '(', ')', '\' and
/// NUL become \2a, \28, \29, \5c, \00; everything else (UTF-8 included) is kept.
std::string ldap_filter_escape(std::string_view text);

/// Signs a person on through LDAP: binds as the service account (or searches anonymously when
/// bind_dn is ""), searches base_dn for exactly one entry matching user_filter with {user}
/// escaped, then binds as that entry's DN with password. On success, the identity from the entry:
/// login from attr_login (the user as typed when the entry lacks it), name/mail/unit/category from
/// their attributes (first value), and all readable attributes but userPassword in `attributes`
/// (values that are not UTF-8 text are left out).
/// Errors (codes from server/core/errors.hpp):
///  - Errc::unauthorized (HTTP 401) "wrong user or password" for an empty user or password (refused
///    before any bind: an LDAP bind with an empty password is an unauthenticated bind that
///    "succeeds"), an unknown user, and a wrong password alike, so the answer does not tell which;
///  - Errc::unavailable (503) when the server cannot be reached or does not answer in time;
///  - an untyped error (500) naming the [auth.ldap] key for configuration problems: the service
///    account refused, a filter without {user} or that the server rejects, a user matching several
///    entries, a malformed url.
Result<ExternalIdentity> ldap_authenticate(const LdapConfig& c, std::string_view user, std::string_view password);

}  // namespace lg::server::identity
