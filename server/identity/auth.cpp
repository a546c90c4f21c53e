#include "server/identity/auth.hpp"

#include "labgate/common/crypto.hpp"
#include "server/identity/rules.hpp"

namespace lg::server::identity {

namespace {

/// base64url without padding.
std::string b64url(std::string_view bytes) {
  std::string s = crypto::base64_encode(bytes);
  while (!s.empty() && s.back() == '=') s.pop_back();
  for (char& c : s) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return s;
}

}  // namespace

std::string secret_hash(std::string_view secret) { return crypto::sha256_hex(secret); }

Issued issue(TokenKind kind, const std::string& user, std::string name, std::vector<Right> rights, int64_t now_ms,
             int64_t ttl_ms, std::string source) {
  Issued out;
  out.secret = token_prefix(kind) + b64url(crypto::random_bytes(32));
  out.token.id = crypto::uuid7();
  out.token.user = user;
  out.token.kind = kind;
  out.token.secret_hash = secret_hash(out.secret);
  out.token.name = std::move(name);
  out.token.rights = std::move(rights);
  out.token.created_ms = now_ms;
  out.token.expires_ms = now_ms + ttl_ms;
  out.token.source = std::move(source);
  return out;
}

Result<Principal> principal_of(Store& store, const std::string& user, CallerKind kind, const std::string& token_id) {
  Principal p;
  p.kind = kind;
  p.user = user;
  p.token_id = token_id;
  auto status = store.user_status(user);
  if (!status) return status.error();
  p.pending = *status && **status == "pending";
  auto grants = store.grants_of(user);
  if (!grants) return grants.error();
  p.grants = std::move(*grants);
  return p;
}

Credential resolve(Store& store, std::string_view authorization, std::string_view bootstrap_token, int64_t now_ms) {
  Credential out;
  if (authorization.empty()) return out;
  static constexpr std::string_view kPrefix = "Bearer ";
  if (authorization.substr(0, kPrefix.size()) != kPrefix) {
    out.problem = "Authorization must be 'Bearer <token>'";
    return out;
  }
  const std::string_view given = authorization.substr(kPrefix.size());
  if (!bootstrap_token.empty() && crypto::equal_constant_time(crypto::sha256_hex(given), crypto::sha256_hex(bootstrap_token))) {
    auto p = std::make_shared<Principal>();
    p->kind = CallerKind::bootstrap;
    p->grants.push_back(Grant{"", "", Role::system_admin, ScopeKind::site, "", "", 0, std::nullopt});
    out.principal = std::move(p);
    return out;
  }
  if (!token_shaped(given)) {
    out.problem = "wrong bearer token";
    return out;
  }
  auto t = store.token_by_hash(secret_hash(given));
  if (!t) {
    out.unavailable = true;
    out.problem = "cannot check the token now: " + t.error().message();
    return out;
  }
  if (!*t) {
    out.problem = "wrong bearer token";
    return out;
  }
  const Token& tok = **t;
  if (auto why = token_refusal(tok, now_ms); !why.empty()) {
    out.problem = "token " + why;
    return out;
  }
  auto status = store.user_status(tok.user);
  if (!status || !*status) {
    out.problem = "token of an unknown user";
    return out;
  }
  if (**status == "suspended" || **status == "left") {
    out.problem = "account " + **status;
    return out;
  }
  auto p = principal_of(store, tok.user, tok.kind == TokenKind::session ? CallerKind::session : CallerKind::personal,
                        tok.id);
  if (!p) {
    out.unavailable = true;
    out.problem = "cannot check the token now: " + p.error().message();
    return out;
  }
  p->token_rights = tok.rights;
  (void)store.touch_token(tok.id, now_ms);  // best effort: a failed touch refuses nothing
  out.principal = std::make_shared<Principal>(std::move(*p));
  return out;
}

}  // namespace lg::server::identity
