// The tiny HTTP interface between the Beast session (http_server.cpp) and the router:
// no Boost types, so the router and its tests compile without Beast.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "server/identity/model.hpp"

namespace lg::server::http {

struct Request {
  std::string method;  ///< "GET", "POST", ...
  std::string target;  ///< as received: "/api/sessions?user=u1"
  std::string path;    ///< decoded path without query: "/api/sessions"
  std::map<std::string, std::string> query;  ///< decoded query parameters (last one wins)
  std::string authorization;                 ///< Authorization header value, "" if absent
  std::string cookie;                        ///< Cookie header value(s), joined by "; ", "" if absent
  std::string csrf_token;                    ///< X-CSRF-Token header value, "" if absent
  std::string content_type;                  ///< Content-Type header value, "" if absent (raw uploads)
  bool tls = false;                          ///< arrived over TLS (cookies are then Secure)
  std::string peer_cn;  ///< over mutual TLS (TlsOptions::client_ca_file): the verified client certificate's CN
  std::string body;
  std::string remote;      ///< the peer's address ("" when not over a socket: tests, local calls)
  std::string request_id;  ///< a fresh uuid7 per request (Api::handle fills it when empty)
  /// Who is calling (Api::handle resolves the bearer token); null means an anonymous visitor.
  std::shared_ptr<const identity::Principal> principal;
  /// Why the bearer token presented was refused ("" when none was, or it was accepted): routes
  /// that need a caller answer 401 with it.
  std::string credential_problem;

  /// The caller, an anonymous one when none was resolved.
  const identity::Principal& who() const;
};

struct Response {
  Response() = default;
  Response(int s, std::string b) : status(s), body(std::move(b)) {}
  int status = 200;
  std::string body;  ///< JSON text
  /// Extra response headers (e.g. Link: <...>; rel="next" on a paged list).
  std::vector<std::pair<std::string, std::string>> headers;
};

/// The session cookie: the session token, HttpOnly (docs/SERVER.md, "HTTPS and web hardening").
inline constexpr std::string_view kSessionCookie = "lg_session";
/// The CSRF cookie: csrf_token() of the session token, readable by the page's script.
inline constexpr std::string_view kCsrfCookie = "lg_csrf";
/// The header a cookie-signed-in write repeats the CSRF cookie in.
inline constexpr std::string_view kCsrfHeader = "X-CSRF-Token";

/// The value of cookie `name` in a Cookie header ("a=1; b=2"), nullopt when absent.
std::optional<std::string> cookie_value(std::string_view cookie_header, std::string_view name);

/// The CSRF token that goes with a session token: hex HMAC-SHA256 keyed by the session token. Any
/// node computes it from the cookie alone; only who can read the session token (the browser,
/// never a script: HttpOnly) or the lg_csrf cookie (same-origin script only) knows it.
std::string csrf_token(std::string_view session_token);

/// True for methods that change nothing (GET, HEAD, OPTIONS): no CSRF check.
bool safe_method(std::string_view method);

/// The Set-Cookie values of a sign-in: the session cookie (HttpOnly) and the CSRF cookie, both
/// SameSite=Strict, Path=/, Max-Age max_age_s, Secure when secure.
std::vector<std::string> session_cookies(std::string_view session_token, int64_t max_age_s, bool secure);

/// The Set-Cookie values that delete both cookies (sign-out).
std::vector<std::string> clearing_cookies(bool secure);

/// Percent-decodes (and '+' -> ' ' when form is true); nullopt on a malformed escape.
std::optional<std::string> url_decode(std::string_view s, bool form);

/// Builds a Request, splitting target into path and query. A malformed escape leaves path
/// empty (the router answers 400).
Request make_request(std::string method, std::string target, std::string authorization, std::string body);

}  // namespace lg::server::http
