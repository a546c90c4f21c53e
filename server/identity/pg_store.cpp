#include "server/identity/pg_store.hpp"

#include <algorithm>
#include <array>

#include "server/core/errors.hpp"
#include "server/core/pg_util.hpp"
#include "server/identity/rules.hpp"

namespace lg::server::identity {

using namespace pgsql;

namespace {

constexpr std::string_view kV1 = R"sql(
CREATE TABLE accounts (
  user_id TEXT PRIMARY KEY REFERENCES users(id),
  password_hash TEXT NOT NULL,
  updated_ms BIGINT NOT NULL
);
CREATE TABLE auth_tokens (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users(id),
  kind TEXT NOT NULL CHECK (kind IN ('session', 'personal')),
  secret_hash TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL DEFAULT '',
  rights TEXT NOT NULL DEFAULT '',
  created_ms BIGINT NOT NULL,
  expires_ms BIGINT NOT NULL,
  revoked_ms BIGINT,
  last_used_ms BIGINT,
  source TEXT NOT NULL DEFAULT ''
);
CREATE INDEX auth_tokens_by_user ON auth_tokens(user_id, kind, created_ms);
CREATE TABLE login_throttle (
  key TEXT PRIMARY KEY,
  failures BIGINT NOT NULL,
  first_ms BIGINT NOT NULL,
  locked_until_ms BIGINT NOT NULL
);
CREATE TABLE role_grants (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users(id),
  role TEXT NOT NULL CHECK (role IN ('system_admin', 'unit_admin', 'instrument_admin', 'finance', 'pi', 'user')),
  scope TEXT NOT NULL CHECK (scope IN ('site', 'unit', 'instrument', 'group', 'self')),
  scope_id TEXT NOT NULL DEFAULT '',
  granted_by TEXT NOT NULL,
  granted_ms BIGINT NOT NULL,
  revoked_ms BIGINT
);
CREATE UNIQUE INDEX role_grants_one_live ON role_grants(user_id, role, scope, scope_id) WHERE revoked_ms IS NULL;
CREATE INDEX role_grants_by_user ON role_grants(user_id);
CREATE TABLE registrations (
  user_id TEXT PRIMARY KEY REFERENCES users(id),
  unit TEXT NOT NULL REFERENCES units(id),
  applied_ms BIGINT NOT NULL,
  decision TEXT NOT NULL CHECK (decision IN ('pending', 'approved', 'refused')),
  decided_by TEXT NOT NULL DEFAULT '',
  decided_ms BIGINT,
  reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX registrations_by_time ON registrations(applied_ms, user_id);
)sql";

// The fee review committee (issue 11) may be granted.
constexpr std::string_view kV2 = R"sql(
ALTER TABLE role_grants DROP CONSTRAINT role_grants_role_check;
ALTER TABLE role_grants ADD CONSTRAINT role_grants_role_check
  CHECK (role IN ('system_admin', 'unit_admin', 'instrument_admin', 'finance', 'pi', 'user', 'fee_committee'));
)sql";

constexpr std::array<db::Migration, 2> kMigrations{{{1, "accounts, tokens, throttle, role grants, registrations", kV1},
                                                    {2, "the fee_committee role may be granted", kV2}}};

constexpr std::string_view kTokenCols =
    "id, user_id, kind, secret_hash, name, rights, created_ms, expires_ms, revoked_ms, last_used_ms, source";

Token token_row(const pg::Rows& r, int i) {
  Token t;
  t.id = r.text(i, 0);
  t.user = r.text(i, 1);
  t.kind = r.text(i, 2) == "personal" ? TokenKind::personal : TokenKind::session;
  t.secret_hash = r.text(i, 3);
  t.name = r.text(i, 4);
  std::string bad;
  t.rights = rights_from(r.text(i, 5), bad).value_or(std::vector<Right>{});
  t.created_ms = r.i64(i, 6);
  t.expires_ms = r.i64(i, 7);
  t.revoked_ms = r.opt_i64(i, 8);
  t.last_used_ms = r.opt_i64(i, 9);
  t.source = r.text(i, 10);
  return t;
}

constexpr std::string_view kGrantCols = "id, user_id, role, scope, scope_id, granted_by, granted_ms, revoked_ms";

Grant grant_row(const pg::Rows& r, int i) {
  Grant g;
  g.id = r.text(i, 0);
  g.user = r.text(i, 1);
  g.role = role_from(r.text(i, 2)).value_or(Role::user);
  g.scope = scope_from(r.text(i, 3)).value_or(ScopeKind::self);
  g.scope_id = r.text(i, 4);
  g.granted_by = r.text(i, 5);
  g.granted_ms = r.i64(i, 6);
  g.revoked_ms = r.opt_i64(i, 7);
  return g;
}

constexpr std::string_view kRegCols = "user_id, unit, applied_ms, decision, decided_by, decided_ms, reason";

Registration reg_row(const pg::Rows& r, int i) {
  Registration x;
  x.user = r.text(i, 0);
  x.unit = r.text(i, 1);
  x.applied_ms = r.i64(i, 2);
  const std::string d = r.text(i, 3);
  x.decision = d == "approved" ? Decision::approved : d == "refused" ? Decision::refused : Decision::pending;
  x.decided_by = r.text(i, 4);
  x.decided_ms = r.opt_i64(i, 5);
  x.reason = r.text(i, 6);
  return x;
}

/// The first column of every row as text ("" for NULL).
std::vector<std::string> texts(const pg::Rows& r) {
  std::vector<std::string> out;
  for (int i = 0; i < r.size(); ++i) out.push_back(r.null(i, 0) ? std::string() : r.text(i, 0));
  return out;
}

void append(std::vector<std::string>& to, const std::vector<std::string>& from) {
  for (const auto& x : from)
    if (std::find(to.begin(), to.end(), x) == to.end()) to.push_back(x);
}

}  // namespace

std::span<const db::Migration> pg_migrations() { return kMigrations; }

Status PgStore::set_password(const std::string& user, const std::string& phc, int64_t now_ms) {
  return db_.run([&]() -> Status {
    auto& c = db_.conn();
    LG_TRY(require_ref(c, "users", "user", user, "user"));
    return done(c.q("INSERT INTO accounts(user_id, password_hash, updated_ms) VALUES ($1, $2, $3) "
                    "ON CONFLICT (user_id) DO UPDATE SET password_hash = excluded.password_hash, "
                    "updated_ms = excluded.updated_ms",
                    user, phc, now_ms));
  });
}

Result<std::optional<Account>> PgStore::account(const std::string& user) {
  auto r = db_.conn().q("SELECT user_id, password_hash, updated_ms FROM accounts WHERE user_id = $1", user);
  if (!r) return r.error();
  std::optional<Account> out;
  if (!r->empty()) out = Account{r->text(0, 0), r->text(0, 1), r->i64(0, 2)};
  return out;
}

Status PgStore::add_token(const Token& t) {
  return db_.run([&]() -> Status {
    auto& c = db_.conn();
    LG_TRY(require_ref(c, "users", "user", t.user, "user"));
    return done(c.q("INSERT INTO auth_tokens(" + std::string(kTokenCols) +
                        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                    t.id, t.user, to_string(t.kind), t.secret_hash, t.name, rights_csv(t.rights), t.created_ms,
                    t.expires_ms, t.revoked_ms, t.last_used_ms, t.source));
  });
}

Result<std::optional<Token>> PgStore::token_where(const std::string& sql, const std::string& a, const std::string& b) {
  const std::string text = "SELECT " + std::string(kTokenCols) + " FROM auth_tokens WHERE " + sql;
  auto r = b.empty() ? db_.conn().q(text, a) : db_.conn().q(text, a, b);
  if (!r) return r.error();
  std::optional<Token> out;
  if (!r->empty()) out = token_row(*r, 0);
  return out;
}

Result<std::optional<Token>> PgStore::token_by_hash(const std::string& secret_hash) {
  return token_where("secret_hash = $1", secret_hash, "");
}

Result<std::vector<Token>> PgStore::tokens_of(const std::string& user, TokenKind kind) {
  auto r = db_.conn().q("SELECT " + std::string(kTokenCols) +
                            " FROM auth_tokens WHERE user_id = $1 AND kind = $2 ORDER BY created_ms DESC, id DESC",
                        user, to_string(kind));
  if (!r) return r.error();
  std::vector<Token> out;
  for (int i = 0; i < r->size(); ++i) out.push_back(token_row(*r, i));
  return out;
}

Result<Token> PgStore::revoke_token(const std::string& user, const std::string& id, int64_t now_ms) {
  Token out;
  auto s = db_.run([&]() -> Status {
    auto got = token_where("user_id = $1 AND id = $2", user, id);
    if (!got) return got.error();
    if (!*got) return domain_error(Errc::not_found, "token: no token '" + id + "'");
    if ((*got)->revoked_ms) return domain_error(Errc::conflict, "token: '" + id + "' is revoked already");
    LG_TRY(done(db_.conn().q("UPDATE auth_tokens SET revoked_ms = $1 WHERE id = $2", now_ms, id)));
    out = **got;
    out.revoked_ms = now_ms;
    return {};
  });
  if (!s) return s.error();
  return out;
}

Result<int64_t> PgStore::revoke_all(const std::string& user, int64_t now_ms) {
  int64_t n = 0;
  auto s = db_.run([&]() -> Status {
    auto r = db_.conn().q(
        "UPDATE auth_tokens SET revoked_ms = $1 WHERE user_id = $2 AND revoked_ms IS NULL AND expires_ms > $1 "
        "RETURNING id",
        now_ms, user);
    if (!r) return r.error();
    n = r->size();
    return {};
  });
  if (!s) return s.error();
  return n;
}

Status PgStore::touch_token(const std::string& id, int64_t now_ms) {
  return db_.run([&]() -> Status {
    return done(db_.conn().q(
        "UPDATE auth_tokens SET last_used_ms = $1 WHERE id = $2 AND (last_used_ms IS NULL OR last_used_ms < $3)",
        now_ms, id, now_ms - 60000));
  });
}

Result<Throttle> PgStore::throttle(const std::string& key) {
  auto r = db_.conn().q("SELECT key, failures, first_ms, locked_until_ms FROM login_throttle WHERE key = $1", key);
  if (!r) return r.error();
  if (r->empty()) return Throttle{key, 0, 0, 0};
  return Throttle{r->text(0, 0), r->i64(0, 1), r->i64(0, 2), r->i64(0, 3)};
}

Status PgStore::put_throttle(const Throttle& t) {
  return db_.run([&]() -> Status {
    return done(db_.conn().q(
        "INSERT INTO login_throttle(key, failures, first_ms, locked_until_ms) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (key) DO UPDATE SET failures = excluded.failures, first_ms = excluded.first_ms, "
        "locked_until_ms = excluded.locked_until_ms",
        t.key, t.failures, t.first_ms, t.locked_until_ms));
  });
}

Status PgStore::clear_throttle(const std::string& key) {
  return db_.run([&]() -> Status { return done(db_.conn().q("DELETE FROM login_throttle WHERE key = $1", key)); });
}

Status PgStore::add_grant(const Grant& g) {
  return db_.run([&]() -> Status {
    auto& c = db_.conn();
    LG_TRY(require_ref(c, "users", "user", g.user, "user"));
    switch (g.scope) {
      case ScopeKind::unit:
        LG_TRY(require_ref(c, "units", "scope_id", g.scope_id, "unit"));
        break;
      case ScopeKind::instrument:
        LG_TRY(require_ref(c, "instruments", "scope_id", g.scope_id, "instrument"));
        break;
      case ScopeKind::group:
        LG_TRY(require_ref(c, "research_groups", "scope_id", g.scope_id, "group"));
        break;
      default:
        break;
    }
    auto live = c.q(
        "SELECT id FROM role_grants WHERE user_id = $1 AND role = $2 AND scope = $3 AND scope_id = $4 "
        "AND revoked_ms IS NULL",
        g.user, to_string(g.role), to_string(g.scope), g.scope_id);
    if (!live) return live.error();
    if (!live->empty()) {
      return domain_error(Errc::conflict, "role: " + g.user + " holds it already (grant " + live->text(0, 0) + ")");
    }
    auto r = c.q("INSERT INTO role_grants(" + std::string(kGrantCols) + ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                 g.id, g.user, to_string(g.role), to_string(g.scope), g.scope_id, g.granted_by, g.granted_ms,
                 g.revoked_ms);
    if (!r && pg::is_unique_violation(r.error())) return domain_error(Errc::conflict, "role: " + g.user + " holds it already");
    return done(r);
  });
}

Result<std::optional<Grant>> PgStore::grant(const std::string& id) {
  auto r = db_.conn().q("SELECT " + std::string(kGrantCols) + " FROM role_grants WHERE id = $1", id);
  if (!r) return r.error();
  std::optional<Grant> out;
  if (!r->empty()) out = grant_row(*r, 0);
  return out;
}

Result<Grant> PgStore::revoke_grant(const std::string& id, int64_t now_ms) {
  Grant out;
  auto s = db_.run([&]() -> Status {
    auto got = grant(id);
    if (!got) return got.error();
    if (!*got) return domain_error(Errc::not_found, "role: no grant '" + id + "'");
    if ((*got)->revoked_ms) return domain_error(Errc::conflict, "role: grant '" + id + "' is revoked already");
    LG_TRY(done(db_.conn().q("UPDATE role_grants SET revoked_ms = $1 WHERE id = $2", now_ms, id)));
    out = **got;
    out.revoked_ms = now_ms;
    return {};
  });
  if (!s) return s.error();
  return out;
}

Result<std::vector<Grant>> PgStore::grants_of(const std::string& user) {
  auto& c = db_.conn();
  std::vector<Grant> out;
  auto st = c.q("SELECT status FROM users WHERE id = $1", user);
  if (!st) return st.error();
  if (st->empty() || st->text(0, 0) != "active") return out;
  out.push_back(Grant{"", user, Role::user, ScopeKind::self, "", "", 0, std::nullopt});
  auto r = c.q("SELECT " + std::string(kGrantCols) + " FROM role_grants WHERE user_id = $1 AND revoked_ms IS NULL ORDER BY id",
               user);
  if (!r) return r.error();
  for (int i = 0; i < r->size(); ++i) out.push_back(grant_row(*r, i));
  auto led = c.q("SELECT id FROM research_groups WHERE pi = $1 AND retired_ms IS NULL ORDER BY id", user);
  if (!led) return led.error();
  for (const auto& g : texts(*led)) out.push_back(Grant{"", user, Role::pi, ScopeKind::group, g, "", 0, std::nullopt});
  return out;
}

Result<PageOf<Grant>> PgStore::grants(const Page& p) {
  static constexpr Keyset q{
      "SELECT id, user_id, role, scope, scope_id, granted_by, granted_ms, revoked_ms, id FROM role_grants WHERE true",
      8, "(id)", "s", false, "ORDER BY id"};
  return read_all_page<Grant>(db_.conn(), q, p, grant_row);
}

Status PgStore::add_registration(const Registration& r) {
  return db_.run([&]() -> Status {
    auto& c = db_.conn();
    LG_TRY(require_ref(c, "users", "user", r.user, "user"));
    LG_TRY(require_ref(c, "units", "unit", r.unit, "unit"));
    auto got = registration(r.user);
    if (!got) return got.error();
    if (*got) return domain_error(Errc::conflict, "user: '" + r.user + "' has applied already");
    return done(c.q("INSERT INTO registrations(" + std::string(kRegCols) + ") VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    r.user, r.unit, r.applied_ms, to_string(r.decision), r.decided_by, r.decided_ms, r.reason));
  });
}

Result<std::optional<Registration>> PgStore::registration(const std::string& user) {
  auto r = db_.conn().q("SELECT " + std::string(kRegCols) + " FROM registrations WHERE user_id = $1", user);
  if (!r) return r.error();
  std::optional<Registration> out;
  if (!r->empty()) out = reg_row(*r, 0);
  return out;
}

Result<PageOf<Registration>> PgStore::registrations(bool pending_only, const Page& p) {
  static constexpr Keyset all{
      "SELECT user_id, unit, applied_ms, decision, decided_by, decided_ms, reason, applied_ms, user_id "
      "FROM registrations WHERE true",
      7, "(applied_ms, user_id)", "is", false, "ORDER BY applied_ms, user_id"};
  static constexpr Keyset pending{
      "SELECT user_id, unit, applied_ms, decision, decided_by, decided_ms, reason, applied_ms, user_id "
      "FROM registrations WHERE decision = 'pending'",
      7, "(applied_ms, user_id)", "is", false, "ORDER BY applied_ms, user_id"};
  return read_all_page<Registration>(db_.conn(), pending_only ? pending : all, p, reg_row);
}

Result<Registration> PgStore::decide(const std::string& user, Decision dec, const std::string& by,
                                     const std::string& reason, int64_t now_ms) {
  Registration out;
  auto s = db_.run([&]() -> Status {
    auto r = db_.conn().q("SELECT " + std::string(kRegCols) + " FROM registrations WHERE user_id = $1 FOR UPDATE", user);
    if (!r) return r.error();
    if (r->empty()) return domain_error(Errc::not_found, "registration: no application from '" + user + "'");
    Registration got = reg_row(*r, 0);
    if (got.decision != Decision::pending) {
      return domain_error(Errc::conflict,
                          std::string("registration: '") + user + "' was " + to_string(got.decision) + " already");
    }
    LG_TRY(done(db_.conn().q(
        "UPDATE registrations SET decision = $1, decided_by = $2, decided_ms = $3, reason = $4 WHERE user_id = $5",
        to_string(dec), by, now_ms, reason, user)));
    out = got;
    out.decision = dec;
    out.decided_by = by;
    out.decided_ms = now_ms;
    out.reason = reason;
    return {};
  });
  if (!s) return s.error();
  return out;
}

Result<std::vector<std::string>> PgStore::chain(const std::string& unit) {
  if (unit.empty()) return std::vector<std::string>{};
  auto r = db_.conn().q(
      "WITH RECURSIVE up(id, parent, depth) AS (SELECT id, parent, 0 FROM units WHERE id = $1 "
      "UNION ALL SELECT u.id, u.parent, up.depth + 1 FROM units u JOIN up ON u.id = up.parent "
      "WHERE up.depth < 64) SELECT id FROM up ORDER BY depth",
      unit);
  if (!r) return r.error();
  return texts(*r);
}

Result<std::vector<std::string>> PgStore::subtree(const std::string& unit) {
  auto r = db_.conn().q(
      "WITH RECURSIVE down(id, depth) AS (SELECT id, 0 FROM units WHERE id = $1 "
      "UNION ALL SELECT u.id, down.depth + 1 FROM units u JOIN down ON u.parent = down.id "
      "WHERE down.depth < 64) SELECT id FROM down ORDER BY depth, id",
      unit);
  if (!r) return r.error();
  return texts(*r);
}

Result<std::optional<std::string>> PgStore::user_status(const std::string& user) {
  auto r = db_.conn().q("SELECT status FROM users WHERE id = $1", user);
  if (!r) return r.error();
  std::optional<std::string> out;
  if (!r->empty()) out = r->text(0, 0);
  return out;
}

Result<std::optional<Place>> PgStore::place(Kind kind, const std::string& id) {
  auto& c = db_.conn();
  // The first column of the first row, nullopt when there is none ("" for NULL).
  auto first = [&](std::string_view sql, const std::string& arg) -> Result<std::optional<std::string>> {
    auto r = c.q(sql, arg);
    if (!r) return r.error();
    if (r->empty()) return std::optional<std::string>();
    return std::optional<std::string>(r->null(0, 0) ? std::string() : r->text(0, 0));
  };
  auto user_place = [&](const std::string& user, Place& p) -> Status {
    auto unit = first("SELECT unit FROM users WHERE id = $1", user);
    if (!unit) return unit.error();
    if (!*unit) return domain_error(Errc::not_found, "user");
    auto ch = chain(**unit);
    if (!ch) return ch.error();
    append(p.units, *ch);
    auto groups = c.q("SELECT group_id FROM group_members WHERE user_id = $1 ORDER BY group_id", user);
    if (!groups) return groups.error();
    append(p.groups, texts(*groups));
    p.user = user;
    return {};
  };
  auto instrument_place = [&](const std::string& instrument, Place& p) -> Status {
    auto unit = first("SELECT l.unit FROM instruments i JOIN labs l ON l.id = i.lab WHERE i.id = $1", instrument);
    if (!unit) return unit.error();
    if (!*unit) return domain_error(Errc::not_found, "instrument");
    auto ch = chain(**unit);
    if (!ch) return ch.error();
    append(p.units, *ch);
    p.instrument = instrument;
    return {};
  };
  auto unit_of = [&](std::string_view sql, Place& p) -> Result<bool> {
    auto unit = first(sql, id);
    if (!unit) return unit.error();
    if (!*unit) return false;
    auto ch = chain(**unit);
    if (!ch) return ch.error();
    append(p.units, *ch);
    return true;
  };
  Place p;
  Status s;
  switch (kind) {
    case Kind::unit: {
      auto ch = chain(id);
      if (!ch) return ch.error();
      if (ch->empty()) return std::optional<Place>();
      p.units = *ch;
      p.is_public = true;
      return std::optional<Place>(p);
    }
    case Kind::lab: {
      auto found = unit_of("SELECT unit FROM labs WHERE id = $1", p);
      if (!found) return found.error();
      if (!*found) return std::optional<Place>();
      p.is_public = true;
      return std::optional<Place>(p);
    }
    case Kind::instrument:
      s = instrument_place(id, p);
      p.is_public = true;
      break;
    case Kind::user:
      s = user_place(id, p);
      break;
    case Kind::card: {
      auto owner = first("SELECT user_id FROM cards WHERE uid = $1 ORDER BY row_id DESC LIMIT 1", id);
      if (!owner) return owner.error();
      if (!*owner) return std::optional<Place>();
      s = user_place(**owner, p);
      break;
    }
    case Kind::group: {
      auto found = unit_of("SELECT unit FROM research_groups WHERE id = $1", p);
      if (!found) return found.error();
      if (!*found) return std::optional<Place>();
      p.groups = {id};
      return std::optional<Place>(p);
    }
    case Kind::booking: {
      auto r = c.q("SELECT instrument, user_id FROM bookings WHERE id = $1", id);
      if (!r) return r.error();
      if (r->empty()) return std::optional<Place>();
      const std::string instrument = r->text(0, 0), user = r->text(0, 1);
      LG_TRY(instrument_place(instrument, p));
      s = user_place(user, p);
      break;
    }
    case Kind::terminal: {
      auto resource = first("SELECT resource FROM terminals WHERE id = $1", id);
      if (!resource) return resource.error();
      if (!*resource) return std::optional<Place>();
      s = instrument_place(**resource, p);
      break;
    }
    case Kind::registration: {
      auto found = unit_of("SELECT unit FROM registrations WHERE user_id = $1", p);
      if (!found) return found.error();
      if (!*found) return std::optional<Place>();
      s = user_place(id, p);
      break;
    }
  }
  if (!s) {
    if (is(s.error(), Errc::not_found)) return std::optional<Place>();
    return s.error();
  }
  return std::optional<Place>(p);
}

}  // namespace lg::server::identity
