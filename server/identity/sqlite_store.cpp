#include "server/identity/sqlite_store.hpp"

#include <array>

#include "server/core/errors.hpp"
#include "server/core/sqlite_util.hpp"
#include "server/identity/rules.hpp"

namespace lg::server::identity {

using namespace sqlite;

namespace {

constexpr std::string_view kV1 = R"sql(
CREATE TABLE accounts (
  user TEXT PRIMARY KEY REFERENCES users(id),
  password_hash TEXT NOT NULL,
  updated_ms INTEGER NOT NULL
);
CREATE TABLE auth_tokens (
  id TEXT PRIMARY KEY,
  user TEXT NOT NULL REFERENCES users(id),
  kind TEXT NOT NULL CHECK (kind IN ('session', 'personal')),
  secret_hash TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL DEFAULT '',
  rights TEXT NOT NULL DEFAULT '',
  created_ms INTEGER NOT NULL,
  expires_ms INTEGER NOT NULL,
  revoked_ms INTEGER,
  last_used_ms INTEGER,
  source TEXT NOT NULL DEFAULT ''
);
CREATE INDEX auth_tokens_by_user ON auth_tokens(user, kind, created_ms);
CREATE TABLE login_throttle (
  key TEXT PRIMARY KEY,
  failures INTEGER NOT NULL,
  first_ms INTEGER NOT NULL,
  locked_until_ms INTEGER NOT NULL
);
CREATE TABLE role_grants (
  id TEXT PRIMARY KEY,
  user TEXT NOT NULL REFERENCES users(id),
  role TEXT NOT NULL CHECK (role IN ('system_admin', 'unit_admin', 'instrument_admin', 'finance', 'pi', 'user')),
  scope TEXT NOT NULL CHECK (scope IN ('site', 'unit', 'instrument', 'group', 'self')),
  scope_id TEXT NOT NULL DEFAULT '',
  granted_by TEXT NOT NULL,
  granted_ms INTEGER NOT NULL,
  revoked_ms INTEGER
);
CREATE UNIQUE INDEX role_grants_one_live ON role_grants(user, role, scope, scope_id) WHERE revoked_ms IS NULL;
CREATE INDEX role_grants_by_user ON role_grants(user);
CREATE TABLE registrations (
  user TEXT PRIMARY KEY REFERENCES users(id),
  unit TEXT NOT NULL REFERENCES units(id),
  applied_ms INTEGER NOT NULL,
  decision TEXT NOT NULL CHECK (decision IN ('pending', 'approved', 'refused')),
  decided_by TEXT NOT NULL DEFAULT '',
  decided_ms INTEGER,
  reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX registrations_by_time ON registrations(applied_ms, user);
)sql";

// The fee review committee (issue 11) may be granted: the role CHECK names it (SQLite cannot alter a
// CHECK: the table is rebuilt with its rows and indexes).
constexpr std::string_view kV2 = R"sql(
CREATE TABLE role_grants_v2 (
  id TEXT PRIMARY KEY,
  user TEXT NOT NULL REFERENCES users(id),
  role TEXT NOT NULL CHECK (role IN ('system_admin', 'unit_admin', 'instrument_admin', 'finance', 'pi', 'user',
                                     'fee_committee')),
  scope TEXT NOT NULL CHECK (scope IN ('site', 'unit', 'instrument', 'group', 'self')),
  scope_id TEXT NOT NULL DEFAULT '',
  granted_by TEXT NOT NULL,
  granted_ms INTEGER NOT NULL,
  revoked_ms INTEGER
);
INSERT INTO role_grants_v2 SELECT id, user, role, scope, scope_id, granted_by, granted_ms, revoked_ms FROM role_grants;
DROP TABLE role_grants;
ALTER TABLE role_grants_v2 RENAME TO role_grants;
CREATE UNIQUE INDEX role_grants_one_live ON role_grants(user, role, scope, scope_id) WHERE revoked_ms IS NULL;
CREATE INDEX role_grants_by_user ON role_grants(user);
)sql";

constexpr std::array<db::Migration, 2> kMigrations{{{1, "accounts, tokens, throttle, role grants, registrations", kV1},
                                                    {2, "the fee_committee role may be granted", kV2}}};

constexpr std::string_view kTokenCols =
    "id, user, kind, secret_hash, name, rights, created_ms, expires_ms, revoked_ms, last_used_ms, source";

Token token_row(db::Statement& r) {
  Token t;
  t.id = r.column_text(0);
  t.user = r.column_text(1);
  t.kind = r.column_text(2) == "personal" ? TokenKind::personal : TokenKind::session;
  t.secret_hash = r.column_text(3);
  t.name = r.column_text(4);
  std::string bad;
  t.rights = rights_from(r.column_text(5), bad).value_or(std::vector<Right>{});
  t.created_ms = r.column_int64(6);
  t.expires_ms = r.column_int64(7);
  t.revoked_ms = opt_int(r, 8);
  t.last_used_ms = opt_int(r, 9);
  t.source = r.column_text(10);
  return t;
}

constexpr std::string_view kGrantCols = "id, user, role, scope, scope_id, granted_by, granted_ms, revoked_ms";

Grant grant_row(db::Statement& r) {
  Grant g;
  g.id = r.column_text(0);
  g.user = r.column_text(1);
  g.role = role_from(r.column_text(2)).value_or(Role::user);
  g.scope = scope_from(r.column_text(3)).value_or(ScopeKind::self);
  g.scope_id = r.column_text(4);
  g.granted_by = r.column_text(5);
  g.granted_ms = r.column_int64(6);
  g.revoked_ms = opt_int(r, 7);
  return g;
}

constexpr std::string_view kRegCols = "user, unit, applied_ms, decision, decided_by, decided_ms, reason";

Decision decision_from(const std::string& s) {
  if (s == "approved") return Decision::approved;
  if (s == "refused") return Decision::refused;
  return Decision::pending;
}

Registration reg_row(db::Statement& r) {
  Registration x;
  x.user = r.column_text(0);
  x.unit = r.column_text(1);
  x.applied_ms = r.column_int64(2);
  x.decision = decision_from(r.column_text(3));
  x.decided_by = r.column_text(4);
  x.decided_ms = opt_int(r, 5);
  x.reason = r.column_text(6);
  return x;
}

/// Runs a one-row query; nullopt when it yields no row.
template <typename T, typename Bind, typename Make>
Result<std::optional<T>> one(db::Database& d, const std::string& sql, Bind&& bind, Make&& make) {
  auto q = d.prepare(sql);
  if (!q) return q.error();
  bind(*q);
  auto row = q->step();
  if (!row) return row.error();
  std::optional<T> out;
  if (*row) out = make(*q);
  q->reset();
  return out;
}

/// The text column of every row of a query with one text parameter.
Result<std::vector<std::string>> texts(db::Database& d, std::string_view sql, const std::string& a) {
  auto q = d.prepare(sql);
  if (!q) return q.error();
  q->bind(1, a);
  std::vector<std::string> out;
  if (auto s = each_row(*q, [&](db::Statement& r) { out.push_back(r.column_text(0)); }); !s) return s.error();
  return out;
}

void append(std::vector<std::string>& to, const std::vector<std::string>& from) {
  for (const auto& x : from)
    if (std::find(to.begin(), to.end(), x) == to.end()) to.push_back(x);
}

}  // namespace

std::span<const db::Migration> migrations() { return kMigrations; }

Status SqliteStore::set_password(const std::string& user, const std::string& phc, int64_t now_ms) {
  return db_.run([&]() -> Status {
    auto& d = db_.conn();
    LG_TRY(require_ref(d, "users", "user", user, "user"));
    auto st = d.prepare(
        "INSERT INTO accounts(user, password_hash, updated_ms) VALUES (?, ?, ?) ON CONFLICT(user) DO UPDATE SET "
        "password_hash = excluded.password_hash, updated_ms = excluded.updated_ms");
    if (!st) return st.error();
    st->bind(1, user).bind(2, phc).bind(3, now_ms);
    return st->run();
  });
}

Result<std::optional<Account>> SqliteStore::account(const std::string& user) {
  return one<Account>(
      db_.conn(), "SELECT user, password_hash, updated_ms FROM accounts WHERE user = ?",
      [&](db::Statement& q) { q.bind(1, user); },
      [](db::Statement& r) { return Account{r.column_text(0), r.column_text(1), r.column_int64(2)}; });
}

Status SqliteStore::add_token(const Token& t) {
  return db_.run([&]() -> Status {
    auto& d = db_.conn();
    LG_TRY(require_ref(d, "users", "user", t.user, "user"));
    auto st = d.prepare("INSERT INTO auth_tokens(" + std::string(kTokenCols) +
                        ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    if (!st) return st.error();
    st->bind(1, t.id).bind(2, t.user).bind(3, to_string(t.kind)).bind(4, t.secret_hash).bind(5, t.name);
    st->bind(6, rights_csv(t.rights)).bind(7, t.created_ms).bind(8, t.expires_ms).bind(9, t.revoked_ms);
    st->bind(10, t.last_used_ms).bind(11, t.source);
    return st->run();
  });
}

Result<std::optional<Token>> SqliteStore::token_where(const std::string& sql, const std::string& a,
                                                      const std::string& b) {
  return one<Token>(
      db_.conn(), "SELECT " + std::string(kTokenCols) + " FROM auth_tokens WHERE " + sql,
      [&](db::Statement& q) {
        q.bind(1, a);
        if (!b.empty()) q.bind(2, b);
      },
      token_row);
}

Result<std::optional<Token>> SqliteStore::token_by_hash(const std::string& secret_hash) {
  return token_where("secret_hash = ?", secret_hash, "");
}

Result<std::vector<Token>> SqliteStore::tokens_of(const std::string& user, TokenKind kind) {
  auto q = db_.conn().prepare("SELECT " + std::string(kTokenCols) +
                              " FROM auth_tokens WHERE user = ? AND kind = ? ORDER BY created_ms DESC, id DESC");
  if (!q) return q.error();
  q->bind(1, user).bind(2, to_string(kind));
  std::vector<Token> out;
  if (auto s = each_row(*q, [&](db::Statement& r) { out.push_back(token_row(r)); }); !s) return s.error();
  return out;
}

Result<Token> SqliteStore::revoke_token(const std::string& user, const std::string& id, int64_t now_ms) {
  Token out;
  auto s = db_.run([&]() -> Status {
    auto got = token_where("user = ? AND id = ?", user, id);
    if (!got) return got.error();
    if (!*got) return domain_error(Errc::not_found, "token: no token '" + id + "'");
    if ((*got)->revoked_ms) return domain_error(Errc::conflict, "token: '" + id + "' is revoked already");
    auto st = db_.conn().prepare("UPDATE auth_tokens SET revoked_ms = ? WHERE id = ?");
    if (!st) return st.error();
    st->bind(1, now_ms).bind(2, id);
    LG_TRY(st->run());
    out = **got;
    out.revoked_ms = now_ms;
    return {};
  });
  if (!s) return s.error();
  return out;
}

Result<int64_t> SqliteStore::revoke_all(const std::string& user, int64_t now_ms) {
  int64_t n = 0;
  auto s = db_.run([&]() -> Status {
    auto st = db_.conn().prepare(
        "UPDATE auth_tokens SET revoked_ms = ? WHERE user = ? AND revoked_ms IS NULL AND expires_ms > ?");
    if (!st) return st.error();
    st->bind(1, now_ms).bind(2, user).bind(3, now_ms);
    LG_TRY(st->run());
    n = db_.conn().changes();
    return {};
  });
  if (!s) return s.error();
  return n;
}

Status SqliteStore::touch_token(const std::string& id, int64_t now_ms) {
  return db_.run([&]() -> Status {
    auto st = db_.conn().prepare(
        "UPDATE auth_tokens SET last_used_ms = ? WHERE id = ? AND (last_used_ms IS NULL OR last_used_ms < ?)");
    if (!st) return st.error();
    st->bind(1, now_ms).bind(2, id).bind(3, now_ms - 60000);
    return st->run();
  });
}

Result<Throttle> SqliteStore::throttle(const std::string& key) {
  auto got = one<Throttle>(
      db_.conn(), "SELECT key, failures, first_ms, locked_until_ms FROM login_throttle WHERE key = ?",
      [&](db::Statement& q) { q.bind(1, key); },
      [](db::Statement& r) { return Throttle{r.column_text(0), r.column_int64(1), r.column_int64(2), r.column_int64(3)}; });
  if (!got) return got.error();
  return got->value_or(Throttle{key, 0, 0, 0});
}

Status SqliteStore::put_throttle(const Throttle& t) {
  return db_.run([&]() -> Status {
    auto st = db_.conn().prepare(
        "INSERT INTO login_throttle(key, failures, first_ms, locked_until_ms) VALUES (?, ?, ?, ?) "
        "ON CONFLICT(key) DO UPDATE SET failures = excluded.failures, first_ms = excluded.first_ms, "
        "locked_until_ms = excluded.locked_until_ms");
    if (!st) return st.error();
    st->bind(1, t.key).bind(2, t.failures).bind(3, t.first_ms).bind(4, t.locked_until_ms);
    return st->run();
  });
}

Status SqliteStore::clear_throttle(const std::string& key) {
  return db_.run([&]() -> Status {
    auto st = db_.conn().prepare("DELETE FROM login_throttle WHERE key = ?");
    if (!st) return st.error();
    st->bind(1, key);
    return st->run();
  });
}

Status SqliteStore::add_grant(const Grant& g) {
  return db_.run([&]() -> Status {
    auto& d = db_.conn();
    LG_TRY(require_ref(d, "users", "user", g.user, "user"));
    switch (g.scope) {
      case ScopeKind::unit:
        LG_TRY(require_ref(d, "units", "scope_id", g.scope_id, "unit"));
        break;
      case ScopeKind::instrument:
        LG_TRY(require_ref(d, "instruments", "scope_id", g.scope_id, "instrument"));
        break;
      case ScopeKind::group:
        LG_TRY(require_ref(d, "research_groups", "scope_id", g.scope_id, "group"));
        break;
      default:
        break;
    }
    auto live = one<std::string>(
        d, "SELECT id FROM role_grants WHERE user = ? AND role = ? AND scope = ? AND scope_id = ? AND revoked_ms IS NULL",
        [&](db::Statement& q) { q.bind(1, g.user).bind(2, to_string(g.role)).bind(3, to_string(g.scope)).bind(4, g.scope_id); },
        [](db::Statement& r) { return r.column_text(0); });
    if (!live) return live.error();
    if (*live) return domain_error(Errc::conflict, "role: " + g.user + " holds it already (grant " + **live + ")");
    auto st = d.prepare("INSERT INTO role_grants(" + std::string(kGrantCols) + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
    if (!st) return st.error();
    st->bind(1, g.id).bind(2, g.user).bind(3, to_string(g.role)).bind(4, to_string(g.scope)).bind(5, g.scope_id);
    st->bind(6, g.granted_by).bind(7, g.granted_ms).bind(8, g.revoked_ms);
    return st->run();
  });
}

Result<std::optional<Grant>> SqliteStore::grant(const std::string& id) {
  return one<Grant>(
      db_.conn(), "SELECT " + std::string(kGrantCols) + " FROM role_grants WHERE id = ?",
      [&](db::Statement& q) { q.bind(1, id); }, grant_row);
}

Result<Grant> SqliteStore::revoke_grant(const std::string& id, int64_t now_ms) {
  Grant out;
  auto s = db_.run([&]() -> Status {
    auto got = grant(id);
    if (!got) return got.error();
    if (!*got) return domain_error(Errc::not_found, "role: no grant '" + id + "'");
    if ((*got)->revoked_ms) return domain_error(Errc::conflict, "role: grant '" + id + "' is revoked already");
    auto st = db_.conn().prepare("UPDATE role_grants SET revoked_ms = ? WHERE id = ?");
    if (!st) return st.error();
    st->bind(1, now_ms).bind(2, id);
    LG_TRY(st->run());
    out = **got;
    out.revoked_ms = now_ms;
    return {};
  });
  if (!s) return s.error();
  return out;
}

Result<std::vector<Grant>> SqliteStore::grants_of(const std::string& user) {
  auto& d = db_.conn();
  std::vector<Grant> out;
  auto status = one<std::string>(
      d, "SELECT status FROM users WHERE id = ?", [&](db::Statement& q) { q.bind(1, user); },
      [](db::Statement& r) { return r.column_text(0); });
  if (!status) return status.error();
  if (!*status || **status != "active") return out;  // only an active user holds anything
  out.push_back(Grant{"", user, Role::user, ScopeKind::self, "", "", 0, std::nullopt});
  auto q = d.prepare("SELECT " + std::string(kGrantCols) + " FROM role_grants WHERE user = ? AND revoked_ms IS NULL ORDER BY id");
  if (!q) return q.error();
  q->bind(1, user);
  if (auto s = each_row(*q, [&](db::Statement& r) { out.push_back(grant_row(r)); }); !s) return s.error();
  auto led = texts(d, "SELECT id FROM research_groups WHERE pi = ? AND retired_ms IS NULL ORDER BY id", user);
  if (!led) return led.error();
  for (const auto& g : *led) out.push_back(Grant{"", user, Role::pi, ScopeKind::group, g, "", 0, std::nullopt});
  return out;
}

Result<PageOf<Grant>> SqliteStore::grants(const Page& p) {
  static constexpr Keyset q{
      "SELECT id, user, role, scope, scope_id, granted_by, granted_ms, revoked_ms, id FROM role_grants WHERE 1", 8,
      "(id)", "s", false, "ORDER BY id"};
  return read_all_page<Grant>(db_.conn(), q, p, grant_row);
}

Status SqliteStore::add_registration(const Registration& r) {
  return db_.run([&]() -> Status {
    auto& d = db_.conn();
    LG_TRY(require_ref(d, "users", "user", r.user, "user"));
    LG_TRY(require_ref(d, "units", "unit", r.unit, "unit"));
    auto got = registration(r.user);
    if (!got) return got.error();
    if (*got) return domain_error(Errc::conflict, "user: '" + r.user + "' has applied already");
    auto st = d.prepare("INSERT INTO registrations(" + std::string(kRegCols) + ") VALUES (?, ?, ?, ?, ?, ?, ?)");
    if (!st) return st.error();
    st->bind(1, r.user).bind(2, r.unit).bind(3, r.applied_ms).bind(4, to_string(r.decision)).bind(5, r.decided_by);
    st->bind(6, r.decided_ms).bind(7, r.reason);
    return st->run();
  });
}

Result<std::optional<Registration>> SqliteStore::registration(const std::string& user) {
  return one<Registration>(
      db_.conn(), "SELECT " + std::string(kRegCols) + " FROM registrations WHERE user = ?",
      [&](db::Statement& q) { q.bind(1, user); }, reg_row);
}

Result<PageOf<Registration>> SqliteStore::registrations(bool pending_only, const Page& p) {
  static constexpr Keyset all{
      "SELECT user, unit, applied_ms, decision, decided_by, decided_ms, reason, applied_ms, user FROM registrations "
      "WHERE 1",
      7, "(applied_ms, user)", "is", false, "ORDER BY applied_ms, user"};
  static constexpr Keyset pending{
      "SELECT user, unit, applied_ms, decision, decided_by, decided_ms, reason, applied_ms, user FROM registrations "
      "WHERE decision = 'pending'",
      7, "(applied_ms, user)", "is", false, "ORDER BY applied_ms, user"};
  return read_all_page<Registration>(db_.conn(), pending_only ? pending : all, p, reg_row);
}

Result<Registration> SqliteStore::decide(const std::string& user, Decision dec, const std::string& by,
                                         const std::string& reason, int64_t now_ms) {
  Registration out;
  auto s = db_.run([&]() -> Status {
    auto got = registration(user);
    if (!got) return got.error();
    if (!*got) return domain_error(Errc::not_found, "registration: no application from '" + user + "'");
    if ((*got)->decision != Decision::pending) {
      return domain_error(Errc::conflict, std::string("registration: '") + user + "' was " +
                                              to_string((*got)->decision) + " already");
    }
    auto st = db_.conn().prepare(
        "UPDATE registrations SET decision = ?, decided_by = ?, decided_ms = ?, reason = ? WHERE user = ?");
    if (!st) return st.error();
    st->bind(1, to_string(dec)).bind(2, by).bind(3, now_ms).bind(4, reason).bind(5, user);
    LG_TRY(st->run());
    out = **got;
    out.decision = dec;
    out.decided_by = by;
    out.decided_ms = now_ms;
    out.reason = reason;
    return {};
  });
  if (!s) return s.error();
  return out;
}

Result<std::vector<std::string>> SqliteStore::chain(const std::string& unit) {
  if (unit.empty()) return std::vector<std::string>{};
  return texts(db_.conn(),
               "WITH RECURSIVE up(id, parent, depth) AS (SELECT id, parent, 0 FROM units WHERE id = ?1 "
               "UNION ALL SELECT u.id, u.parent, up.depth + 1 FROM units u JOIN up ON u.id = up.parent "
               "WHERE up.depth < 64) SELECT id FROM up ORDER BY depth",
               unit);
}

Result<std::vector<std::string>> SqliteStore::subtree(const std::string& unit) {
  return texts(db_.conn(),
               "WITH RECURSIVE down(id, depth) AS (SELECT id, 0 FROM units WHERE id = ?1 "
               "UNION ALL SELECT u.id, down.depth + 1 FROM units u JOIN down ON u.parent = down.id "
               "WHERE down.depth < 64) SELECT id FROM down ORDER BY depth, id",
               unit);
}

Result<std::optional<std::string>> SqliteStore::user_status(const std::string& user) {
  return one<std::string>(
      db_.conn(), "SELECT status FROM users WHERE id = ?", [&](db::Statement& q) { q.bind(1, user); },
      [](db::Statement& r) { return r.column_text(0); });
}

Result<std::optional<Place>> SqliteStore::place(Kind kind, const std::string& id) {
  auto& d = db_.conn();
  auto first = [&](std::string_view sql) -> Result<std::optional<std::string>> {
    return one<std::string>(
        d, std::string(sql), [&](db::Statement& q) { q.bind(1, id); },
        [](db::Statement& r) { return r.column_is_null(0) ? std::string() : r.column_text(0); });
  };
  auto user_place = [&](const std::string& user, Place& p) -> Status {
    auto unit = one<std::string>(
        d, "SELECT unit FROM users WHERE id = ?", [&](db::Statement& q) { q.bind(1, user); },
        [](db::Statement& r) { return r.column_is_null(0) ? std::string() : r.column_text(0); });
    if (!unit) return unit.error();
    if (!*unit) return domain_error(Errc::not_found, "user");
    auto c = chain(**unit);
    if (!c) return c.error();
    append(p.units, *c);
    auto groups = texts(d, "SELECT group_id FROM group_members WHERE user_id = ? ORDER BY group_id", user);
    if (!groups) return groups.error();
    append(p.groups, *groups);
    p.user = user;
    return {};
  };
  auto instrument_place = [&](const std::string& instrument, Place& p) -> Status {
    auto unit = one<std::string>(
        d, "SELECT l.unit FROM instruments i JOIN labs l ON l.id = i.lab WHERE i.id = ?",
        [&](db::Statement& q) { q.bind(1, instrument); }, [](db::Statement& r) { return r.column_text(0); });
    if (!unit) return unit.error();
    if (!*unit) return domain_error(Errc::not_found, "instrument");
    auto c = chain(**unit);
    if (!c) return c.error();
    append(p.units, *c);
    p.instrument = instrument;
    return {};
  };
  Place p;
  Status s;
  switch (kind) {
    case Kind::unit: {
      auto c = chain(id);
      if (!c) return c.error();
      if (c->empty()) return std::optional<Place>();
      p.units = *c;
      p.is_public = true;
      return std::optional<Place>(p);
    }
    case Kind::lab: {
      auto unit = first("SELECT unit FROM labs WHERE id = ?");
      if (!unit) return unit.error();
      if (!*unit) return std::optional<Place>();
      auto c = chain(**unit);
      if (!c) return c.error();
      p.units = *c;
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
      auto owner = first("SELECT user FROM cards WHERE uid = ? ORDER BY rowid_ DESC LIMIT 1");
      if (!owner) return owner.error();
      if (!*owner) return std::optional<Place>();
      s = user_place(**owner, p);
      break;
    }
    case Kind::group: {
      auto unit = first("SELECT unit FROM research_groups WHERE id = ?");
      if (!unit) return unit.error();
      if (!*unit) return std::optional<Place>();
      auto c = chain(**unit);
      if (!c) return c.error();
      p.units = *c;
      p.groups = {id};
      return std::optional<Place>(p);
    }
    case Kind::booking: {
      auto q = d.prepare("SELECT instrument, user FROM bookings WHERE id = ?");
      if (!q) return q.error();
      q->bind(1, id);
      auto row = q->step();
      if (!row) return row.error();
      if (!*row) return std::optional<Place>();
      const std::string instrument = q->column_text(0), user = q->column_text(1);
      q->reset();
      LG_TRY(instrument_place(instrument, p));
      s = user_place(user, p);
      break;
    }
    case Kind::terminal: {
      auto resource = first("SELECT resource FROM terminals WHERE id = ?");
      if (!resource) return resource.error();
      if (!*resource) return std::optional<Place>();
      s = instrument_place(**resource, p);
      break;
    }
    case Kind::registration: {
      auto unit = first("SELECT unit FROM registrations WHERE user = ?");
      if (!unit) return unit.error();
      if (!*unit) return std::optional<Place>();
      auto c = chain(**unit);
      if (!c) return c.error();
      p.units = *c;
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
