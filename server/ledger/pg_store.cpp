#include "server/ledger/pg_store.hpp"

#include <array>

#include "server/core/pg_util.hpp"
#include "server/ledger/rules.hpp"

namespace lg::server::ledger {

using namespace pgsql;

namespace {

// As on SQLite: transfers immutable (a trigger refuses UPDATE, DELETE and TRUNCATE), one
// resolution per hold (UNIQUE pending_id), one transfer per idempotency key (UNIQUE key).
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
  floor_fen BIGINT,
  overdraft_fen BIGINT NOT NULL DEFAULT 0 CHECK (overdraft_fen >= 0),
  budget_fen BIGINT NOT NULL DEFAULT 0 CHECK (budget_fen >= 0),
  end_ms BIGINT,
  closed_ms BIGINT,
  created_ms BIGINT NOT NULL,
  debits_posted BIGINT NOT NULL DEFAULT 0 CHECK (debits_posted >= 0),
  credits_posted BIGINT NOT NULL DEFAULT 0 CHECK (credits_posted >= 0),
  debits_pending BIGINT NOT NULL DEFAULT 0 CHECK (debits_pending >= 0),
  credits_pending BIGINT NOT NULL DEFAULT 0 CHECK (credits_pending >= 0)
);
CREATE INDEX ledger_accounts_by_group ON ledger_accounts(grp) WHERE grp <> '';
CREATE TABLE ledger_transfers (
  id TEXT PRIMARY KEY,
  key TEXT NOT NULL UNIQUE,
  debit TEXT NOT NULL REFERENCES ledger_accounts(id),
  credit TEXT NOT NULL REFERENCES ledger_accounts(id),
  amount_fen BIGINT NOT NULL CHECK (amount_fen >= 0),
  currency TEXT NOT NULL,
  kind TEXT NOT NULL,
  pending_id TEXT UNIQUE REFERENCES ledger_transfers(id),
  timeout_ms BIGINT,
  ref TEXT NOT NULL DEFAULT '',
  memo TEXT NOT NULL DEFAULT '',
  actor TEXT NOT NULL DEFAULT '',
  created_ms BIGINT NOT NULL,
  CHECK (debit <> credit),
  CHECK ((kind IN ('post', 'release', 'expire')) = (pending_id IS NOT NULL)),
  CHECK (kind IN ('post', 'release', 'expire') OR amount_fen > 0)
);
CREATE INDEX ledger_transfers_by_debit ON ledger_transfers(debit, created_ms);
CREATE INDEX ledger_transfers_by_credit ON ledger_transfers(credit, created_ms);
CREATE INDEX ledger_transfers_by_ref ON ledger_transfers(ref) WHERE ref <> '';
CREATE INDEX ledger_holds ON ledger_transfers(timeout_ms) WHERE kind = 'hold';
CREATE FUNCTION ledger_transfers_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'ledger transfers are immutable: correct with a new transfer';
END $$;
CREATE TRIGGER ledger_transfers_no_change BEFORE UPDATE OR DELETE ON ledger_transfers
  FOR EACH ROW EXECUTE FUNCTION ledger_transfers_refuse();
CREATE TRIGGER ledger_transfers_no_truncate BEFORE TRUNCATE ON ledger_transfers
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_transfers_refuse();
CREATE TABLE ledger_members (
  account TEXT NOT NULL REFERENCES ledger_accounts(id),
  user_id TEXT NOT NULL,
  approved_by TEXT NOT NULL,
  approved_ms BIGINT NOT NULL,
  revoked_ms BIGINT,
  PRIMARY KEY (account, user_id)
);
CREATE INDEX ledger_members_by_user ON ledger_members(user_id);
)sql";

constexpr std::string_view kV2 = R"sql(
ALTER TABLE ledger_members ADD COLUMN is_default BOOLEAN NOT NULL DEFAULT false;
CREATE UNIQUE INDEX ledger_members_one_default ON ledger_members(user_id) WHERE is_default;
)sql";

constexpr std::array<db::Migration, 2> kMigrations{
    {{1, "ledger: accounts, transfers, members", kV1}, {2, "ledger: a member's default account", kV2}}};

constexpr std::string_view kAccountCols =
    "id, kind, name, currency, unit, grp, owner, organisation, lab, project_code, parent, floor_fen, overdraft_fen, "
    "budget_fen, end_ms, closed_ms, created_ms, debits_posted, credits_posted, debits_pending, credits_pending";

Account account_row(const pg::Rows& r, int i) {
  Account a;
  a.id = r.text(i, 0);
  a.kind = account_kind_from(r.text(i, 1)).value_or(AccountKind::grant);
  a.name = r.text(i, 2);
  a.currency = r.text(i, 3);
  a.unit = r.text(i, 4);
  a.group = r.text(i, 5);
  a.owner = r.text(i, 6);
  a.organisation = r.text(i, 7);
  a.lab = r.text(i, 8);
  a.project_code = r.text(i, 9);
  a.parent = r.text(i, 10);
  a.floor_fen = r.opt_i64(i, 11);
  a.overdraft_fen = r.i64(i, 12);
  a.budget_fen = r.i64(i, 13);
  a.end_ms = r.opt_i64(i, 14);
  a.closed_ms = r.opt_i64(i, 15);
  a.created_ms = r.i64(i, 16);
  a.balance = Balance{r.i64(i, 17), r.i64(i, 18), r.i64(i, 19), r.i64(i, 20)};
  return a;
}

constexpr std::string_view kTransferCols =
    "id, key, debit, credit, amount_fen, currency, kind, pending_id, timeout_ms, ref, memo, actor, created_ms";

Transfer transfer_row(const pg::Rows& r, int i) {
  Transfer t;
  t.id = r.text(i, 0);
  t.key = r.text(i, 1);
  t.debit = r.text(i, 2);
  t.credit = r.text(i, 3);
  t.amount_fen = r.i64(i, 4);
  t.currency = r.text(i, 5);
  t.kind = transfer_kind_from(r.text(i, 6)).value_or(TransferKind::correction);
  t.pending_id = r.text(i, 7);
  t.timeout_ms = r.opt_i64(i, 8);
  t.ref = r.text(i, 9);
  t.memo = r.text(i, 10);
  t.actor = r.text(i, 11);
  t.created_ms = r.i64(i, 12);
  return t;
}

constexpr std::string_view kMemberCols = "account, user_id, approved_by, approved_ms, revoked_ms, is_default";

std::vector<Member> members_of(const pg::Rows& r) {
  std::vector<Member> out;
  for (int i = 0; i < r.size(); ++i)
    out.push_back(Member{r.text(i, 0), r.text(i, 1), r.text(i, 2), r.i64(i, 3), r.opt_i64(i, 4), r.boolean(i, 5)});
  return out;
}

std::optional<Transfer> first(const std::vector<Transfer>& v) {
  if (v.empty()) return std::nullopt;
  return v.front();
}

}  // namespace

std::span<const db::Migration> pg_migrations() { return kMigrations; }

Status PgStore::add_account(const Account& a) {
  auto& c = db_.conn();
  pg::Params p;
  p.add(a.id).add(to_string(a.kind)).add(a.name).add(a.currency).add(a.unit).add(a.group).add(a.owner);
  p.add(a.organisation).add(a.lab).add(a.project_code).add(a.parent).add(a.floor_fen).add(a.overdraft_fen);
  p.add(a.budget_fen).add(a.end_ms).add(a.closed_ms).add(a.created_ms);
  auto r = c.exec("INSERT INTO ledger_accounts(" + std::string(kAccountCols) +
                      ") VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,0,0,0,0) "
                      "ON CONFLICT (id) DO NOTHING",
                  p);
  if (!r) return r.error();
  if (r->affected() == 0) return domain_error(Errc::conflict, "account: '" + a.id + "' exists");
  return {};
}

Status PgStore::update_account(const Account& a) {
  auto r = db_.conn().q(
      "UPDATE ledger_accounts SET name = $1, project_code = $2, floor_fen = $3, overdraft_fen = $4, budget_fen = $5, "
      "end_ms = $6, closed_ms = $7 WHERE id = $8",
      a.name, a.project_code, a.floor_fen, a.overdraft_fen, a.budget_fen, a.end_ms, a.closed_ms, a.id);
  if (!r) return r.error();
  if (r->affected() == 0) return domain_error(Errc::not_found, "account: no account '" + a.id + "'");
  return {};
}

Result<std::optional<Account>> PgStore::account(const std::string& id) {
  auto r = db_.conn().q("SELECT " + std::string(kAccountCols) + " FROM ledger_accounts WHERE id = $1", id);
  if (!r) return r.error();
  if (r->size() == 0) return std::optional<Account>{};
  return std::optional<Account>{account_row(*r, 0)};
}

Result<std::vector<Account>> PgStore::accounts(const AccountFilter& f, int32_t limit) {
  auto r = db_.conn().q("SELECT " + std::string(kAccountCols) +
                            " FROM ledger_accounts WHERE ($1 = '' OR kind = $1) AND ($2 = '' OR grp = $2) "
                            "AND ($3 = '' OR unit = $3) AND ($4 = '' OR owner = $4) ORDER BY id LIMIT $5",
                        std::string(f.kind ? to_string(*f.kind) : ""), f.group, f.unit, f.owner, int64_t{limit});
  if (!r) return r.error();
  std::vector<Account> out;
  for (int i = 0; i < r->size(); ++i) out.push_back(account_row(*r, i));
  return out;
}

Result<std::vector<Transfer>> PgStore::transfers_where(const std::string& where, const pg::Params& p) {
  auto r = db_.conn().exec("SELECT " + std::string(kTransferCols) + " FROM ledger_transfers " + where, p);
  if (!r) return r.error();
  std::vector<Transfer> out;
  for (int i = 0; i < r->size(); ++i) out.push_back(transfer_row(*r, i));
  return out;
}

Result<std::optional<Transfer>> PgStore::by_key(const std::string& key) {
  auto v = transfers_where("WHERE key = $1", pg::Params{}.add(key));
  if (!v) return v.error();
  return first(*v);
}

Result<std::optional<Transfer>> PgStore::transfer(const std::string& id) {
  auto v = transfers_where("WHERE id = $1", pg::Params{}.add(id));
  if (!v) return v.error();
  return first(*v);
}

Result<std::optional<Transfer>> PgStore::resolution(const std::string& hold_id) {
  auto v = transfers_where("WHERE pending_id = $1", pg::Params{}.add(hold_id));
  if (!v) return v.error();
  return first(*v);
}

Status PgStore::set_balance(const std::string& account, const Balance& b) {
  auto r = db_.conn().q(
      "UPDATE ledger_accounts SET debits_posted = $1, credits_posted = $2, debits_pending = $3, credits_pending = $4 "
      "WHERE id = $5",
      b.debits_posted, b.credits_posted, b.debits_pending, b.credits_pending, account);
  if (!r) return r.error();
  if (r->affected() == 0) return domain_error(Errc::unknown_reference, "account: no account '" + account + "'");
  return {};
}

Status PgStore::record(const Transfer& t, const Balance& debit_after, const Balance& credit_after) {
  return db_.run([&]() -> Status {
    pg::Params p;
    p.add(t.id).add(t.key).add(t.debit).add(t.credit).add(t.amount_fen).add(t.currency).add(to_string(t.kind));
    p.add_or_null(t.pending_id).add(t.timeout_ms).add(t.ref).add(t.memo).add(t.actor).add(t.created_ms);
    auto r = db_.conn().exec("INSERT INTO ledger_transfers(" + std::string(kTransferCols) +
                                 ") VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13) ON CONFLICT DO NOTHING",
                             p);
    if (!r) return r.error();
    if (r->affected() == 0)
      return domain_error(Errc::conflict, "transfer: key " + t.key + " or hold " + t.pending_id + " is taken");
    LG_TRY(set_balance(t.debit, debit_after));
    return set_balance(t.credit, credit_after);
  });
}

Status PgStore::record_batch(const std::vector<Transfer>& transfers, const std::map<std::string, Balance>& sums) {
  return db_.run([&]() -> Status {
    for (const auto& t : transfers) {
      pg::Params p;
      p.add(t.id).add(t.key).add(t.debit).add(t.credit).add(t.amount_fen).add(t.currency).add(to_string(t.kind));
      p.add(t.timeout_ms).add(t.ref).add(t.memo).add(t.actor).add(t.created_ms);
      auto r = db_.conn().exec("INSERT INTO ledger_transfers(" + std::string(kTransferCols) +
                                   ") VALUES ($1,$2,$3,$4,$5,$6,$7,NULL,$8,$9,$10,$11,$12) ON CONFLICT DO NOTHING",
                               p);
      if (!r) return r.error();
      if (r->affected() == 0) return domain_error(Errc::conflict, "transfer: key " + t.key + " is taken");
    }
    for (const auto& [account, b] : sums) LG_TRY(set_balance(account, b));
    return {};
  });
}

Result<std::vector<Transfer>> PgStore::transfers_of(const std::string& account, int32_t limit) {
  return transfers_where("WHERE debit = $1 OR credit = $1 ORDER BY created_ms DESC, id DESC LIMIT $2",
                         pg::Params{}.add(account).add(int64_t{limit}));
}

Result<std::vector<Transfer>> PgStore::transfers_by_ref(const std::string& ref) {
  return transfers_where("WHERE ref = $1 ORDER BY created_ms, id", pg::Params{}.add(ref));
}

Result<std::vector<Transfer>> PgStore::open_holds(const std::string& account, std::optional<int64_t> due_ms,
                                                  int32_t limit) {
  return transfers_where(
      "h WHERE h.kind = 'hold' AND ($1 = '' OR h.debit = $1) AND ($2::bigint IS NULL OR h.timeout_ms <= $2::bigint) "
      "AND NOT EXISTS (SELECT 1 FROM ledger_transfers r WHERE r.pending_id = h.id) "
      "ORDER BY h.created_ms, h.id LIMIT $3",
      pg::Params{}.add(account).add(due_ms).add(int64_t{limit}));
}

Status PgStore::put_member(const Member& m) {
  return done(db_.conn().q(
      "INSERT INTO ledger_members(account, user_id, approved_by, approved_ms, revoked_ms) VALUES ($1,$2,$3,$4,NULL) "
      "ON CONFLICT (account, user_id) DO UPDATE SET approved_by = excluded.approved_by, "
      "approved_ms = excluded.approved_ms, revoked_ms = NULL",
      m.account, m.user, m.approved_by, m.approved_ms));
}

Status PgStore::revoke_member(const std::string& account, const std::string& user, int64_t now_ms) {
  auto r = db_.conn().q(
      "UPDATE ledger_members SET revoked_ms = $1, is_default = false WHERE account = $2 AND user_id = $3 "
      "AND revoked_ms IS NULL",
      now_ms,
      account, user);
  if (!r) return r.error();
  if (r->affected() == 0) return domain_error(Errc::not_found, "member: " + user + " is not a member of account " + account);
  return {};
}

Result<std::vector<Member>> PgStore::members(const std::string& account) {
  auto r = db_.conn().q("SELECT " + std::string(kMemberCols) + " FROM ledger_members WHERE account = $1 ORDER BY user_id",
                        account);
  if (!r) return r.error();
  return members_of(*r);
}

Result<std::vector<Member>> PgStore::memberships(const std::string& user) {
  auto r = db_.conn().q("SELECT " + std::string(kMemberCols) +
                            " FROM ledger_members WHERE user_id = $1 AND revoked_ms IS NULL ORDER BY account",
                        user);
  if (!r) return r.error();
  return members_of(*r);
}

Status PgStore::set_default(const std::string& user, const std::string& account) {
  return db_.run([&]() -> Status {
    auto& c = db_.conn();
    LG_TRY(done(c.q("UPDATE ledger_members SET is_default = false WHERE user_id = $1 AND is_default", user)));
    auto r = c.q("UPDATE ledger_members SET is_default = true WHERE user_id = $1 AND account = $2 AND revoked_ms IS NULL",
                 user, account);
    if (!r) return r.error();
    if (r->affected() == 0)
      return domain_error(Errc::not_found, "account: " + user + " is not a member of account " + account);
    return {};
  });
}

Result<Facts> PgStore::facts() {
  Facts f;
  auto s = db_.run([&]() -> Status {
    auto& c = db_.conn();
    auto a = accounts(AccountFilter{}, INT32_MAX);
    if (!a) return a.error();
    f.accounts = std::move(*a);
    auto r = c.q(
        "SELECT a, SUM(dp)::bigint, SUM(cp)::bigint, SUM(dh)::bigint, SUM(ch)::bigint FROM ("
        " SELECT debit AS a, amount_fen AS dp, 0 AS cp, 0 AS dh, 0 AS ch FROM ledger_transfers WHERE kind <> 'hold'"
        " UNION ALL SELECT credit, 0, amount_fen, 0, 0 FROM ledger_transfers WHERE kind <> 'hold'"
        " UNION ALL SELECT debit, 0, 0, amount_fen, 0 FROM ledger_transfers h WHERE kind = 'hold'"
        "   AND NOT EXISTS (SELECT 1 FROM ledger_transfers r WHERE r.pending_id = h.id)"
        " UNION ALL SELECT credit, 0, 0, 0, amount_fen FROM ledger_transfers h WHERE kind = 'hold'"
        "   AND NOT EXISTS (SELECT 1 FROM ledger_transfers r WHERE r.pending_id = h.id)"
        ") t GROUP BY a");
    if (!r) return r.error();
    for (int i = 0; i < r->size(); ++i)
      f.recomputed[r->text(i, 0)] = Balance{r->i64(i, 1), r->i64(i, 2), r->i64(i, 3), r->i64(i, 4)};
    auto twice = c.q(
        "SELECT ref FROM ledger_transfers WHERE kind IN ('charge', 'arrears', 'post') AND ref <> '' "
        "GROUP BY ref, kind HAVING count(*) > 1 ORDER BY ref");
    if (!twice) return twice.error();
    for (int i = 0; i < twice->size(); ++i) f.charges_posted_twice.push_back(twice->text(i, 0));
    auto n = c.q("SELECT count(*) FROM ledger_transfers");
    if (!n) return n.error();
    f.transfers = n->i64(0, 0);
    return {};
  });
  if (!s) return s.error();
  return f;
}

}  // namespace lg::server::ledger
