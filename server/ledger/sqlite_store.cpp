#include "server/ledger/sqlite_store.hpp"

#include <array>

#include "server/core/sqlite_util.hpp"
#include "server/ledger/rules.hpp"

namespace lg::server::ledger {

using namespace sqlite;

namespace {

// Transfers are immutable: triggers refuse UPDATE and DELETE. A hold is resolved by one later
// transfer naming it (UNIQUE pending_id); the same idempotency key never stores twice (UNIQUE key).
constexpr std::string_view kV1 = R"sql(
CREATE TABLE ledger_accounts (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('grant', 'deposit', 'credit', 'arrears', 'lab_revenue', 'unit_revenue',
                                     'platform', 'finance')),
  name TEXT NOT NULL,
  currency TEXT NOT NULL CHECK (length(currency) = 3),
  unit TEXT NOT NULL DEFAULT '',
  grp TEXT NOT NULL DEFAULT '',
  owner TEXT NOT NULL DEFAULT '',
  organisation TEXT NOT NULL DEFAULT '',
  lab TEXT NOT NULL DEFAULT '',
  project_code TEXT NOT NULL DEFAULT '',
  parent TEXT NOT NULL DEFAULT '',
  floor_fen INTEGER,
  overdraft_fen INTEGER NOT NULL DEFAULT 0 CHECK (overdraft_fen >= 0),
  budget_fen INTEGER NOT NULL DEFAULT 0 CHECK (budget_fen >= 0),
  end_ms INTEGER,
  closed_ms INTEGER,
  created_ms INTEGER NOT NULL,
  debits_posted INTEGER NOT NULL DEFAULT 0 CHECK (debits_posted >= 0),
  credits_posted INTEGER NOT NULL DEFAULT 0 CHECK (credits_posted >= 0),
  debits_pending INTEGER NOT NULL DEFAULT 0 CHECK (debits_pending >= 0),
  credits_pending INTEGER NOT NULL DEFAULT 0 CHECK (credits_pending >= 0)
);
CREATE INDEX ledger_accounts_by_group ON ledger_accounts(grp) WHERE grp <> '';
CREATE TABLE ledger_transfers (
  id TEXT PRIMARY KEY,
  key TEXT NOT NULL UNIQUE,
  debit TEXT NOT NULL REFERENCES ledger_accounts(id),
  credit TEXT NOT NULL REFERENCES ledger_accounts(id),
  amount_fen INTEGER NOT NULL CHECK (amount_fen >= 0),
  currency TEXT NOT NULL,
  kind TEXT NOT NULL,
  pending_id TEXT UNIQUE REFERENCES ledger_transfers(id),
  timeout_ms INTEGER,
  ref TEXT NOT NULL DEFAULT '',
  memo TEXT NOT NULL DEFAULT '',
  actor TEXT NOT NULL DEFAULT '',
  created_ms INTEGER NOT NULL,
  CHECK (debit <> credit),
  CHECK ((kind IN ('post', 'release', 'expire')) = (pending_id IS NOT NULL)),
  CHECK (kind IN ('post', 'release', 'expire') OR amount_fen > 0)
);
CREATE INDEX ledger_transfers_by_debit ON ledger_transfers(debit, created_ms);
CREATE INDEX ledger_transfers_by_credit ON ledger_transfers(credit, created_ms);
CREATE INDEX ledger_transfers_by_ref ON ledger_transfers(ref) WHERE ref <> '';
CREATE INDEX ledger_holds ON ledger_transfers(timeout_ms) WHERE kind = 'hold';
CREATE TRIGGER ledger_transfers_immutable_u BEFORE UPDATE ON ledger_transfers
BEGIN SELECT RAISE(ABORT, 'ledger transfers are immutable: correct with a new transfer'); END;
CREATE TRIGGER ledger_transfers_immutable_d BEFORE DELETE ON ledger_transfers
BEGIN SELECT RAISE(ABORT, 'ledger transfers are immutable: correct with a new transfer'); END;
CREATE TABLE ledger_members (
  account TEXT NOT NULL REFERENCES ledger_accounts(id),
  user TEXT NOT NULL,
  approved_by TEXT NOT NULL,
  approved_ms INTEGER NOT NULL,
  revoked_ms INTEGER,
  PRIMARY KEY (account, user)
);
CREATE INDEX ledger_members_by_user ON ledger_members(user);
)sql";

constexpr std::string_view kV2 = R"sql(
ALTER TABLE ledger_members ADD COLUMN is_default INTEGER NOT NULL DEFAULT 0 CHECK (is_default IN (0, 1));
CREATE UNIQUE INDEX ledger_members_one_default ON ledger_members(user) WHERE is_default = 1;
)sql";

constexpr std::array<db::Migration, 2> kMigrations{
    {{1, "ledger: accounts, transfers, members", kV1}, {2, "ledger: a member's default account", kV2}}};

constexpr std::string_view kAccountCols =
    "id, kind, name, currency, unit, grp, owner, organisation, lab, project_code, parent, floor_fen, overdraft_fen, "
    "budget_fen, end_ms, closed_ms, created_ms, debits_posted, credits_posted, debits_pending, credits_pending";

Account account_row(db::Statement& r) {
  Account a;
  a.id = r.column_text(0);
  a.kind = account_kind_from(r.column_text(1)).value_or(AccountKind::grant);
  a.name = r.column_text(2);
  a.currency = r.column_text(3);
  a.unit = r.column_text(4);
  a.group = r.column_text(5);
  a.owner = r.column_text(6);
  a.organisation = r.column_text(7);
  a.lab = r.column_text(8);
  a.project_code = r.column_text(9);
  a.parent = r.column_text(10);
  a.floor_fen = opt_int(r, 11);
  a.overdraft_fen = r.column_int64(12);
  a.budget_fen = r.column_int64(13);
  a.end_ms = opt_int(r, 14);
  a.closed_ms = opt_int(r, 15);
  a.created_ms = r.column_int64(16);
  a.balance = Balance{r.column_int64(17), r.column_int64(18), r.column_int64(19), r.column_int64(20)};
  return a;
}

constexpr std::string_view kTransferCols =
    "id, key, debit, credit, amount_fen, currency, kind, pending_id, timeout_ms, ref, memo, actor, created_ms";

Transfer transfer_row(db::Statement& r) {
  Transfer t;
  t.id = r.column_text(0);
  t.key = r.column_text(1);
  t.debit = r.column_text(2);
  t.credit = r.column_text(3);
  t.amount_fen = r.column_int64(4);
  t.currency = r.column_text(5);
  t.kind = transfer_kind_from(r.column_text(6)).value_or(TransferKind::correction);
  t.pending_id = r.column_text(7);
  t.timeout_ms = opt_int(r, 8);
  t.ref = r.column_text(9);
  t.memo = r.column_text(10);
  t.actor = r.column_text(11);
  t.created_ms = r.column_int64(12);
  return t;
}

constexpr std::string_view kMemberCols = "account, user, approved_by, approved_ms, revoked_ms, is_default";

Member member_row(db::Statement& r) {
  return Member{r.column_text(0), r.column_text(1), r.column_text(2), r.column_int64(3), opt_int(r, 4),
                r.column_int64(5) != 0};
}

}  // namespace

std::span<const db::Migration> migrations() { return kMigrations; }

Status SqliteStore::add_account(const Account& a) {
  auto& d = db_.conn();
  if (auto e = exists(d, "ledger_accounts", a.id); !e) return e.error();
  else if (*e) return domain_error(Errc::conflict, "account: '" + a.id + "' exists");
  auto st = d.prepare("INSERT INTO ledger_accounts(" + std::string(kAccountCols) +
                      ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,0,0,0,0)");
  if (!st) return st.error();
  st->bind(1, a.id).bind(2, to_string(a.kind)).bind(3, a.name).bind(4, a.currency).bind(5, a.unit).bind(6, a.group);
  st->bind(7, a.owner).bind(8, a.organisation).bind(9, a.lab).bind(10, a.project_code).bind(11, a.parent);
  st->bind(12, a.floor_fen).bind(13, a.overdraft_fen).bind(14, a.budget_fen).bind(15, a.end_ms).bind(16, a.closed_ms);
  st->bind(17, a.created_ms);
  return st->run();
}

Status SqliteStore::update_account(const Account& a) {
  auto& d = db_.conn();
  auto st = d.prepare(
      "UPDATE ledger_accounts SET name = ?, project_code = ?, floor_fen = ?, overdraft_fen = ?, budget_fen = ?, "
      "end_ms = ?, closed_ms = ? WHERE id = ?");
  if (!st) return st.error();
  st->bind(1, a.name).bind(2, a.project_code).bind(3, a.floor_fen).bind(4, a.overdraft_fen).bind(5, a.budget_fen);
  st->bind(6, a.end_ms).bind(7, a.closed_ms).bind(8, a.id);
  LG_TRY(st->run());
  if (d.changes() == 0) return domain_error(Errc::not_found, "account: no account '" + a.id + "'");
  return {};
}

Result<std::optional<Account>> SqliteStore::account(const std::string& id) {
  auto q = db_.conn().prepare("SELECT " + std::string(kAccountCols) + " FROM ledger_accounts WHERE id = ?");
  if (!q) return q.error();
  q->bind(1, id);
  std::optional<Account> out;
  if (auto s = each_row(*q, [&](db::Statement& r) { out = account_row(r); }); !s) return s.error();
  return out;
}

Result<std::vector<Account>> SqliteStore::accounts(const AccountFilter& f, int32_t limit) {
  auto q = db_.conn().prepare("SELECT " + std::string(kAccountCols) +
                              " FROM ledger_accounts WHERE (?1 = '' OR kind = ?1) AND (?2 = '' OR grp = ?2) "
                              "AND (?3 = '' OR unit = ?3) AND (?4 = '' OR owner = ?4) ORDER BY id LIMIT ?5");
  if (!q) return q.error();
  q->bind(1, f.kind ? to_string(*f.kind) : "").bind(2, f.group).bind(3, f.unit).bind(4, f.owner);
  q->bind(5, int64_t{limit});
  std::vector<Account> out;
  if (auto s = each_row(*q, [&](db::Statement& r) { out.push_back(account_row(r)); }); !s) return s.error();
  return out;
}

Result<std::vector<Transfer>> SqliteStore::transfers_where(const std::string& where,
                                                           const std::function<void(db::Statement&)>& bind) {
  auto q = db_.conn().prepare("SELECT " + std::string(kTransferCols) + " FROM ledger_transfers " + where);
  if (!q) return q.error();
  bind(*q);
  std::vector<Transfer> out;
  if (auto s = each_row(*q, [&](db::Statement& r) { out.push_back(transfer_row(r)); }); !s) return s.error();
  return out;
}

Result<std::optional<Transfer>> SqliteStore::by_key(const std::string& key) {
  auto v = transfers_where("WHERE key = ?", [&](db::Statement& q) { q.bind(1, key); });
  if (!v) return v.error();
  if (v->empty()) return std::optional<Transfer>{};
  return std::optional<Transfer>{v->front()};
}

Result<std::optional<Transfer>> SqliteStore::transfer(const std::string& id) {
  auto v = transfers_where("WHERE id = ?", [&](db::Statement& q) { q.bind(1, id); });
  if (!v) return v.error();
  if (v->empty()) return std::optional<Transfer>{};
  return std::optional<Transfer>{v->front()};
}

Result<std::optional<Transfer>> SqliteStore::resolution(const std::string& hold_id) {
  auto v = transfers_where("WHERE pending_id = ?", [&](db::Statement& q) { q.bind(1, hold_id); });
  if (!v) return v.error();
  if (v->empty()) return std::optional<Transfer>{};
  return std::optional<Transfer>{v->front()};
}

Status SqliteStore::set_balance(const std::string& account, const Balance& b) {
  auto st = db_.conn().prepare(
      "UPDATE ledger_accounts SET debits_posted = ?, credits_posted = ?, debits_pending = ?, credits_pending = ? "
      "WHERE id = ?");
  if (!st) return st.error();
  st->bind(1, b.debits_posted).bind(2, b.credits_posted).bind(3, b.debits_pending).bind(4, b.credits_pending);
  st->bind(5, account);
  LG_TRY(st->run());
  if (db_.conn().changes() == 0) return domain_error(Errc::unknown_reference, "account: no account '" + account + "'");
  return {};
}

Status SqliteStore::record(const Transfer& t, const Balance& debit_after, const Balance& credit_after) {
  return db_.run([&]() -> Status {
    auto& d = db_.conn();
    auto st = d.prepare("INSERT INTO ledger_transfers(" + std::string(kTransferCols) +
                        ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)");
    if (!st) return st.error();
    st->bind(1, t.id).bind(2, t.key).bind(3, t.debit).bind(4, t.credit).bind(5, t.amount_fen).bind(6, t.currency);
    st->bind(7, to_string(t.kind));
    if (t.pending_id.empty()) st->bind_null(8);
    else st->bind(8, t.pending_id);
    st->bind(9, t.timeout_ms).bind(10, t.ref).bind(11, t.memo).bind(12, t.actor).bind(13, t.created_ms);
    if (auto s = st->run(); !s) {
      if (db::is_constraint(s.error()))
        return domain_error(Errc::conflict, "transfer: key " + t.key + " or hold " + t.pending_id + " is taken");
      return s;
    }
    LG_TRY(set_balance(t.debit, debit_after));
    return set_balance(t.credit, credit_after);
  });
}

Status SqliteStore::record_batch(const std::vector<Transfer>& transfers, const std::map<std::string, Balance>& sums) {
  return db_.run([&]() -> Status {
    auto& d = db_.conn();
    auto st = d.prepare("INSERT INTO ledger_transfers(" + std::string(kTransferCols) +
                        ") VALUES (?,?,?,?,?,?,?,NULL,?,?,?,?,?)");
    if (!st) return st.error();
    for (const auto& t : transfers) {
      st->bind(1, t.id).bind(2, t.key).bind(3, t.debit).bind(4, t.credit).bind(5, t.amount_fen).bind(6, t.currency);
      st->bind(7, to_string(t.kind)).bind(8, t.timeout_ms).bind(9, t.ref).bind(10, t.memo).bind(11, t.actor);
      st->bind(12, t.created_ms);
      if (auto s = st->run(); !s) {
        if (db::is_constraint(s.error())) return domain_error(Errc::conflict, "transfer: key " + t.key + " is taken");
        return s;
      }
      st->reset();
    }
    for (const auto& [account, b] : sums) LG_TRY(set_balance(account, b));
    return {};
  });
}

Result<std::vector<Transfer>> SqliteStore::transfers_of(const std::string& account, int32_t limit) {
  return transfers_where(
      "WHERE id IN (SELECT id FROM ledger_transfers WHERE debit = ?1 UNION SELECT id FROM ledger_transfers "
      "WHERE credit = ?1) ORDER BY created_ms DESC, id DESC LIMIT ?2",
      [&](db::Statement& q) { q.bind(1, account).bind(2, int64_t{limit}); });
}

Result<std::vector<Transfer>> SqliteStore::transfers_by_ref(const std::string& ref) {
  return transfers_where("WHERE ref = ? ORDER BY created_ms, id", [&](db::Statement& q) { q.bind(1, ref); });
}

Result<std::vector<Transfer>> SqliteStore::open_holds(const std::string& account, std::optional<int64_t> due_ms,
                                                      int32_t limit) {
  return transfers_where(
      "h WHERE h.kind = 'hold' AND (?1 = '' OR h.debit = ?1) AND (?2 IS NULL OR h.timeout_ms <= ?2) "
      "AND NOT EXISTS (SELECT 1 FROM ledger_transfers r WHERE r.pending_id = h.id) "
      "ORDER BY h.created_ms, h.id LIMIT ?3",
      [&](db::Statement& q) { q.bind(1, account).bind(2, due_ms).bind(3, int64_t{limit}); });
}

Status SqliteStore::put_member(const Member& m) {
  auto st = db_.conn().prepare(
      "INSERT INTO ledger_members(account, user, approved_by, approved_ms, revoked_ms) VALUES (?,?,?,?,NULL) "
      "ON CONFLICT(account, user) DO UPDATE SET approved_by = excluded.approved_by, "
      "approved_ms = excluded.approved_ms, revoked_ms = NULL");
  if (!st) return st.error();
  st->bind(1, m.account).bind(2, m.user).bind(3, m.approved_by).bind(4, m.approved_ms);
  return st->run();
}

Status SqliteStore::revoke_member(const std::string& account, const std::string& user, int64_t now_ms) {
  auto st = db_.conn().prepare(
      "UPDATE ledger_members SET revoked_ms = ?, is_default = 0 WHERE account = ? AND user = ? AND revoked_ms IS NULL");
  if (!st) return st.error();
  st->bind(1, now_ms).bind(2, account).bind(3, user);
  LG_TRY(st->run());
  if (db_.conn().changes() == 0)
    return domain_error(Errc::not_found, "member: " + user + " is not a member of account " + account);
  return {};
}

Result<std::vector<Member>> SqliteStore::members(const std::string& account) {
  auto q = db_.conn().prepare("SELECT " + std::string(kMemberCols) + " FROM ledger_members WHERE account = ? ORDER BY user");
  if (!q) return q.error();
  q->bind(1, account);
  std::vector<Member> out;
  if (auto s = each_row(*q, [&](db::Statement& r) { out.push_back(member_row(r)); }); !s) return s.error();
  return out;
}

Result<std::vector<Member>> SqliteStore::memberships(const std::string& user) {
  auto q = db_.conn().prepare("SELECT " + std::string(kMemberCols) +
                              " FROM ledger_members WHERE user = ? AND revoked_ms IS NULL ORDER BY account");
  if (!q) return q.error();
  q->bind(1, user);
  std::vector<Member> out;
  if (auto s = each_row(*q, [&](db::Statement& r) { out.push_back(member_row(r)); }); !s) return s.error();
  return out;
}

Status SqliteStore::set_default(const std::string& user, const std::string& account) {
  return db_.run([&]() -> Status {
    auto& d = db_.conn();
    auto clear = d.prepare("UPDATE ledger_members SET is_default = 0 WHERE user = ? AND is_default = 1");
    if (!clear) return clear.error();
    clear->bind(1, user);
    LG_TRY(clear->run());
    auto set = d.prepare(
        "UPDATE ledger_members SET is_default = 1 WHERE user = ? AND account = ? AND revoked_ms IS NULL");
    if (!set) return set.error();
    set->bind(1, user).bind(2, account);
    LG_TRY(set->run());
    if (d.changes() == 0)
      return domain_error(Errc::not_found, "account: " + user + " is not a member of account " + account);
    return {};
  });
}

Result<Facts> SqliteStore::facts() {
  Facts f;
  auto s = db_.run([&]() -> Status {
    auto& d = db_.conn();
    auto a = accounts(AccountFilter{}, INT32_MAX);
    if (!a) return a.error();
    f.accounts = std::move(*a);
    auto q = d.prepare(
        "SELECT a, SUM(dp), SUM(cp), SUM(dh), SUM(ch) FROM ("
        " SELECT debit AS a, amount_fen AS dp, 0 AS cp, 0 AS dh, 0 AS ch FROM ledger_transfers WHERE kind <> 'hold'"
        " UNION ALL SELECT credit, 0, amount_fen, 0, 0 FROM ledger_transfers WHERE kind <> 'hold'"
        " UNION ALL SELECT debit, 0, 0, amount_fen, 0 FROM ledger_transfers h WHERE kind = 'hold'"
        "   AND NOT EXISTS (SELECT 1 FROM ledger_transfers r WHERE r.pending_id = h.id)"
        " UNION ALL SELECT credit, 0, 0, 0, amount_fen FROM ledger_transfers h WHERE kind = 'hold'"
        "   AND NOT EXISTS (SELECT 1 FROM ledger_transfers r WHERE r.pending_id = h.id)"
        ") GROUP BY a");
    if (!q) return q.error();
    LG_TRY(each_row(*q, [&](db::Statement& r) {
      f.recomputed[r.column_text(0)] =
          Balance{r.column_int64(1), r.column_int64(2), r.column_int64(3), r.column_int64(4)};
    }));
    auto twice = d.prepare(
        "SELECT ref FROM ledger_transfers WHERE kind IN ('charge', 'arrears', 'post') AND ref <> '' "
        "GROUP BY ref, kind HAVING count(*) > 1 ORDER BY ref");
    if (!twice) return twice.error();
    LG_TRY(each_row(*twice, [&](db::Statement& r) { f.charges_posted_twice.push_back(r.column_text(0)); }));
    auto n = d.prepare("SELECT count(*) FROM ledger_transfers");
    if (!n) return n.error();
    LG_TRY(each_row(*n, [&](db::Statement& r) { f.transfers = r.column_int64(0); }));
    return {};
  });
  if (!s) return s.error();
  return f;
}

}  // namespace lg::server::ledger
