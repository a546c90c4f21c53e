#include "server/directory/sqlite_store.hpp"

#include <array>
#include <map>

#include "server/core/sqlite_util.hpp"
#include "server/directory/rules.hpp"

namespace lg::server::directory {

using namespace sqlite;

namespace {

constexpr std::string_view kV1 = R"sql(
CREATE TABLE units (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  parent TEXT REFERENCES units(id),
  created_ms INTEGER NOT NULL
);
CREATE TABLE labs (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  unit TEXT NOT NULL REFERENCES units(id),
  created_ms INTEGER NOT NULL
);
CREATE TABLE instruments (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  lab TEXT NOT NULL REFERENCES labs(id),
  kind TEXT NOT NULL CHECK (kind IN ('instrument', 'door')),
  asset_no TEXT NOT NULL DEFAULT '',
  require_booking INTEGER NOT NULL DEFAULT 0,
  created_ms INTEGER NOT NULL,
  early_start_s INTEGER NOT NULL DEFAULT 900 CHECK (early_start_s >= 0),
  grace_after_end_s INTEGER NOT NULL DEFAULT 300 CHECK (grace_after_end_s >= 0),
  offline_grace_s INTEGER NOT NULL DEFAULT 86400 CHECK (offline_grace_s >= 0),
  max_session_s INTEGER NOT NULL DEFAULT 0 CHECK (max_session_s >= 0),
  policy_updated_ms INTEGER
);
CREATE TABLE users (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  category TEXT NOT NULL CHECK (category IN ('internal', 'external')),
  unit TEXT REFERENCES units(id),
  admin INTEGER NOT NULL DEFAULT 0,
  created_ms INTEGER NOT NULL
);
CREATE TABLE cards (
  rowid_ INTEGER PRIMARY KEY,
  uid TEXT NOT NULL,
  user TEXT NOT NULL REFERENCES users(id),
  active INTEGER NOT NULL DEFAULT 1,
  created_ms INTEGER NOT NULL
);
CREATE UNIQUE INDEX cards_one_active_owner ON cards(uid) WHERE active = 1;
CREATE INDEX cards_by_user ON cards(user);
CREATE INDEX cards_by_uid ON cards(uid);
)sql";

// Lifecycles: a user's status with its reason and who set it; a card's end (lost, revoked,
// replaced) and a temporary card's end date; an instrument's status (正常/维修/停用/待报废).
constexpr std::string_view kV2 = R"sql(
ALTER TABLE users ADD COLUMN status TEXT NOT NULL DEFAULT 'active'
  CHECK (status IN ('pending', 'active', 'suspended', 'left'));
ALTER TABLE users ADD COLUMN status_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN status_ms INTEGER;
ALTER TABLE cards ADD COLUMN status TEXT NOT NULL DEFAULT 'active'
  CHECK (status IN ('active', 'lost', 'revoked', 'replaced'));
ALTER TABLE cards ADD COLUMN valid_until_ms INTEGER;
ALTER TABLE cards ADD COLUMN ended_ms INTEGER;
ALTER TABLE instruments ADD COLUMN status TEXT NOT NULL DEFAULT 'normal'
  CHECK (status IN ('normal', 'maintenance', 'disabled', 'pending_scrap'));
)sql";

// Research groups (课题组) and their members; a user may belong to several.
constexpr std::string_view kV3 = R"sql(
CREATE TABLE research_groups (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  pi TEXT NOT NULL REFERENCES users(id),
  unit TEXT REFERENCES units(id),
  created_ms INTEGER NOT NULL
);
CREATE TABLE group_members (
  group_id TEXT NOT NULL REFERENCES research_groups(id),
  user_id TEXT NOT NULL REFERENCES users(id),
  since_ms INTEGER NOT NULL,
  PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_by_user ON group_members(user_id);
)sql";

// Moves in the organisation tree (a unit's parent, a lab's unit, an instrument's lab, a user's
// unit), kept for ever so that what happened before a move stays with where it happened.
constexpr std::string_view kV4 = R"sql(
CREATE TABLE org_moves (
  row_id INTEGER PRIMARY KEY,
  entity TEXT NOT NULL CHECK (entity IN ('unit', 'lab', 'instrument', 'user')),
  entity_id TEXT NOT NULL,
  from_id TEXT NOT NULL,
  to_id TEXT NOT NULL,
  at_ms INTEGER NOT NULL
);
CREATE INDEX org_moves_by_entity ON org_moves(entity, entity_id, row_id);
)sql";

// Retired units, labs and groups stay (with their history) and take nothing new.
constexpr std::string_view kV5 = R"sql(
ALTER TABLE units ADD COLUMN retired_ms INTEGER;
ALTER TABLE labs ADD COLUMN retired_ms INTEGER;
ALTER TABLE research_groups ADD COLUMN retired_ms INTEGER;
)sql";

// Five user categories (the two old ones mapped: internal -> internal_staff, external ->
// external_academic) and personal data (each '' when not given). SQLite cannot change a CHECK
// constraint, so users is rebuilt the documented way (sqlite.org/lang_altertable.html, "making
// other kinds of table schema changes"), adapted to a migration that runs inside a transaction
// with foreign keys on, where PRAGMA foreign_keys cannot be turned off: foreign keys are deferred
// to the commit instead, the rows are kept aside, the table is dropped (its implicit DELETE counts
// every row that refers to a user: cards, groups, members, and the other areas' tables) and made
// again under its own name (no RENAME, which would rewrite the references of the other tables),
// and putting the rows back settles every one of those counts; a reference left dangling fails
// the commit and nothing changes. users has no index (beyond its key), trigger or view to make
// again; its own references (unit) are kept in the new table.
constexpr std::string_view kV6 = R"sql(
PRAGMA defer_foreign_keys = ON;
CREATE TABLE users_before_v6 AS SELECT id, name, category, unit, admin, created_ms, status, status_reason, status_ms
  FROM users;
DROP TABLE users;
CREATE TABLE users (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  category TEXT NOT NULL
    CHECK (category IN ('internal_student', 'internal_staff', 'other_campus', 'external_academic', 'enterprise')),
  unit TEXT REFERENCES units(id),
  admin INTEGER NOT NULL DEFAULT 0,
  created_ms INTEGER NOT NULL,
  status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('pending', 'active', 'suspended', 'left')),
  status_reason TEXT NOT NULL DEFAULT '',
  status_ms INTEGER,
  email TEXT NOT NULL DEFAULT '',
  phone TEXT NOT NULL DEFAULT '',
  id_number TEXT NOT NULL DEFAULT '',
  organisation TEXT NOT NULL DEFAULT ''
);
INSERT INTO users(id, name, category, unit, admin, created_ms, status, status_reason, status_ms)
  SELECT id, name,
         CASE category WHEN 'internal' THEN 'internal_staff' WHEN 'external' THEN 'external_academic' ELSE category END,
         unit, admin, created_ms, status, status_reason, status_ms
  FROM users_before_v6 ORDER BY rowid;
DROP TABLE users_before_v6;
)sql";

constexpr std::array<db::Migration, 6> kMigrations{{{1, "units, labs, instruments, users, cards", kV1},
                                                    {2, "user, card and instrument lifecycles", kV2},
                                                    {3, "research groups", kV3},
                                                    {4, "moves in the organisation tree", kV4},
                                                    {5, "retired units, labs and groups", kV5},
                                                    {6, "five user categories, personal data", kV6}}};

/// conflict if the row id of table (a retirable one) is retired; nothing if absent (the caller's
/// reference check names that).
Status require_not_retired(db::Database& d, std::string_view table, const std::string& id, std::string_view what) {
  auto q = d.prepare("SELECT retired_ms FROM " + std::string(table) + " WHERE id = ?");
  if (!q) return q.error();
  q->bind(1, id);
  auto row = q->step();
  if (!row) return row.error();
  const bool retired = *row && !q->column_is_null(0);
  q->reset();
  if (retired) return domain_error(Errc::conflict, std::string(what) + " '" + id + "' is retired");
  return {};
}

std::optional<int64_t> opt_int(db::Statement& r, int c) {
  if (r.column_is_null(c)) return std::nullopt;
  return r.column_int64(c);
}

Status record_move(db::Database& d, std::string_view entity, const std::string& id, const std::string& from,
                   const std::string& to, int64_t now_ms) {
  auto st = d.prepare("INSERT INTO org_moves(entity, entity_id, from_id, to_id, at_ms) VALUES (?, ?, ?, ?, ?)");
  if (!st) return st.error();
  st->bind(1, entity).bind(2, id).bind(3, from).bind(4, to).bind(5, now_ms);
  return st->run();
}

/// A card is issued only to an active user (pending, suspended and departed users get none).
Status require_active_user(db::Database& d, const std::string& id) {
  auto q = d.prepare("SELECT status FROM users WHERE id = ?");
  if (!q) return q.error();
  q->bind(1, id);
  auto row = q->step();
  if (!row) return row.error();
  const std::string status = *row ? q->column_text(0) : std::string("active");
  q->reset();
  if (status != "active") return domain_error(Errc::conflict, "user: '" + id + "' is " + status + ", not active");
  return {};
}

}  // namespace

std::span<const db::Migration> migrations() { return kMigrations; }

namespace rows {
Instrument instrument(db::Statement& r) {
  Instrument i{r.column_text(0), r.column_text(1), r.column_text(2),
               kind_from(r.column_text(3)).value_or(InstrumentKind::instrument), r.column_text(4),
               r.column_int64(5) != 0};
  i.early_start_s = r.column_int64(6);
  i.grace_after_end_s = r.column_int64(7);
  i.offline_grace_s = r.column_int64(8);
  i.max_session_s = r.column_int64(9);
  i.status = proto::resource_status_from(r.column_text(10)).value_or(InstrumentStatus::normal);
  return i;
}

User user(db::Statement& r, int c) {
  return User{r.column_text(c),
              r.column_text(c + 1),
              category_from(r.column_text(c + 2)).value_or(UserCategory::internal_staff),
              r.column_text(c + 3),
              r.column_int64(c + 4) != 0,
              user_status_from(r.column_text(c + 5)).value_or(UserStatus::active),
              r.column_text(c + 6)};
}

User user_full(db::Statement& r, int c) {
  User u = user(r, c);
  u.email = r.column_text(c + 7);
  u.phone = r.column_text(c + 8);
  u.id_number = r.column_text(c + 9);
  u.organisation = r.column_text(c + 10);
  return u;
}

Card card(db::Statement& r) {
  Card c{r.column_text(0), r.column_text(1), r.column_int64(2) != 0};
  c.status = card_status_from(r.column_text(3)).value_or(CardStatus::active);
  if (!r.column_is_null(4)) c.valid_until_ms = r.column_int64(4);
  if (!r.column_is_null(5)) c.ended_ms = r.column_int64(5);
  return c;
}
}  // namespace rows

Status SqliteStore::add_unit(const Unit& u, int64_t now_ms) {
  return db_.run([&]() -> Status {
    auto& d = db_.conn();
    if (!u.parent.empty()) LG_TRY(require_ref(d, "units", "parent", u.parent, "unit"));
    LG_TRY(require_absent(d, "units", u.id, "unit"));
    auto st = d.prepare("INSERT INTO units(id, name, parent, created_ms) VALUES (?, ?, ?, ?)");
    if (!st) return st.error();
    st->bind(1, u.id).bind(2, u.name).bind(4, now_ms);
    if (u.parent.empty()) st->bind_null(3); else st->bind(3, u.parent);
    return st->run();
  });
}

Status SqliteStore::add_lab(const Lab& l, int64_t now_ms) {
  return db_.run([&]() -> Status {
    auto& d = db_.conn();
    LG_TRY(require_ref(d, "units", "unit", l.unit, "unit"));
    LG_TRY(require_not_retired(d, "units", l.unit, "unit"));
    LG_TRY(require_absent(d, "labs", l.id, "lab"));
    auto st = d.prepare("INSERT INTO labs(id, name, unit, created_ms) VALUES (?, ?, ?, ?)");
    if (!st) return st.error();
    st->bind(1, l.id).bind(2, l.name).bind(3, l.unit).bind(4, now_ms);
    return st->run();
  });
}

Status SqliteStore::add_instrument(const Instrument& i, int64_t now_ms) {
  return db_.run([&]() -> Status {
    auto& d = db_.conn();
    LG_TRY(require_ref(d, "labs", "lab", i.lab, "lab"));
    LG_TRY(require_not_retired(d, "labs", i.lab, "lab"));
    LG_TRY(require_absent(d, "instruments", i.id, "instrument"));
    auto st = d.prepare(
        "INSERT INTO instruments(id, name, lab, kind, asset_no, require_booking, created_ms, early_start_s, "
        "grace_after_end_s, offline_grace_s, max_session_s, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    if (!st) return st.error();
    st->bind(1, i.id).bind(2, i.name).bind(3, i.lab).bind(4, to_string(i.kind)).bind(5, i.asset_no);
    st->bind(6, b64(i.require_booking)).bind(7, now_ms).bind(8, i.early_start_s).bind(9, i.grace_after_end_s);
    st->bind(10, i.offline_grace_s).bind(11, i.max_session_s).bind(12, std::string_view(proto::to_string(i.status)));
    return st->run();
  });
}

Result<Instrument> SqliteStore::update_instrument_policy(const std::string& id, const InstrumentPolicyPatch& p,
                                                         int64_t now_ms) {
  return transact<Instrument>(db_, [&]() -> Result<Instrument> {
    auto& d = db_.conn();
    if (p.lab) {
      LG_TRY(require_ref(d, "labs", "lab", *p.lab, "lab"));
      LG_TRY(require_not_retired(d, "labs", *p.lab, "lab"));
      auto before = instrument(id);
      if (!before) return before.error();
      if (*before && (*before)->lab != *p.lab) LG_TRY(record_move(d, "instrument", id, (*before)->lab, *p.lab, now_ms));
    }
    if (p.name || p.lab) {
      auto nl = d.prepare("UPDATE instruments SET name = COALESCE(?2, name), lab = COALESCE(?3, lab) WHERE id = ?1");
      if (!nl) return nl.error();
      nl->bind(1, id);
      if (p.name) nl->bind(2, *p.name); else nl->bind_null(2);
      if (p.lab) nl->bind(3, *p.lab); else nl->bind_null(3);
      LG_TRY(nl->run());
    }
    auto st = d.prepare(
        "UPDATE instruments SET require_booking = COALESCE(?2, require_booking), "
        "early_start_s = COALESCE(?3, early_start_s), grace_after_end_s = COALESCE(?4, grace_after_end_s), "
        "offline_grace_s = COALESCE(?5, offline_grace_s), max_session_s = COALESCE(?6, max_session_s), "
        "status = COALESCE(?8, status), policy_updated_ms = ?7 WHERE id = ?1");
    if (!st) return st.error();
    st->bind(1, id);
    if (p.require_booking) st->bind(2, b64(*p.require_booking)); else st->bind_null(2);
    st->bind(3, p.early_start_s).bind(4, p.grace_after_end_s).bind(5, p.offline_grace_s).bind(6, p.max_session_s);
    st->bind(7, now_ms);
    if (p.status) st->bind(8, std::string_view(proto::to_string(*p.status))); else st->bind_null(8);
    if (auto s = st->run(); !s) return s.error();
    if (d.changes() == 0) return domain_error(Errc::not_found, "unknown instrument '" + id + "'");
    auto got = instrument(id);
    if (!got) return got.error();
    if (!*got) return domain_error(Errc::not_found, "unknown instrument '" + id + "'");
    return **got;
  });
}

Status SqliteStore::add_user(const User& u, int64_t now_ms) {
  return db_.run([&]() -> Status {
    auto& d = db_.conn();
    if (!u.unit.empty()) LG_TRY(require_ref(d, "units", "unit", u.unit, "unit"));
    LG_TRY(require_absent(d, "users", u.id, "user"));
    auto st = d.prepare(
        "INSERT INTO users(id, name, category, unit, admin, created_ms, status, status_reason, email, phone, "
        "id_number, organisation) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    if (!st) return st.error();
    st->bind(1, u.id).bind(2, u.name).bind(3, to_string(u.category)).bind(5, b64(u.admin)).bind(6, now_ms);
    if (u.unit.empty()) st->bind_null(4); else st->bind(4, u.unit);
    st->bind(7, std::string_view(to_string(u.status))).bind(8, u.status_reason);
    st->bind(9, u.email).bind(10, u.phone).bind(11, u.id_number).bind(12, u.organisation);
    return st->run();
  });
}

Status SqliteStore::add_card(const Card& c, int64_t now_ms) {
  return db_.run([&]() -> Status {
    auto& d = db_.conn();
    LG_TRY(require_ref(d, "users", "user", c.user, "user"));
    auto owner = card_owner(c.uid);
    if (!owner) return owner.error();
    if (!owner->empty()) {
      return domain_error(Errc::conflict, "uid: card " + c.uid + " is already assigned to user " + *owner);
    }
    LG_TRY(require_active_user(d, c.user));
    auto st = d.prepare("INSERT INTO cards(uid, user, active, created_ms, valid_until_ms) VALUES (?, ?, 1, ?, ?)");
    if (!st) return st.error();
    st->bind(1, c.uid).bind(2, c.user).bind(3, now_ms).bind(4, c.valid_until_ms);
    return st->run();
  });
}

Result<User> SqliteStore::set_user_status(const std::string& id, UserStatus to, const std::string& reason,
                                          int64_t now_ms) {
  return transact<User>(db_, [&]() -> Result<User> {
    auto got = user(id);
    if (!got) return got.error();
    if (!*got) return domain_error(Errc::not_found, "unknown user '" + id + "'");
    if (!status_change_allowed((*got)->status, to))
      return domain_error(Errc::conflict, status_change_refusal((*got)->status, to));
    auto st = db_.conn().prepare("UPDATE users SET status = ?, status_reason = ?, status_ms = ? WHERE id = ?");
    if (!st) return st.error();
    st->bind(1, std::string_view(to_string(to))).bind(2, reason).bind(3, now_ms).bind(4, id);
    LG_TRY(st->run());
    User u = **got;
    u.status = to;
    u.status_reason = reason;
    return u;
  });
}

Result<Card> SqliteStore::end_card(const std::string& uid, CardStatus why, int64_t now_ms) {
  if (!is_end_status(why)) return Error::invalid("a card ends as lost, revoked or replaced");
  return transact<Card>(db_, [&]() -> Result<Card> {
    auto& d = db_.conn();
    auto q = d.prepare("SELECT user, valid_until_ms FROM cards WHERE uid = ? AND active = 1");
    if (!q) return q.error();
    q->bind(1, uid);
    auto row = q->step();
    if (!row) return row.error();
    if (!*row) return domain_error(Errc::not_found, "no active card '" + uid + "'");
    Card c{uid, q->column_text(0), false, why};
    if (!q->column_is_null(1)) c.valid_until_ms = q->column_int64(1);
    q->reset();
    auto st = d.prepare("UPDATE cards SET active = 0, status = ?, ended_ms = ? WHERE uid = ? AND active = 1");
    if (!st) return st.error();
    st->bind(1, std::string_view(to_string(why))).bind(2, now_ms).bind(3, uid);
    LG_TRY(st->run());
    c.ended_ms = now_ms;
    return c;
  });
}

Status SqliteStore::add_group(const Group& g, int64_t now_ms) {
  return db_.run([&]() -> Status {
    auto& d = db_.conn();
    LG_TRY(require_ref(d, "users", "pi", g.pi, "user"));
    if (!g.unit.empty()) LG_TRY(require_ref(d, "units", "unit", g.unit, "unit"));
    LG_TRY(require_absent(d, "research_groups", g.id, "group"));
    auto st = d.prepare("INSERT INTO research_groups(id, name, pi, unit, created_ms) VALUES (?, ?, ?, ?, ?)");
    if (!st) return st.error();
    st->bind(1, g.id).bind(2, g.name).bind(3, g.pi).bind(5, now_ms);
    if (g.unit.empty()) st->bind_null(4); else st->bind(4, g.unit);
    LG_TRY(st->run());
    auto m = d.prepare("INSERT INTO group_members(group_id, user_id, since_ms) VALUES (?, ?, ?)");
    if (!m) return m.error();
    m->bind(1, g.id).bind(2, g.pi).bind(3, now_ms);
    return m->run();
  });
}

Status SqliteStore::add_member(const std::string& group, const std::string& user, int64_t now_ms) {
  return db_.run([&]() -> Status {
    auto& d = db_.conn();
    auto known = exists(d, "research_groups", group);
    if (!known) return known.error();
    if (!*known) return domain_error(Errc::not_found, "unknown group '" + group + "'");
    LG_TRY(require_not_retired(d, "research_groups", group, "group"));
    LG_TRY(require_ref(d, "users", "user", user, "user"));
    auto q = d.prepare("SELECT 1 FROM group_members WHERE group_id = ? AND user_id = ?");
    if (!q) return q.error();
    q->bind(1, group).bind(2, user);
    auto row = q->step();
    if (!row) return row.error();
    const bool member = *row;
    q->reset();
    if (member) return domain_error(Errc::conflict, "user: '" + user + "' is already a member of '" + group + "'");
    auto st = d.prepare("INSERT INTO group_members(group_id, user_id, since_ms) VALUES (?, ?, ?)");
    if (!st) return st.error();
    st->bind(1, group).bind(2, user).bind(3, now_ms);
    return st->run();
  });
}

Status SqliteStore::remove_member(const std::string& group, const std::string& user) {
  return db_.run([&]() -> Status {
    auto& d = db_.conn();
    auto q = d.prepare("SELECT pi FROM research_groups WHERE id = ?");
    if (!q) return q.error();
    q->bind(1, group);
    auto row = q->step();
    if (!row) return row.error();
    if (!*row) return domain_error(Errc::not_found, "unknown group '" + group + "'");
    const std::string pi = q->column_text(0);
    q->reset();
    if (pi == user) return domain_error(Errc::conflict, "user: '" + user + "' is the group's PI");
    auto st = d.prepare("DELETE FROM group_members WHERE group_id = ? AND user_id = ?");
    if (!st) return st.error();
    st->bind(1, group).bind(2, user);
    LG_TRY(st->run());
    if (d.changes() == 0) return domain_error(Errc::not_found, "'" + user + "' is not a member of '" + group + "'");
    return {};
  });
}

Result<std::vector<GroupMember>> SqliteStore::members(const std::string& group) {
  auto& d = db_.conn();
  auto known = exists(d, "research_groups", group);
  if (!known) return known.error();
  if (!*known) return domain_error(Errc::not_found, "unknown group '" + group + "'");
  auto q = d.prepare("SELECT group_id, user_id, since_ms FROM group_members WHERE group_id = ? ORDER BY user_id");
  if (!q) return q.error();
  q->bind(1, group);
  std::vector<GroupMember> out;
  LG_TRY(each_row(*q, [&](db::Statement& r) {
    out.push_back(GroupMember{r.column_text(0), r.column_text(1), r.column_int64(2)});
  }));
  return out;
}

Result<PageOf<Group>> SqliteStore::groups(const Page& p) {
  static constexpr Keyset q = by_id("SELECT id, name, pi, COALESCE(unit, ''), retired_ms FROM research_groups WHERE 1");
  return read_all_page<Group>(db_.conn(), q, p, [](db::Statement& r) {
    return Group{r.column_text(0), r.column_text(1), r.column_text(2), r.column_text(3), opt_int(r, 4)};
  });
}

Result<Unit> SqliteStore::update_unit(const std::string& id, const PlacePatch& p, int64_t now_ms) {
  return transact<Unit>(db_, [&]() -> Result<Unit> {
    auto& d = db_.conn();
    std::map<std::string, std::string> parent_of;
    auto all = d.prepare("SELECT id, COALESCE(parent, '') FROM units");
    if (!all) return all.error();
    LG_TRY(each_row(*all, [&](db::Statement& r) { parent_of[r.column_text(0)] = r.column_text(1); }));
    auto it = parent_of.find(id);
    if (it == parent_of.end()) return domain_error(Errc::not_found, "unknown unit '" + id + "'");
    const std::string from = it->second;
    if (p.place && *p.place != from) {
      if (!p.place->empty()) LG_TRY(require_ref(d, "units", "parent", *p.place, "unit"));
      if (creates_cycle(parent_of, id, *p.place))
        return domain_error(Errc::conflict, "parent: '" + *p.place + "' is '" + id + "' itself or lies under it");
      LG_TRY(record_move(d, "unit", id, from, *p.place, now_ms));
    }
    auto st = d.prepare("UPDATE units SET name = COALESCE(?2, name), parent = CASE WHEN ?3 IS NULL THEN parent "
                        "ELSE NULLIF(?3, '') END WHERE id = ?1");
    if (!st) return st.error();
    st->bind(1, id);
    if (p.name) st->bind(2, *p.name); else st->bind_null(2);
    if (p.place) st->bind(3, *p.place); else st->bind_null(3);
    LG_TRY(st->run());
    auto u = unit(id);
    if (!u) return u.error();
    return u->value();
  });
}

Result<Lab> SqliteStore::update_lab(const std::string& id, const PlacePatch& p, int64_t now_ms) {
  return transact<Lab>(db_, [&]() -> Result<Lab> {
    auto& d = db_.conn();
    auto got = lab(id);
    if (!got) return got.error();
    if (!*got) return domain_error(Errc::not_found, "unknown lab '" + id + "'");
    Lab l = **got;
    if (p.place && *p.place != l.unit) {
      LG_TRY(require_ref(d, "units", "unit", *p.place, "unit"));
      LG_TRY(require_not_retired(d, "units", *p.place, "unit"));
      LG_TRY(record_move(d, "lab", id, l.unit, *p.place, now_ms));
      l.unit = *p.place;
    }
    if (p.name) l.name = *p.name;
    auto st = d.prepare("UPDATE labs SET name = ?2, unit = ?3 WHERE id = ?1");
    if (!st) return st.error();
    st->bind(1, id).bind(2, l.name).bind(3, l.unit);
    LG_TRY(st->run());
    return l;
  });
}

Result<User> SqliteStore::update_user(const std::string& id, const PlacePatch& p, int64_t now_ms) {
  return transact<User>(db_, [&]() -> Result<User> {
    auto& d = db_.conn();
    auto got = user(id);
    if (!got) return got.error();
    if (!*got) return domain_error(Errc::not_found, "unknown user '" + id + "'");
    User u = **got;
    if (p.place && *p.place != u.unit) {
      if (!p.place->empty()) LG_TRY(require_ref(d, "units", "unit", *p.place, "unit"));
      LG_TRY(record_move(d, "user", id, u.unit, *p.place, now_ms));
      u.unit = *p.place;
    }
    if (p.name) u.name = *p.name;
    if (p.category) u.category = *p.category;
    p.personal.apply(u);
    auto st = d.prepare(
        "UPDATE users SET name = ?2, category = ?3, unit = NULLIF(?4, ''), email = ?5, phone = ?6, id_number = ?7, "
        "organisation = ?8 WHERE id = ?1");
    if (!st) return st.error();
    st->bind(1, id).bind(2, u.name).bind(3, to_string(u.category)).bind(4, u.unit);
    st->bind(5, u.email).bind(6, u.phone).bind(7, u.id_number).bind(8, u.organisation);
    LG_TRY(st->run());
    return u;
  });
}

Status SqliteStore::retire(const std::string& entity, const std::string& id, int64_t now_ms) {
  const std::string_view table = retirable_table(entity);
  if (table.empty()) return Error::invalid("entity must be unit, lab or group");
  return db_.run([&]() -> Status {
    auto& d = db_.conn();
    auto known = exists(d, table, id);
    if (!known) return known.error();
    if (!*known) return domain_error(Errc::not_found, "unknown " + entity + " '" + id + "'");
    LG_TRY(require_not_retired(d, table, id, entity));
    // What still works under it must be retired or moved first.
    const char* busy = entity == "unit"   ? "SELECT (SELECT count(*) FROM labs WHERE unit = ?1 AND retired_ms IS NULL) + "
                                           "(SELECT count(*) FROM units WHERE parent = ?1 AND retired_ms IS NULL)"
                       : entity == "lab" ? "SELECT count(*) FROM instruments WHERE lab = ?1 AND status IN "
                                           "('normal', 'maintenance')"
                                         : nullptr;
    if (busy) {
      auto q = d.prepare(busy);
      if (!q) return q.error();
      q->bind(1, id);
      auto row = q->step();
      if (!row) return row.error();
      const int64_t n = q->column_int64(0);
      q->reset();
      if (n > 0)
        return domain_error(Errc::conflict, entity + " '" + id + "' still holds " + std::to_string(n) +
                                                (entity == "unit" ? " active labs or units" : " instruments in use") +
                                                ": move or retire them first");
    }
    auto st = d.prepare("UPDATE " + std::string(table) + " SET retired_ms = ? WHERE id = ?");
    if (!st) return st.error();
    st->bind(1, now_ms).bind(2, id);
    return st->run();
  });
}

Result<std::vector<Move>> SqliteStore::moves(const std::string& entity, const std::string& id) {
  auto q = db_.conn().prepare(
      "SELECT entity, entity_id, from_id, to_id, at_ms FROM org_moves WHERE entity = ? AND entity_id = ? ORDER BY "
      "row_id");
  if (!q) return q.error();
  q->bind(1, entity).bind(2, id);
  std::vector<Move> out;
  LG_TRY(each_row(*q, [&](db::Statement& r) {
    out.push_back(Move{r.column_text(0), r.column_text(1), r.column_text(2), r.column_text(3), r.column_int64(4)});
  }));
  return out;
}

Result<Group> SqliteStore::update_group(const std::string& id, const GroupPatch& p, int64_t now_ms) {
  return transact<Group>(db_, [&]() -> Result<Group> {
    auto& d = db_.conn();
    auto got = group(id);
    if (!got) return got.error();
    if (!*got) return domain_error(Errc::not_found, "unknown group '" + id + "'");
    Group g = **got;
    if (p.pi && *p.pi != g.pi) {
      LG_TRY(require_ref(d, "users", "pi", *p.pi, "user"));
      g.pi = *p.pi;
      auto made = upsert_member(id, g.pi, now_ms);  // the new PI becomes a member (refused when retired)
      if (!made) return made.error();
    }
    if (p.unit && *p.unit != g.unit) {
      if (!p.unit->empty()) LG_TRY(require_ref(d, "units", "unit", *p.unit, "unit"));
      g.unit = *p.unit;
    }
    if (p.name) g.name = *p.name;
    auto st = d.prepare("UPDATE research_groups SET name = ?2, pi = ?3, unit = NULLIF(?4, '') WHERE id = ?1");
    if (!st) return st.error();
    st->bind(1, id).bind(2, g.name).bind(3, g.pi).bind(4, g.unit);
    LG_TRY(st->run());
    return g;
  });
}

Result<Card> SqliteStore::set_card_valid_until(const std::string& uid, std::optional<int64_t> valid_until_ms) {
  return transact<Card>(db_, [&]() -> Result<Card> {
    auto& d = db_.conn();
    auto st = d.prepare("UPDATE cards SET valid_until_ms = ? WHERE uid = ? AND active = 1");
    if (!st) return st.error();
    st->bind(1, valid_until_ms).bind(2, uid);
    LG_TRY(st->run());
    if (d.changes() == 0) return domain_error(Errc::not_found, "no active card '" + uid + "'");
    auto c = last_card(uid);
    if (!c) return c.error();
    return c->value();
  });
}

Result<Change> SqliteStore::upsert_unit(const Unit& u, int64_t now_ms) {
  return transact<Change>(db_, [&]() -> Result<Change> {
    auto& d = db_.conn();
    if (!u.parent.empty()) LG_TRY(require_ref(d, "units", "parent", u.parent, "unit"));
    auto q = d.prepare("SELECT id, name, COALESCE(parent, '') FROM units WHERE id = ?");
    if (!q) return q.error();
    q->bind(1, u.id);
    auto row = q->step();
    if (!row) return row.error();
    std::optional<Unit> stored;
    if (*row) stored = Unit{q->column_text(0), q->column_text(1), q->column_text(2)};
    q->reset();
    const Change c = compare(stored, u);
    if (c == Change::unchanged) return c;
    auto st = d.prepare(c == Change::created
                            ? "INSERT INTO units(id, name, parent, created_ms) VALUES (?1, ?2, ?3, ?4)"
                            : "UPDATE units SET name = ?2, parent = ?3 WHERE id = ?1");
    if (!st) return st.error();
    st->bind(1, u.id).bind(2, u.name);
    if (u.parent.empty()) st->bind_null(3); else st->bind(3, u.parent);
    if (c == Change::created) st->bind(4, now_ms);
    LG_TRY(st->run());
    return c;
  });
}

Result<Change> SqliteStore::upsert_user(const User& u, int64_t now_ms) {
  return transact<Change>(db_, [&]() -> Result<Change> {
    auto& d = db_.conn();
    if (!u.unit.empty()) LG_TRY(require_ref(d, "units", "unit", u.unit, "unit"));
    auto stored = user(u.id);
    if (!stored) return stored.error();
    const Change c = compare(*stored, u);
    if (c == Change::unchanged) return c;
    auto st = d.prepare(c == Change::created
                            ? "INSERT INTO users(id, name, category, unit, admin, created_ms, email, phone, id_number, "
                              "organisation) VALUES (?1, ?2, ?3, ?4, 0, ?5, ?6, ?7, ?8, ?9)"
                            : "UPDATE users SET name = ?2, category = ?3, unit = ?4, email = ?6, phone = ?7, "
                              "id_number = ?8, organisation = ?9 WHERE id = ?1");
    if (!st) return st.error();
    st->bind(1, u.id).bind(2, u.name).bind(3, to_string(u.category));
    if (u.unit.empty()) st->bind_null(4); else st->bind(4, u.unit);
    if (c == Change::created) st->bind(5, now_ms);
    st->bind(6, u.email).bind(7, u.phone).bind(8, u.id_number).bind(9, u.organisation);
    LG_TRY(st->run());
    return c;
  });
}

Result<Change> SqliteStore::upsert_group(const Group& g, int64_t now_ms) {
  return transact<Change>(db_, [&]() -> Result<Change> {
    auto& d = db_.conn();
    LG_TRY(require_ref(d, "users", "pi", g.pi, "user"));
    if (!g.unit.empty()) LG_TRY(require_ref(d, "units", "unit", g.unit, "unit"));
    auto q = d.prepare("SELECT id, name, pi, COALESCE(unit, '') FROM research_groups WHERE id = ?");
    if (!q) return q.error();
    q->bind(1, g.id);
    auto row = q->step();
    if (!row) return row.error();
    std::optional<Group> stored;
    if (*row) stored = Group{q->column_text(0), q->column_text(1), q->column_text(2), q->column_text(3)};
    q->reset();
    const Change c = compare(stored, g);
    if (c == Change::created) {
      LG_TRY(add_group(g, now_ms));
    } else if (c == Change::updated) {
      auto st = d.prepare("UPDATE research_groups SET name = ?2, pi = ?3, unit = NULLIF(?4, '') WHERE id = ?1");
      if (!st) return st.error();
      st->bind(1, g.id).bind(2, g.name).bind(3, g.pi).bind(4, g.unit);
      LG_TRY(st->run());
      if (stored->pi != g.pi) LG_TRY(upsert_member(g.id, g.pi, now_ms));
    }
    return c;
  });
}

Result<Change> SqliteStore::upsert_member(const std::string& group, const std::string& user, int64_t now_ms) {
  return transact<Change>(db_, [&]() -> Result<Change> {
    auto& d = db_.conn();
    auto q = d.prepare("SELECT 1 FROM group_members WHERE group_id = ? AND user_id = ?");
    if (!q) return q.error();
    q->bind(1, group).bind(2, user);
    auto row = q->step();
    if (!row) return row.error();
    const bool member = *row;
    q->reset();
    if (member) return Change::unchanged;
    LG_TRY(add_member(group, user, now_ms));
    return Change::created;
  });
}

Result<PageOf<Unit>> SqliteStore::units(const Page& p) {
  static constexpr Keyset q = by_id("SELECT id, name, COALESCE(parent, ''), retired_ms FROM units WHERE 1");
  return read_all_page<Unit>(db_.conn(), q, p, [](db::Statement& r) {
    return Unit{r.column_text(0), r.column_text(1), r.column_text(2), opt_int(r, 3)};
  });
}

Result<PageOf<Lab>> SqliteStore::labs(const Page& p) {
  static constexpr Keyset q = by_id("SELECT id, name, unit, retired_ms FROM labs WHERE 1");
  return read_all_page<Lab>(db_.conn(), q, p, [](db::Statement& r) {
    return Lab{r.column_text(0), r.column_text(1), r.column_text(2), opt_int(r, 3)};
  });
}

Result<PageOf<Instrument>> SqliteStore::instruments(const Page& p) {
  static const std::string select = "SELECT " + std::string(rows::kInstrumentCols) + " FROM instruments WHERE 1";
  const Keyset q = by_id(select);
  return read_all_page<Instrument>(db_.conn(), q, p, rows::instrument);
}

Result<PageOf<User>> SqliteStore::users(const Page& p) {
  static const std::string select = "SELECT " + std::string(rows::kUserFullCols) + " FROM users WHERE 1";
  const Keyset q = by_id(select);
  return read_all_page<User>(db_.conn(), q, p, [](db::Statement& r) { return rows::user_full(r, 0); });
}

Result<PageOf<Card>> SqliteStore::cards(const Page& p) {
  static constexpr Keyset q{
      "SELECT uid, user, active, status, valid_until_ms, ended_ms, uid, rowid_ FROM cards WHERE 1", 6,
      "(uid, rowid_)", "si", false, "ORDER BY uid, rowid_"};
  return read_all_page<Card>(db_.conn(), q, p, rows::card);
}

Result<std::optional<Instrument>> SqliteStore::instrument(const std::string& id) {
  auto q = db_.conn().prepare("SELECT " + std::string(rows::kInstrumentCols) + " FROM instruments WHERE id = ?");
  if (!q) return q.error();
  q->bind(1, id);
  auto row = q->step();
  if (!row) return row.error();
  std::optional<Instrument> out;
  if (*row) out = rows::instrument(*q);
  q->reset();
  return out;
}

Result<std::optional<Unit>> SqliteStore::unit(const std::string& id) {
  auto q = db_.conn().prepare("SELECT id, name, COALESCE(parent, ''), retired_ms FROM units WHERE id = ?");
  if (!q) return q.error();
  q->bind(1, id);
  auto row = q->step();
  if (!row) return row.error();
  std::optional<Unit> out;
  if (*row) out = Unit{q->column_text(0), q->column_text(1), q->column_text(2), opt_int(*q, 3)};
  q->reset();
  return out;
}

Result<std::optional<Lab>> SqliteStore::lab(const std::string& id) {
  auto q = db_.conn().prepare("SELECT id, name, unit, retired_ms FROM labs WHERE id = ?");
  if (!q) return q.error();
  q->bind(1, id);
  auto row = q->step();
  if (!row) return row.error();
  std::optional<Lab> out;
  if (*row) out = Lab{q->column_text(0), q->column_text(1), q->column_text(2), opt_int(*q, 3)};
  q->reset();
  return out;
}

Result<std::optional<Group>> SqliteStore::group(const std::string& id) {
  auto q = db_.conn().prepare("SELECT id, name, pi, COALESCE(unit, ''), retired_ms FROM research_groups WHERE id = ?");
  if (!q) return q.error();
  q->bind(1, id);
  auto row = q->step();
  if (!row) return row.error();
  std::optional<Group> out;
  if (*row) out = Group{q->column_text(0), q->column_text(1), q->column_text(2), q->column_text(3), opt_int(*q, 4)};
  q->reset();
  return out;
}

Result<std::optional<User>> SqliteStore::user(const std::string& id) {
  if (id.empty()) return std::optional<User>{};
  auto q = db_.conn().prepare("SELECT " + std::string(rows::kUserFullCols) + " FROM users WHERE id = ?");
  if (!q) return q.error();
  q->bind(1, id);
  auto row = q->step();
  if (!row) return row.error();
  std::optional<User> out;
  if (*row) out = rows::user_full(*q, 0);
  q->reset();
  return out;
}

Result<std::optional<Card>> SqliteStore::last_card(const std::string& uid) {
  auto q = db_.conn().prepare(
      "SELECT uid, user, active, status, valid_until_ms, ended_ms FROM cards WHERE uid = ? ORDER BY rowid_ DESC "
      "LIMIT 1");
  if (!q) return q.error();
  q->bind(1, uid);
  auto row = q->step();
  if (!row) return row.error();
  std::optional<Card> out;
  if (*row) out = rows::card(*q);
  q->reset();
  return out;
}

Result<std::string> SqliteStore::card_owner(const std::string& uid) {
  if (uid.empty()) return std::string();
  auto q = db_.conn().prepare("SELECT user FROM cards WHERE uid = ? AND active = 1");
  if (!q) return q.error();
  q->bind(1, uid);
  auto row = q->step();
  if (!row) return row.error();
  std::string out = *row ? q->column_text(0) : std::string();
  q->reset();
  return out;
}

}  // namespace lg::server::directory
