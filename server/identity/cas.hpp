// Sign-on through a campus CAS server: service-ticket validation, CAS protocol 2.0 and 3.0.
#pragma once

#include <string>
#include <string_view>

#include "labgate/common/result.hpp"
#include "server/identity/ldap.hpp"  // ExternalIdentity

namespace lg::server::identity {

/// [auth.cas] in the server config.
struct CasConfig {
  std::string base_url;   ///< e.g. http://cas.example.edu/cas (http:// only for now: see cas_validate)
  bool v3 = true;         ///< validate at /p3/serviceValidate (CAS 3.0, with attributes), else /serviceValidate
  int timeout_ms = 5000;  ///< bounds the whole validation request
};

/// The validation URL: {base}/serviceValidate (v3 false) or {base}/p3/serviceValidate (v3 true)
/// with ?service=...&ticket=..., both percent-encoded (everything but A-Z a-z 0-9 - . _ ~). A
/// trailing '/' on the base is ignored.
std::string cas_validate_url(std::string_view cas_base, std::string_view service, std::string_view ticket, bool v3);

/// Reads a CAS service response (XML in the namespace http://www.yale.edu/tp/cas, any prefix).
///  - <cas:authenticationSuccess>: the identity; login from <cas:user> (trimmed, required); every
///    element under <cas:attributes> (CAS 3.0; also <cas:attribute name= value=/> and attributes
///    placed directly under authenticationSuccess, as some 2.0 servers do) in `attributes` by local
///    name, repeated values joined by "; "; name from cn, displayName or name; mail from mail or
///    email; unit from ou, department or unit; category from employeeType, category,
///    eduPersonPrimaryAffiliation or eduPersonAffiliation (the first present, first value).
///  - <cas:authenticationFailure code="C">text</...>: Errc::unauthorized (HTTP 401) with reason
///    "C: text" (INVALID_TICKET, INVALID_SERVICE, INVALID_REQUEST, ...); code INTERNAL_ERROR is
///    Errc::unavailable (the CAS server's own failure).
///  - anything else (not XML, a DOCTYPE, unknown entity, no serviceResponse, neither success nor
///    failure, an empty user): Errc::unavailable with "the CAS server's answer is not a service
///    response: ..." (the server behind the URL is not answering as a CAS server should).
/// The XML reader is a small one written for this: elements, namespaces, attributes, the five
/// predefined entities and numeric character references, CDATA, comments and processing
/// instructions; DOCTYPE (and so any entity definition) is refused.
Result<ExternalIdentity> parse_service_response(std::string_view xml);

/// Validates ticket for service at the CAS server c: GETs cas_validate_url over HTTP or HTTPS
/// (http_get, server/identity/http_fetch.hpp; an https server's certificate must chain to the
/// system's CAs and name its host) and parses the answer. Errors: an empty ticket is
/// Errc::unauthorized without asking; the server unreachable, silent beyond timeout_ms, failing
/// TLS verification, or answering other than HTTP 200 is Errc::unavailable; otherwise as
/// parse_service_response.
Result<ExternalIdentity> cas_validate(const CasConfig& c, std::string_view service, std::string_view ticket);

}  // namespace lg::server::identity
