#include "server/transport/http/request.hpp"

#include "labgate/common/crypto.hpp"

namespace lg::server::http {

namespace {
int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

std::optional<std::string> url_decode(std::string_view s, bool form) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      const int hi = hex(s[i + 1]);
      const int lo = hex(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && form) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

Request make_request(std::string method, std::string target, std::string authorization, std::string body) {
  Request r;
  r.method = std::move(method);
  r.target = std::move(target);
  r.authorization = std::move(authorization);
  r.body = std::move(body);
  const std::string_view t = r.target;
  const auto q = t.find('?');
  auto path = url_decode(t.substr(0, q), false);
  if (!path) return r;
  r.path = *path;
  if (q == std::string_view::npos) return r;
  std::string_view rest = t.substr(q + 1);
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    auto key = url_decode(pair.substr(0, eq), true);
    auto value = url_decode(eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1), true);
    if (!key || !value) {
      r.path.clear();
      return r;
    }
    r.query[*key] = *value;
  }
  return r;
}

std::optional<std::string> cookie_value(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    const auto semi = header.find(';');
    std::string_view pair = header.substr(0, semi);
    header = semi == std::string_view::npos ? std::string_view{} : header.substr(semi + 1);
    while (!pair.empty() && (pair.front() == ' ' || pair.front() == '\t')) pair.remove_prefix(1);
    while (!pair.empty() && (pair.back() == ' ' || pair.back() == '\t')) pair.remove_suffix(1);
    const auto eq = pair.find('=');
    if (eq == std::string_view::npos || pair.substr(0, eq) != name) continue;
    std::string_view value = pair.substr(eq + 1);
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
    return std::string(value);
  }
  return std::nullopt;
}

std::string csrf_token(std::string_view session_token) {
  const crypto::Digest d = crypto::hmac_sha256(session_token, "labgate csrf v1");
  return crypto::to_hex(std::string_view(reinterpret_cast<const char*>(d.data()), d.size()));
}

bool safe_method(std::string_view method) { return method == "GET" || method == "HEAD" || method == "OPTIONS"; }

namespace {
std::string cookie(std::string_view name, std::string_view value, int64_t max_age_s, bool http_only, bool secure) {
  std::string c = std::string(name) + "=" + std::string(value) + "; Path=/; Max-Age=" + std::to_string(max_age_s) +
                  "; SameSite=Strict";
  if (http_only) c += "; HttpOnly";
  if (secure) c += "; Secure";
  return c;
}
}  // namespace

std::vector<std::string> session_cookies(std::string_view session_token, int64_t max_age_s, bool secure) {
  return {cookie(kSessionCookie, session_token, max_age_s, true, secure),
          cookie(kCsrfCookie, csrf_token(session_token), max_age_s, false, secure)};
}

std::vector<std::string> clearing_cookies(bool secure) {
  return {cookie(kSessionCookie, "", 0, true, secure), cookie(kCsrfCookie, "", 0, false, secure)};
}

const identity::Principal& Request::who() const {
  static const identity::Principal kAnonymous{};
  return principal ? *principal : kAnonymous;
}

}  // namespace lg::server::http
