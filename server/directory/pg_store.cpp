#include "server/directory/pg_store.hpp"

#include <array>
#include <map>

#include "server/core/pg_util.hpp"
#include "server/directory/rules.hpp"

namespace lg::server::directory {

using namespace pgsql;

namespace {

// "user" is a reserved word in PostgreSQL: the owner columns are user_id here.
constexpr std::string_view kV1 = R"sql(
CREATE TABLE units (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  parent TEXT REFERENCES units(id),
  created_ms BIGINT NOT NULL
);
CREATE TABLE labs (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  unit TEXT NOT NULL REFERENCES units(id),
  created_ms BIGINT NOT NULL
);
CREATE TABLE instruments (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  lab TEXT NOT NULL REFERENCES labs(id),
  kind TEXT NOT NULL CHECK (kind IN ('instrument', 'door')),
  asset_no TEXT NOT NULL DEFAULT '',
  require_booking BOOLEAN NOT NULL DEFAULT false,
  created_ms BIGINT NOT NULL,
  early_start_s BIGINT NOT NULL DEFAULT 900 CHECK (early_start_s >= 0),
  grace_after_end_s BIGINT NOT NULL DEFAULT 300 CHECK (grace_after_end_s >= 0),
  offline_grace_s BIGINT NOT NULL DEFAULT 86400 CHECK (offline_grace_s >= 0),
  max_session_s BIGINT NOT NULL DEFAULT 0 CHECK (max_session_s >= 0),
  policy_updated_ms BIGINT
);
CREATE TABLE users (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  category TEXT NOT NULL CHECK (category IN ('internal', 'external')),
  unit TEXT REFERENCES units(id),
  admin BOOLEAN NOT NULL DEFAULT false,
  created_ms BIGINT NOT NULL
);
CREATE TABLE cards (
  row_id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  uid TEXT NOT NULL,
  user_id TEXT NOT NULL REFERENCES users(id),
  active BOOLEAN NOT NULL DEFAULT true,
  created_ms BIGINT NOT NULL
);
CREATE UNIQUE INDEX cards_one_active_owner ON cards(uid) WHERE active;
CREATE INDEX cards_by_user ON cards(user_id);
CREATE INDEX cards_by_uid ON cards(uid, row_id);
)sql";

// Lifecycles: see the SQLite store's migration 2.
constexpr std::string_view kV2 = R"sql(
ALTER TABLE users ADD COLUMN status TEXT NOT NULL DEFAULT 'active'
  CHECK (status IN ('pending', 'active', 'suspended', 'left'));
ALTER TABLE users ADD COLUMN status_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN status_ms BIGINT;
ALTER TABLE cards ADD COLUMN status TEXT NOT NULL DEFAULT 'active'
  CHECK (status IN ('active', 'lost', 'revoked', 'replaced'));
ALTER TABLE cards ADD COLUMN valid_until_ms BIGINT;
ALTER TABLE cards ADD COLUMN ended_ms BIGINT;
ALTER TABLE instruments ADD COLUMN status TEXT NOT NULL DEFAULT 'normal'
  CHECK (status IN ('normal', 'maintenance', 'disabled', 'pending_scrap'));
)sql";

// Research groups (课题组) and their members; see the SQLite store's migration 3.
constexpr std::string_view kV3 = R"sql(
CREATE TABLE research_groups (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  pi TEXT NOT NULL REFERENCES users(id),
  unit TEXT REFERENCES units(id),
  created_ms BIGINT NOT NULL
);
CREATE TABLE group_members (
  group_id TEXT NOT NULL REFERENCES research_groups(id),
  user_id TEXT NOT NULL REFERENCES users(id),
  since_ms BIGINT NOT NULL,
  PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_by_user ON group_members(user_id);
)sql";

// Moves in the organisation tree; see the SQLite store's migration 4.
constexpr std::string_view kV4 = R"sql(
CREATE TABLE org_moves (
  row_id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  entity TEXT NOT NULL CHECK (entity IN ('unit', 'lab', 'instrument', 'user')),
  entity_id TEXT NOT NULL,
  from_id TEXT NOT NULL,
  to_id TEXT NOT NULL,
  at_ms BIGINT NOT NULL
);
CREATE INDEX org_moves_by_entity ON org_moves(entity, entity_id, row_id);
)sql";

// Retired units, labs and groups; see the SQLite store's migration 5.
constexpr std::string_view kV5 = R"sql(
ALTER TABLE units ADD COLUMN retired_ms BIGINT;
ALTER TABLE labs ADD COLUMN retired_ms BIGINT;
ALTER TABLE research_groups ADD COLUMN retired_ms BIGINT;
)sql";

// Five user categories (internal -> internal_staff, external -> external_academic) and personal
// data; see the SQLite store's migration 6 (PostgreSQL changes the constraint in place).
constexpr std::string_view kV6 = R"sql(
ALTER TABLE users DROP CONSTRAINT users_category_check;
UPDATE users SET category = CASE category WHEN 'internal' THEN 'internal_staff' ELSE 'external_academic' END
  WHERE category IN ('internal', 'external');
ALTER TABLE users ADD CONSTRAINT users_category_check
  CHECK (category IN ('internal_student', 'internal_staff', 'other_campus', 'external_academic', 'enterprise'));
ALTER TABLE users ADD COLUMN email TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN phone TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN id_number TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN organisation TEXT NOT NULL DEFAULT '';
)sql";

constexpr std::array<db::Migration, 6> kMigrations{{{1, "units, labs, instruments, users, cards", kV1},
                                                    {2, "user, card and instrument lifecycles", kV2},
                                                    {3, "research groups", kV3},
                                                    {4, "moves in the organisation tree", kV4},
                                                    {5, "retired units, labs and groups", kV5},
                                                    {6, "five user categories, personal data", kV6}}};

/// conflict if the row id of table (a retirable one) is retired; nothing if absent.
Status require_not_retired(pg::Conn& c, std::string_view table, const std::string& id, std::string_view what) {
  auto r = c.q("SELECT retired_ms FROM " + std::string(table) + " WHERE id = $1", id);
  if (!r) return r.error();
  if (!r->empty() && !r->null(0, 0)) return domain_error(Errc::conflict, std::string(what) + " '" + id + "' is retired");
  return {};
}

std::optional<int64_t> opt_i64(const pg::Rows& r, int i, int c) {
  if (r.null(i, c)) return std::nullopt;
  return r.i64(i, c);
}

Status record_move(pg::Conn& c, std::string_view entity, const std::string& id, const std::string& from,
                   const std::string& to, int64_t now_ms) {
  return done(c.q("INSERT INTO org_moves(entity, entity_id, from_id, to_id, at_ms) VALUES ($1, $2, $3, $4, $5)",
                  entity, id, from, to, now_ms));
}

/// A card is issued only to an active user (pending, suspended and departed users get none).
Status require_active_user(pg::Conn& c, const std::string& id) {
  auto r = c.q("SELECT status FROM users WHERE id = $1", id);
  if (!r) return r.error();
  const std::string status = r->empty() ? std::string("active") : r->text(0, 0);
  if (status != "active") return domain_error(Errc::conflict, "user: '" + id + "' is " + status + ", not active");
  return {};
}



using pgrows::kInstrumentCols;
using pgrows::kUserFullCols;

}  // namespace

namespace pgrows {
Instrument instrument(const pg::Rows& r, int i) {
  Instrument out{r.text(i, 0), r.text(i, 1), r.text(i, 2),
                 kind_from(r.text(i, 3)).value_or(InstrumentKind::instrument), r.text(i, 4), r.boolean(i, 5)};
  out.early_start_s = r.i64(i, 6);
  out.grace_after_end_s = r.i64(i, 7);
  out.offline_grace_s = r.i64(i, 8);
  out.max_session_s = r.i64(i, 9);
  out.status = proto::resource_status_from(r.text(i, 10)).value_or(InstrumentStatus::normal);
  return out;
}

User user(const pg::Rows& r, int i) {
  return User{r.text(i, 0), r.text(i, 1),    category_from(r.text(i, 2)).value_or(UserCategory::internal_staff),
              r.text(i, 3), r.boolean(i, 4), user_status_from(r.text(i, 5)).value_or(UserStatus::active),
              r.text(i, 6)};
}
User user_full(const pg::Rows& r, int i) {
  User u = user(r, i);
  u.email = r.text(i, 7);
  u.phone = r.text(i, 8);
  u.id_number = r.text(i, 9);
  u.organisation = r.text(i, 10);
  return u;
}
Card card(const pg::Rows& r, int i) {
  Card c{r.text(i, 0), r.text(i, 1), r.boolean(i, 2)};
  c.status = card_status_from(r.text(i, 3)).value_or(CardStatus::active);
  if (!r.null(i, 4)) c.valid_until_ms = r.i64(i, 4);
  if (!r.null(i, 5)) c.ended_ms = r.i64(i, 5);
  return c;
}
}  // namespace pgrows

namespace {
constexpr auto instrument_row = [](const pg::Rows& r, int i) { return pgrows::instrument(r, i); };
constexpr auto user_row = [](const pg::Rows& r, int i) { return pgrows::user_full(r, i); };
constexpr auto card_row = [](const pg::Rows& r, int i) { return pgrows::card(r, i); };
}  // namespace

std::span<const db::Migration> pg_migrations() { return kMigrations; }

Status PgStore::add_unit(const Unit& u, int64_t now_ms) {
  return db_.run([&]() -> Status {
    auto& c = db_.conn();
    if (!u.parent.empty()) LG_TRY(require_ref(c, "units", "parent", u.parent, "unit"));
    LG_TRY(require_absent(c, "units", u.id, "unit"));
    pg::Params p;
    p.add(u.id).add(u.name).add_or_null(u.parent).add(now_ms);
    return done(c.exec("INSERT INTO units(id, name, parent, created_ms) VALUES ($1, $2, $3, $4)", p));
  });
}

Status PgStore::add_lab(const Lab& l, int64_t now_ms) {
  return db_.run([&]() -> Status {
    auto& c = db_.conn();
    LG_TRY(require_ref(c, "units", "unit", l.unit, "unit"));
    LG_TRY(require_not_retired(c, "units", l.unit, "unit"));
    LG_TRY(require_absent(c, "labs", l.id, "lab"));
    return done(c.q("INSERT INTO labs(id, name, unit, created_ms) VALUES ($1, $2, $3, $4)", l.id, l.name, l.unit, now_ms));
  });
}

Status PgStore::add_instrument(const Instrument& i, int64_t now_ms) {
  return db_.run([&]() -> Status {
    auto& c = db_.conn();
    LG_TRY(require_ref(c, "labs", "lab", i.lab, "lab"));
    LG_TRY(require_not_retired(c, "labs", i.lab, "lab"));
    LG_TRY(require_absent(c, "instruments", i.id, "instrument"));
    return done(c.q("INSERT INTO instruments(id, name, lab, kind, asset_no, require_booking, created_ms, early_start_s, "
           "grace_after_end_s, offline_grace_s, max_session_s, status) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, "
           "$11, $12)",
           i.id, i.name, i.lab, to_string(i.kind), i.asset_no, i.require_booking, now_ms, i.early_start_s,
           i.grace_after_end_s, i.offline_grace_s, i.max_session_s, proto::to_string(i.status)));
  });
}

Result<Instrument> PgStore::update_instrument_policy(const std::string& id, const InstrumentPolicyPatch& p,
                                                     int64_t now_ms) {
  return transact<Instrument>(db_, [&]() -> Result<Instrument> {
    auto& c = db_.conn();
    if (p.lab) {
      LG_TRY(require_ref(c, "labs", "lab", *p.lab, "lab"));
      LG_TRY(require_not_retired(c, "labs", *p.lab, "lab"));
      auto before = c.q("SELECT lab FROM instruments WHERE id = $1 FOR UPDATE", id);
      if (!before) return before.error();
      if (!before->empty() && before->text(0, 0) != *p.lab)
        LG_TRY(record_move(c, "instrument", id, before->text(0, 0), *p.lab, now_ms));
    }
    if (p.name || p.lab) {
      pg::Params np;
      np.add(id).add_or_null(p.name ? std::string_view(*p.name) : std::string_view())
          .add_or_null(p.lab ? std::string_view(*p.lab) : std::string_view());
      LG_TRY(done(c.exec("UPDATE instruments SET name = COALESCE($2, name), lab = COALESCE($3, lab) WHERE id = $1",
                         np)));
    }
    pg::Params params;
    params.add(id);
    if (p.require_booking) params.add(*p.require_booking);
    else params.add(std::nullopt);
    params.add(p.early_start_s).add(p.grace_after_end_s).add(p.offline_grace_s).add(p.max_session_s).add(now_ms);
    params.add_or_null(p.status ? std::string_view(proto::to_string(*p.status)) : std::string_view());
    auto r = c.exec(
        "UPDATE instruments SET require_booking = COALESCE($2::boolean, require_booking), "
        "early_start_s = COALESCE($3::bigint, early_start_s), "
        "grace_after_end_s = COALESCE($4::bigint, grace_after_end_s), "
        "offline_grace_s = COALESCE($5::bigint, offline_grace_s), max_session_s = COALESCE($6::bigint, max_session_s), "
        "status = COALESCE($8::text, status), policy_updated_ms = $7 WHERE id = $1 RETURNING " +
            std::string(kInstrumentCols),
        params);
    if (!r) return r.error();
    if (r->empty()) return domain_error(Errc::not_found, "unknown instrument '" + id + "'");
    return instrument_row(*r, 0);
  });
}

Status PgStore::add_user(const User& u, int64_t now_ms) {
  return db_.run([&]() -> Status {
    auto& c = db_.conn();
    if (!u.unit.empty()) LG_TRY(require_ref(c, "units", "unit", u.unit, "unit"));
    LG_TRY(require_absent(c, "users", u.id, "user"));
    pg::Params p;
    p.add(u.id).add(u.name).add(to_string(u.category)).add_or_null(u.unit).add(u.admin).add(now_ms);
    p.add(to_string(u.status)).add(u.status_reason).add(u.email).add(u.phone).add(u.id_number).add(u.organisation);
    return done(
        c.exec("INSERT INTO users(id, name, category, unit, admin, created_ms, status, status_reason, email, "
               "phone, id_number, organisation) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
               p));
  });
}

Status PgStore::add_card(const Card& card, int64_t now_ms) {
  return db_.run([&]() -> Status {
    auto& c = db_.conn();
    LG_TRY(require_ref(c, "users", "user", card.user, "user"));
    auto owner = card_owner(card.uid);
    if (!owner) return owner.error();
    if (!owner->empty()) {
      return domain_error(Errc::conflict, "uid: card " + card.uid + " is already assigned to user " + *owner);
    }
    LG_TRY(require_active_user(c, card.user));
    pg::Params p;
    p.add(card.uid).add(card.user).add(now_ms).add(card.valid_until_ms);
    auto r = c.exec("INSERT INTO cards(uid, user_id, active, created_ms, valid_until_ms) VALUES ($1, $2, true, $3, $4)", p);
    if (!r && pg::is_unique_violation(r.error())) {
      return domain_error(Errc::conflict, "uid: card " + card.uid + " is already assigned");
    }
    return done(r);
  });
}

Result<User> PgStore::set_user_status(const std::string& id, UserStatus to, const std::string& reason,
                                      int64_t now_ms) {
  return transact<User>(db_, [&]() -> Result<User> {
    auto& c = db_.conn();
    auto r = c.q("SELECT " + std::string(kUserFullCols) + " FROM users WHERE id = $1 FOR UPDATE", id);
    if (!r) return r.error();
    if (r->empty()) return domain_error(Errc::not_found, "unknown user '" + id + "'");
    User u = user_row(*r, 0);
    if (!status_change_allowed(u.status, to)) return domain_error(Errc::conflict, status_change_refusal(u.status, to));
    LG_TRY(done(c.q("UPDATE users SET status = $1, status_reason = $2, status_ms = $3 WHERE id = $4", to_string(to),
                    reason, now_ms, id)));
    u.status = to;
    u.status_reason = reason;
    return u;
  });
}

Result<Card> PgStore::end_card(const std::string& uid, CardStatus why, int64_t now_ms) {
  if (!is_end_status(why)) return Error::invalid("a card ends as lost, revoked or replaced");
  return transact<Card>(db_, [&]() -> Result<Card> {
    auto& c = db_.conn();
    auto r = c.q("UPDATE cards SET active = false, status = $1, ended_ms = $2 WHERE uid = $3 AND active "
                 "RETURNING uid, user_id, active, status, valid_until_ms, ended_ms",
                 to_string(why), now_ms, uid);
    if (!r) return r.error();
    if (r->empty()) return domain_error(Errc::not_found, "no active card '" + uid + "'");
    return card_row(*r, 0);
  });
}

Status PgStore::add_group(const Group& g, int64_t now_ms) {
  return db_.run([&]() -> Status {
    auto& c = db_.conn();
    LG_TRY(require_ref(c, "users", "pi", g.pi, "user"));
    if (!g.unit.empty()) LG_TRY(require_ref(c, "units", "unit", g.unit, "unit"));
    LG_TRY(require_absent(c, "research_groups", g.id, "group"));
    pg::Params p;
    p.add(g.id).add(g.name).add(g.pi).add_or_null(g.unit).add(now_ms);
    LG_TRY(done(c.exec("INSERT INTO research_groups(id, name, pi, unit, created_ms) VALUES ($1, $2, $3, $4, $5)", p)));
    return done(c.q("INSERT INTO group_members(group_id, user_id, since_ms) VALUES ($1, $2, $3)", g.id, g.pi, now_ms));
  });
}

Status PgStore::add_member(const std::string& group, const std::string& user, int64_t now_ms) {
  return db_.run([&]() -> Status {
    auto& c = db_.conn();
    auto known = exists(c, "research_groups", group);
    if (!known) return known.error();
    if (!*known) return domain_error(Errc::not_found, "unknown group '" + group + "'");
    LG_TRY(require_not_retired(c, "research_groups", group, "group"));
    LG_TRY(require_ref(c, "users", "user", user, "user"));
    auto r = c.q("INSERT INTO group_members(group_id, user_id, since_ms) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING "
                 "RETURNING user_id",
                 group, user, now_ms);
    if (!r) return r.error();
    if (r->empty()) return domain_error(Errc::conflict, "user: '" + user + "' is already a member of '" + group + "'");
    return {};
  });
}

Status PgStore::remove_member(const std::string& group, const std::string& user) {
  return db_.run([&]() -> Status {
    auto& c = db_.conn();
    auto g = c.q("SELECT pi FROM research_groups WHERE id = $1", group);
    if (!g) return g.error();
    if (g->empty()) return domain_error(Errc::not_found, "unknown group '" + group + "'");
    if (g->text(0, 0) == user) return domain_error(Errc::conflict, "user: '" + user + "' is the group's PI");
    auto r = c.q("DELETE FROM group_members WHERE group_id = $1 AND user_id = $2 RETURNING user_id", group, user);
    if (!r) return r.error();
    if (r->empty()) return domain_error(Errc::not_found, "'" + user + "' is not a member of '" + group + "'");
    return {};
  });
}

Result<std::vector<GroupMember>> PgStore::members(const std::string& group) {
  auto& c = db_.conn();
  auto known = exists(c, "research_groups", group);
  if (!known) return known.error();
  if (!*known) return domain_error(Errc::not_found, "unknown group '" + group + "'");
  auto r = c.q("SELECT group_id, user_id, since_ms FROM group_members WHERE group_id = $1 ORDER BY user_id", group);
  if (!r) return r.error();
  std::vector<GroupMember> out;
  for (int i = 0; i < r->size(); ++i) out.push_back(GroupMember{r->text(i, 0), r->text(i, 1), r->i64(i, 2)});
  return out;
}

Result<PageOf<Group>> PgStore::groups(const Page& p) {
  static constexpr Keyset q =
      by_id("SELECT id, name, pi, COALESCE(unit, ''), retired_ms FROM research_groups WHERE true");
  return read_all_page<Group>(db_.conn(), q, p, [](const pg::Rows& r, int i) {
    return Group{r.text(i, 0), r.text(i, 1), r.text(i, 2), r.text(i, 3), opt_i64(r, i, 4)};
  });
}

Result<Unit> PgStore::update_unit(const std::string& id, const PlacePatch& p, int64_t now_ms) {
  return transact<Unit>(db_, [&]() -> Result<Unit> {
    auto& c = db_.conn();
    auto all = c.q("SELECT id, COALESCE(parent, '') FROM units");
    if (!all) return all.error();
    std::map<std::string, std::string> parent_of;
    for (int i = 0; i < all->size(); ++i) parent_of[all->text(i, 0)] = all->text(i, 1);
    auto it = parent_of.find(id);
    if (it == parent_of.end()) return domain_error(Errc::not_found, "unknown unit '" + id + "'");
    const std::string from = it->second;
    if (p.place && *p.place != from) {
      if (!p.place->empty()) LG_TRY(require_ref(c, "units", "parent", *p.place, "unit"));
      if (creates_cycle(parent_of, id, *p.place))
        return domain_error(Errc::conflict, "parent: '" + *p.place + "' is '" + id + "' itself or lies under it");
      LG_TRY(record_move(c, "unit", id, from, *p.place, now_ms));
    }
    pg::Params params;
    params.add(id).add_or_null(p.name ? std::string_view(*p.name) : std::string_view());
    if (p.place) params.add(*p.place);
    else params.add(std::nullopt);
    auto r = c.exec(
        "UPDATE units SET name = COALESCE($2, name), parent = CASE WHEN $3::text IS NULL THEN parent "
        "ELSE NULLIF($3::text, '') END WHERE id = $1 RETURNING id, name, COALESCE(parent, ''), retired_ms",
        params);
    if (!r) return r.error();
    return Unit{r->text(0, 0), r->text(0, 1), r->text(0, 2), opt_i64(*r, 0, 3)};
  });
}

Result<Lab> PgStore::update_lab(const std::string& id, const PlacePatch& p, int64_t now_ms) {
  return transact<Lab>(db_, [&]() -> Result<Lab> {
    auto& c = db_.conn();
    auto r = c.q("SELECT id, name, unit, retired_ms FROM labs WHERE id = $1 FOR UPDATE", id);
    if (!r) return r.error();
    if (r->empty()) return domain_error(Errc::not_found, "unknown lab '" + id + "'");
    Lab l{r->text(0, 0), r->text(0, 1), r->text(0, 2), opt_i64(*r, 0, 3)};
    if (p.place && *p.place != l.unit) {
      LG_TRY(require_ref(c, "units", "unit", *p.place, "unit"));
      LG_TRY(require_not_retired(c, "units", *p.place, "unit"));
      LG_TRY(record_move(c, "lab", id, l.unit, *p.place, now_ms));
      l.unit = *p.place;
    }
    if (p.name) l.name = *p.name;
    LG_TRY(done(c.q("UPDATE labs SET name = $2, unit = $3 WHERE id = $1", id, l.name, l.unit)));
    return l;
  });
}

Result<User> PgStore::update_user(const std::string& id, const PlacePatch& p, int64_t now_ms) {
  return transact<User>(db_, [&]() -> Result<User> {
    auto& c = db_.conn();
    auto r = c.q("SELECT " + std::string(kUserFullCols) + " FROM users WHERE id = $1 FOR UPDATE", id);
    if (!r) return r.error();
    if (r->empty()) return domain_error(Errc::not_found, "unknown user '" + id + "'");
    User u = user_row(*r, 0);
    if (p.place && *p.place != u.unit) {
      if (!p.place->empty()) LG_TRY(require_ref(c, "units", "unit", *p.place, "unit"));
      LG_TRY(record_move(c, "user", id, u.unit, *p.place, now_ms));
      u.unit = *p.place;
    }
    if (p.name) u.name = *p.name;
    if (p.category) u.category = *p.category;
    p.personal.apply(u);
    pg::Params params;
    params.add(id).add(u.name).add(to_string(u.category)).add_or_null(u.unit);
    params.add(u.email).add(u.phone).add(u.id_number).add(u.organisation);
    LG_TRY(
        done(c.exec("UPDATE users SET name = $2, category = $3, unit = $4, email = $5, phone = $6, id_number = $7, "
                    "organisation = $8 WHERE id = $1",
                    params)));
    return u;
  });
}

Status PgStore::retire(const std::string& entity, const std::string& id, int64_t now_ms) {
  const std::string_view table = retirable_table(entity);
  if (table.empty()) return Error::invalid("entity must be unit, lab or group");
  return db_.run([&]() -> Status {
    auto& c = db_.conn();
    auto row = c.q("SELECT retired_ms FROM " + std::string(table) + " WHERE id = $1 FOR UPDATE", id);
    if (!row) return row.error();
    if (row->empty()) return domain_error(Errc::not_found, "unknown " + entity + " '" + id + "'");
    if (!row->null(0, 0)) return domain_error(Errc::conflict, entity + " '" + id + "' is retired");
    const char* busy = entity == "unit"   ? "SELECT (SELECT count(*) FROM labs WHERE unit = $1 AND retired_ms IS NULL) + "
                                           "(SELECT count(*) FROM units WHERE parent = $1 AND retired_ms IS NULL)"
                       : entity == "lab" ? "SELECT count(*) FROM instruments WHERE lab = $1 AND status IN "
                                           "('normal', 'maintenance')"
                                         : nullptr;
    if (busy) {
      auto n = c.q(busy, id);
      if (!n) return n.error();
      if (n->i64(0, 0) > 0)
        return domain_error(Errc::conflict, entity + " '" + id + "' still holds " + std::to_string(n->i64(0, 0)) +
                                                (entity == "unit" ? " active labs or units" : " instruments in use") +
                                                ": move or retire them first");
    }
    return done(c.q("UPDATE " + std::string(table) + " SET retired_ms = $1 WHERE id = $2", now_ms, id));
  });
}

Result<std::vector<Move>> PgStore::moves(const std::string& entity, const std::string& id) {
  auto r = db_.conn().q(
      "SELECT entity, entity_id, from_id, to_id, at_ms FROM org_moves WHERE entity = $1 AND entity_id = $2 ORDER BY "
      "row_id",
      entity, id);
  if (!r) return r.error();
  std::vector<Move> out;
  for (int i = 0; i < r->size(); ++i)
    out.push_back(Move{r->text(i, 0), r->text(i, 1), r->text(i, 2), r->text(i, 3), r->i64(i, 4)});
  return out;
}

Result<Group> PgStore::update_group(const std::string& id, const GroupPatch& p, int64_t now_ms) {
  return transact<Group>(db_, [&]() -> Result<Group> {
    auto& c = db_.conn();
    auto r =
        c.q("SELECT id, name, pi, COALESCE(unit, ''), retired_ms FROM research_groups WHERE id = $1 FOR UPDATE", id);
    if (!r) return r.error();
    if (r->empty()) return domain_error(Errc::not_found, "unknown group '" + id + "'");
    Group g{r->text(0, 0), r->text(0, 1), r->text(0, 2), r->text(0, 3), opt_i64(*r, 0, 4)};
    if (p.pi && *p.pi != g.pi) {
      LG_TRY(require_ref(c, "users", "pi", *p.pi, "user"));
      g.pi = *p.pi;
      auto made = upsert_member(id, g.pi, now_ms);  // the new PI becomes a member (refused when retired)
      if (!made) return made.error();
    }
    if (p.unit && *p.unit != g.unit) {
      if (!p.unit->empty()) LG_TRY(require_ref(c, "units", "unit", *p.unit, "unit"));
      g.unit = *p.unit;
    }
    if (p.name) g.name = *p.name;
    pg::Params params;
    params.add(id).add(g.name).add(g.pi).add_or_null(g.unit);
    LG_TRY(done(c.exec("UPDATE research_groups SET name = $2, pi = $3, unit = $4 WHERE id = $1", params)));
    return g;
  });
}

Result<Card> PgStore::set_card_valid_until(const std::string& uid, std::optional<int64_t> valid_until_ms) {
  return transact<Card>(db_, [&]() -> Result<Card> {
    auto& c = db_.conn();
    pg::Params p;
    p.add(valid_until_ms).add(uid);
    auto r = c.exec(
        "UPDATE cards SET valid_until_ms = $1 WHERE uid = $2 AND active "
        "RETURNING uid, user_id, active, status, valid_until_ms, ended_ms",
        p);
    if (!r) return r.error();
    if (r->empty()) return domain_error(Errc::not_found, "no active card '" + uid + "'");
    return card_row(*r, 0);
  });
}

Result<Change> PgStore::upsert_unit(const Unit& u, int64_t now_ms) {
  return transact<Change>(db_, [&]() -> Result<Change> {
    auto& c = db_.conn();
    if (!u.parent.empty()) LG_TRY(require_ref(c, "units", "parent", u.parent, "unit"));
    auto r = c.q("SELECT id, name, COALESCE(parent, '') FROM units WHERE id = $1 FOR UPDATE", u.id);
    if (!r) return r.error();
    std::optional<Unit> stored;
    if (!r->empty()) stored = Unit{r->text(0, 0), r->text(0, 1), r->text(0, 2)};
    const Change ch = compare(stored, u);
    if (ch == Change::unchanged) return ch;
    pg::Params p;
    p.add(u.id).add(u.name).add_or_null(u.parent);
    if (ch == Change::created) {
      p.add(now_ms);
      LG_TRY(done(c.exec("INSERT INTO units(id, name, parent, created_ms) VALUES ($1, $2, $3, $4)", p)));
    } else {
      LG_TRY(done(c.exec("UPDATE units SET name = $2, parent = $3 WHERE id = $1", p)));
    }
    return ch;
  });
}

Result<Change> PgStore::upsert_user(const User& u, int64_t now_ms) {
  return transact<Change>(db_, [&]() -> Result<Change> {
    auto& c = db_.conn();
    if (!u.unit.empty()) LG_TRY(require_ref(c, "units", "unit", u.unit, "unit"));
    auto r = c.q("SELECT " + std::string(kUserFullCols) + " FROM users WHERE id = $1 FOR UPDATE", u.id);
    if (!r) return r.error();
    std::optional<User> stored;
    if (!r->empty()) stored = user_row(*r, 0);
    const Change ch = compare(stored, u);
    if (ch == Change::unchanged) return ch;
    pg::Params p;
    p.add(u.id).add(u.name).add(to_string(u.category)).add_or_null(u.unit);
    p.add(u.email).add(u.phone).add(u.id_number).add(u.organisation);
    if (ch == Change::created) {
      p.add(now_ms);
      LG_TRY(
          done(c.exec("INSERT INTO users(id, name, category, unit, admin, created_ms, email, phone, id_number, "
                      "organisation) VALUES ($1, $2, $3, $4, false, $9, $5, $6, $7, $8)",
                      p)));
    } else {
      LG_TRY(
          done(c.exec("UPDATE users SET name = $2, category = $3, unit = $4, email = $5, phone = $6, "
                      "id_number = $7, organisation = $8 WHERE id = $1",
                      p)));
    }
    return ch;
  });
}

Result<Change> PgStore::upsert_group(const Group& g, int64_t now_ms) {
  return transact<Change>(db_, [&]() -> Result<Change> {
    auto& c = db_.conn();
    LG_TRY(require_ref(c, "users", "pi", g.pi, "user"));
    if (!g.unit.empty()) LG_TRY(require_ref(c, "units", "unit", g.unit, "unit"));
    auto r = c.q("SELECT id, name, pi, COALESCE(unit, '') FROM research_groups WHERE id = $1 FOR UPDATE", g.id);
    if (!r) return r.error();
    std::optional<Group> stored;
    if (!r->empty()) stored = Group{r->text(0, 0), r->text(0, 1), r->text(0, 2), r->text(0, 3)};
    const Change ch = compare(stored, g);
    if (ch == Change::created) {
      LG_TRY(add_group(g, now_ms));
    } else if (ch == Change::updated) {
      pg::Params p;
      p.add(g.id).add(g.name).add(g.pi).add_or_null(g.unit);
      LG_TRY(done(c.exec("UPDATE research_groups SET name = $2, pi = $3, unit = $4 WHERE id = $1", p)));
      if (stored->pi != g.pi) LG_TRY(upsert_member(g.id, g.pi, now_ms));
    }
    return ch;
  });
}

Result<Change> PgStore::upsert_member(const std::string& group, const std::string& user, int64_t now_ms) {
  return transact<Change>(db_, [&]() -> Result<Change> {
    auto& c = db_.conn();
    auto r = c.q("SELECT 1 FROM group_members WHERE group_id = $1 AND user_id = $2", group, user);
    if (!r) return r.error();
    if (!r->empty()) return Change::unchanged;
    LG_TRY(add_member(group, user, now_ms));
    return Change::created;
  });
}

Result<PageOf<Unit>> PgStore::units(const Page& p) {
  static constexpr Keyset q = by_id("SELECT id, name, COALESCE(parent, ''), retired_ms FROM units WHERE true");
  return read_all_page<Unit>(db_.conn(), q, p, [](const pg::Rows& r, int i) {
    return Unit{r.text(i, 0), r.text(i, 1), r.text(i, 2), opt_i64(r, i, 3)};
  });
}

Result<PageOf<Lab>> PgStore::labs(const Page& p) {
  static constexpr Keyset q = by_id("SELECT id, name, unit, retired_ms FROM labs WHERE true");
  return read_all_page<Lab>(db_.conn(), q, p, [](const pg::Rows& r, int i) {
    return Lab{r.text(i, 0), r.text(i, 1), r.text(i, 2), opt_i64(r, i, 3)};
  });
}

Result<PageOf<Instrument>> PgStore::instruments(const Page& p) {
  static const std::string select = "SELECT " + std::string(kInstrumentCols) + " FROM instruments WHERE true";
  const Keyset q = by_id(select);
  return read_all_page<Instrument>(db_.conn(), q, p, instrument_row);
}

Result<PageOf<User>> PgStore::users(const Page& p) {
  static const std::string select = "SELECT " + std::string(kUserFullCols) + " FROM users WHERE true";
  const Keyset q = by_id(select);
  return read_all_page<User>(db_.conn(), q, p, user_row);
}

Result<PageOf<Card>> PgStore::cards(const Page& p) {
  static constexpr Keyset q{
      "SELECT uid, user_id, active, status, valid_until_ms, ended_ms, uid, row_id FROM cards WHERE true", 6,
      "(uid, row_id)", "si", false, "ORDER BY uid, row_id"};
  return read_all_page<Card>(db_.conn(), q, p, card_row);
}

Result<std::optional<Instrument>> PgStore::instrument(const std::string& id) {
  auto r = db_.conn().q("SELECT " + std::string(kInstrumentCols) + " FROM instruments WHERE id = $1", id);
  if (!r) return r.error();
  std::optional<Instrument> out;
  if (!r->empty()) out = instrument_row(*r, 0);
  return out;
}

Result<std::optional<Unit>> PgStore::unit(const std::string& id) {
  auto r = db_.conn().q("SELECT id, name, COALESCE(parent, ''), retired_ms FROM units WHERE id = $1", id);
  if (!r) return r.error();
  std::optional<Unit> out;
  if (!r->empty()) out = Unit{r->text(0, 0), r->text(0, 1), r->text(0, 2), opt_i64(*r, 0, 3)};
  return out;
}

Result<std::optional<Lab>> PgStore::lab(const std::string& id) {
  auto r = db_.conn().q("SELECT id, name, unit, retired_ms FROM labs WHERE id = $1", id);
  if (!r) return r.error();
  std::optional<Lab> out;
  if (!r->empty()) out = Lab{r->text(0, 0), r->text(0, 1), r->text(0, 2), opt_i64(*r, 0, 3)};
  return out;
}

Result<std::optional<Group>> PgStore::group(const std::string& id) {
  auto r = db_.conn().q("SELECT id, name, pi, COALESCE(unit, ''), retired_ms FROM research_groups WHERE id = $1", id);
  if (!r) return r.error();
  std::optional<Group> out;
  if (!r->empty()) out = Group{r->text(0, 0), r->text(0, 1), r->text(0, 2), r->text(0, 3), opt_i64(*r, 0, 4)};
  return out;
}

Result<std::optional<User>> PgStore::user(const std::string& id) {
  if (id.empty()) return std::optional<User>{};
  auto r = db_.conn().q("SELECT " + std::string(kUserFullCols) + " FROM users WHERE id = $1", id);
  if (!r) return r.error();
  std::optional<User> out;
  if (!r->empty()) out = user_row(*r, 0);
  return out;
}

Result<std::optional<Card>> PgStore::last_card(const std::string& uid) {
  auto r = db_.conn().q(
      "SELECT uid, user_id, active, status, valid_until_ms, ended_ms FROM cards WHERE uid = $1 ORDER BY row_id DESC "
      "LIMIT 1",
      uid);
  if (!r) return r.error();
  std::optional<Card> out;
  if (!r->empty()) out = card_row(*r, 0);
  return out;
}

Result<std::string> PgStore::card_owner(const std::string& uid) {
  if (uid.empty()) return std::string();
  auto r = db_.conn().q("SELECT user_id FROM cards WHERE uid = $1 AND active", uid);
  if (!r) return r.error();
  return r->empty() ? std::string() : r->text(0, 0);
}

}  // namespace lg::server::directory
