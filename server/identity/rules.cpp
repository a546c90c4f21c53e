#include "server/identity/rules.hpp"

#include <algorithm>
#include <array>

#include "server/identity/store.hpp"

namespace lg::server::identity {

namespace {

constexpr std::array<const char*, 7> kRoles{"system_admin", "unit_admin", "instrument_admin", "finance",
                                            "pi",           "user",       "fee_committee"};
constexpr std::array<const char*, 5> kScopes{"site", "unit", "instrument", "group", "self"};
constexpr std::array<const char*, kRightCount> kRights{
    "catalogue",  "self",      "people_read", "people_write", "instrument_write", "booking_write",
    "usage_read", "money_read", "money_write", "audit_read",  "roles_write",      "site",
    "fee_review", "fee_approve", "account_write"};

bool contains(const std::vector<std::string>& v, const std::string& x) {
  return !x.empty() && std::find(v.begin(), v.end(), x) != v.end();
}

bool token_lists(const Principal& who, Right x) {
  return who.token_rights.empty() ||
         std::find(who.token_rights.begin(), who.token_rights.end(), x) != who.token_rights.end();
}

}  // namespace

std::string Principal::actor() const {
  switch (kind) {
    case CallerKind::anonymous:
      return "anonymous";
    case CallerKind::bootstrap:
      return "admin-token";
    case CallerKind::session:
      return "user:" + user;
    case CallerKind::personal:
      return "token:" + token_id + "/" + user;
  }
  return "anonymous";
}

const char* to_string(Kind k) {
  static constexpr std::array<const char*, 9> kKinds{"unit",    "lab",      "instrument", "user",        "card",
                                                     "group",   "booking",  "terminal",   "registration"};
  return kKinds[static_cast<std::size_t>(k)];
}

const char* to_string(Role r) { return kRoles[static_cast<std::size_t>(r)]; }
std::optional<Role> role_from(std::string_view s) {
  for (std::size_t i = 0; i < kRoles.size(); ++i)
    if (s == kRoles[i]) return static_cast<Role>(i);
  return std::nullopt;
}
const char* to_string(ScopeKind k) { return kScopes[static_cast<std::size_t>(k)]; }
std::optional<ScopeKind> scope_from(std::string_view s) {
  for (std::size_t i = 0; i < kScopes.size(); ++i)
    if (s == kScopes[i]) return static_cast<ScopeKind>(i);
  return std::nullopt;
}
const char* to_string(Right r) { return kRights[static_cast<std::size_t>(r)]; }
std::optional<Right> right_from(std::string_view s) {
  for (std::size_t i = 0; i < kRights.size(); ++i)
    if (s == kRights[i]) return static_cast<Right>(i);
  return std::nullopt;
}
const char* to_string(TokenKind k) { return k == TokenKind::session ? "session" : "personal"; }
const char* to_string(Decision d) {
  switch (d) {
    case Decision::pending:
      return "pending";
    case Decision::approved:
      return "approved";
    case Decision::refused:
      return "refused";
  }
  return "pending";
}
std::vector<Right> all_rights() {
  std::vector<Right> out;
  for (int i = 0; i < kRightCount; ++i) out.push_back(static_cast<Right>(i));
  return out;
}

ScopeKind scope_of(Role r) {
  switch (r) {
    case Role::system_admin:
    case Role::fee_committee:
      return ScopeKind::site;
    case Role::unit_admin:
    case Role::finance:
      return ScopeKind::unit;
    case Role::instrument_admin:
      return ScopeKind::instrument;
    case Role::pi:
      return ScopeKind::group;
    case Role::user:
      return ScopeKind::self;
  }
  return ScopeKind::self;
}

std::vector<Right> rights_of(Role r) {
  using enum Right;
  switch (r) {
    case Role::system_admin:
      return all_rights();
    case Role::unit_admin:
      return {catalogue, self, people_read, people_write, instrument_write, booking_write, usage_read, money_read,
              audit_read, roles_write, fee_review};
    case Role::instrument_admin:
      return {catalogue, instrument_write, booking_write, usage_read, audit_read};
    case Role::finance:
      return {catalogue, usage_read, money_read, money_write, audit_read, account_write};
    case Role::pi:
      return {catalogue, self, people_read, booking_write, usage_read, money_read, account_write};
    case Role::user:
      return {catalogue, self, people_read, booking_write, usage_read, money_read};
    case Role::fee_committee:
      return {catalogue, money_read, fee_approve};
  }
  return {};
}

bool gives(Role r, Right x) {
  const auto v = rights_of(r);
  return std::find(v.begin(), v.end(), x) != v.end();
}

bool covers(const Grant& g, const Place& p) {
  switch (g.scope) {
    case ScopeKind::site:
      return true;
    case ScopeKind::unit:
      return contains(p.units, g.scope_id);
    case ScopeKind::instrument:
      return !g.scope_id.empty() && p.instrument == g.scope_id;
    case ScopeKind::group:
      return contains(p.groups, g.scope_id);
    case ScopeKind::self:
      return !g.user.empty() && p.user == g.user;
  }
  return false;
}

bool allows(const Principal& who, Right x, const Place& p) {
  if (x == Right::catalogue && p.is_public) return true;
  if (who.pending || !token_lists(who, x)) return false;
  return std::any_of(who.grants.begin(), who.grants.end(),
                     [&](const Grant& g) { return !g.revoked_ms && gives(g.role, x) && covers(g, p); });
}

bool holds(const Principal& who, Right x) {
  if (x == Right::catalogue) return true;
  if (who.pending || !token_lists(who, x)) return false;
  return std::any_of(who.grants.begin(), who.grants.end(),
                     [&](const Grant& g) { return !g.revoked_ms && gives(g.role, x); });
}

Right read_right(Right x) {
  switch (x) {
    case Right::people_write:
    case Right::roles_write:
      return Right::people_read;
    case Right::money_write:
    case Right::fee_review:
    case Right::fee_approve:
    case Right::account_write:
      return Right::money_read;
    case Right::instrument_write:
      return Right::catalogue;
    default:
      return x;
  }
}

int refusal_status(const Principal& who, Right x, const Place& p) {
  if (p.is_public) return 403;
  return allows(who, read_right(x), p) || allows(who, Right::people_read, p) ? 403 : 404;
}

std::string grant_refusal(const Principal& who, const Grant& g, const Place& scope_place) {
  if (g.scope != scope_of(g.role)) {
    return std::string("role ") + to_string(g.role) + " is granted in a " + to_string(scope_of(g.role)) +
           " scope, not " + to_string(g.scope);
  }
  const bool sysadmin = allows(who, Right::site, Place{});
  if ((g.role == Role::system_admin || g.scope == ScopeKind::site) && !sysadmin) {
    return "only a system admin grants site-wide roles";
  }
  if (!allows(who, Right::roles_write, scope_place)) return "no right to grant roles in this scope";
  return "";
}

ThrottleLimits account_limits() { return ThrottleLimits{}; }
ThrottleLimits address_limits() {
  ThrottleLimits l;
  l.max_failures = 20;
  return l;
}

std::optional<int64_t> retry_after_s(const Throttle& t, int64_t now_ms) {
  if (t.locked_until_ms <= now_ms) return std::nullopt;
  return (t.locked_until_ms - now_ms + 999) / 1000;
}

Throttle after_failure(Throttle t, int64_t now_ms, const ThrottleLimits& l) {
  if (t.failures == 0 || now_ms - t.first_ms > l.window_ms) {
    // A new window, unless the key is still locked (then the count goes on).
    if (t.locked_until_ms <= now_ms) {
      t.failures = 0;
      t.first_ms = now_ms;
    }
  }
  ++t.failures;
  if (t.failures >= l.max_failures) {
    const int64_t over = std::min<int64_t>(t.failures - l.max_failures, 20);
    const int64_t lock = std::min(l.max_lock_ms, l.lock_ms << over);
    t.locked_until_ms = now_ms + lock;
  }
  return t;
}

std::string token_prefix(TokenKind k) { return k == TokenKind::session ? "lgs_" : "lgp_"; }

bool token_shaped(std::string_view text) {
  if (text.size() != 4 + 43) return false;
  if (text.substr(0, 4) != "lgs_" && text.substr(0, 4) != "lgp_") return false;
  for (char c : text.substr(4)) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

std::string token_refusal(const Token& t, int64_t now_ms) {
  if (t.revoked_ms) return "revoked";
  if (t.expires_ms <= now_ms) return "expired";
  return "";
}

std::optional<std::vector<Right>> rights_from(std::string_view csv, std::string& bad) {
  std::vector<Right> out;
  while (!csv.empty()) {
    const auto comma = csv.find(',');
    std::string_view name = csv.substr(0, comma);
    csv = comma == std::string_view::npos ? std::string_view() : csv.substr(comma + 1);
    while (!name.empty() && name.front() == ' ') name.remove_prefix(1);
    while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
    if (name.empty()) continue;
    auto r = right_from(name);
    if (!r) {
      bad = std::string(name);
      return std::nullopt;
    }
    if (std::find(out.begin(), out.end(), *r) == out.end()) out.push_back(*r);
  }
  return out;
}

std::string campus_category(std::string_view value) {
  std::string v(value);
  for (char& c : v) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  for (const char* own : {"internal_student", "internal_staff", "other_campus", "external_academic", "enterprise"})
    if (v == own) return v;
  for (const char* s : {"student", "undergraduate", "graduate", "postgraduate", "phd"})
    if (v == s) return "internal_student";
  for (const char* s : {"staff", "faculty", "teacher", "employee"})
    if (v == s) return "internal_staff";
  return "";
}

std::string rights_csv(const std::vector<Right>& rights) {
  std::string out;
  for (Right r : rights) {
    if (!out.empty()) out += ',';
    out += to_string(r);
  }
  return out;
}

}  // namespace lg::server::identity
