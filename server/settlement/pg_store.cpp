#include "server/settlement/pg_store.hpp"

#include <array>

#include "server/core/pg_util.hpp"

namespace lg::server::settlement {

using namespace pgsql;

namespace {

// As on SQLite (see there): a posting per charge, months closed with their statements.
constexpr std::string_view kV1 = R"sql(
CREATE TABLE charge_postings (
  charge TEXT PRIMARY KEY REFERENCES charges(id),
  user_id TEXT NOT NULL,
  instrument TEXT NOT NULL,
  category TEXT NOT NULL DEFAULT '',
  currency TEXT NOT NULL,
  charged_fen BIGINT NOT NULL CHECK (charged_fen >= 0),
  amount_fen BIGINT NOT NULL CHECK (amount_fen >= 0),
  account TEXT NOT NULL DEFAULT '',
  revenue TEXT NOT NULL DEFAULT '',
  state TEXT NOT NULL CHECK (state IN ('review', 'confirmed', 'posted')),
  end_ms BIGINT NOT NULL,
  month TEXT NOT NULL DEFAULT '',
  review_until_ms BIGINT NOT NULL,
  adjusted_by TEXT NOT NULL DEFAULT '',
  reason TEXT NOT NULL DEFAULT '',
  confirmed_ms BIGINT,
  posted_ms BIGINT,
  CHECK ((state = 'review') = (month = ''))
);
CREATE INDEX postings_due ON charge_postings(review_until_ms) WHERE state = 'review';
CREATE INDEX postings_by_month ON charge_postings(month, state, account, revenue, currency, amount_fen)
  WHERE state = 'confirmed';
CREATE INDEX postings_by_end ON charge_postings(end_ms);
CREATE TABLE settlement_months (
  month TEXT PRIMARY KEY,
  closed_ms BIGINT NOT NULL,
  closed_by TEXT NOT NULL,
  charges BIGINT NOT NULL,
  total_fen BIGINT NOT NULL,
  statements BIGINT NOT NULL
);
CREATE TABLE statements (
  id TEXT PRIMARY KEY,
  account TEXT NOT NULL,
  month TEXT NOT NULL REFERENCES settlement_months(month),
  currency TEXT NOT NULL,
  project_code TEXT NOT NULL DEFAULT '',
  total_fen BIGINT NOT NULL CHECK (total_fen >= 0),
  charges BIGINT NOT NULL,
  closed_ms BIGINT NOT NULL,
  paid_ms BIGINT,
  paid_ref TEXT NOT NULL DEFAULT '',
  UNIQUE (account, month)
);
CREATE TABLE statement_parts (
  statement TEXT NOT NULL REFERENCES statements(id),
  revenue TEXT NOT NULL,
  total_fen BIGINT NOT NULL,
  charges BIGINT NOT NULL,
  PRIMARY KEY (statement, revenue)
);
CREATE TABLE reconciliations (
  id TEXT PRIMARY KEY,
  by_user TEXT NOT NULL,
  at_ms BIGINT NOT NULL
);
CREATE TABLE reconciliation_rows (
  reconciliation TEXT NOT NULL REFERENCES reconciliations(id),
  line BIGINT NOT NULL,
  ref TEXT NOT NULL,
  statement TEXT NOT NULL,
  amount_fen BIGINT NOT NULL,
  outcome TEXT NOT NULL,
  expected_fen BIGINT NOT NULL,
  detail TEXT NOT NULL,
  PRIMARY KEY (reconciliation, line)
);
)sql";

// Intake reads the charges created since its watermark (Service::intake): an index on billing's
// table that only this reader needs.
constexpr std::string_view kV2 = R"sql(
CREATE INDEX charges_by_created ON charges(created_ms);
)sql";

constexpr std::array<db::Migration, 2> kMigrations{
    {{1, "settlement: postings, months, statements, reconciliations", kV1}, {2, "settlement: new charges by created time", kV2}}};

constexpr std::string_view kPostingCols =
    "charge, user_id, instrument, category, currency, charged_fen, amount_fen, account, revenue, state, end_ms, month, "
    "review_until_ms, adjusted_by, reason, confirmed_ms, posted_ms";

Posting posting_row(const pg::Rows& r, int i) {
  Posting p;
  p.charge = r.text(i, 0);
  p.user = r.text(i, 1);
  p.instrument = r.text(i, 2);
  p.category = r.text(i, 3);
  p.currency = r.text(i, 4);
  p.charged_fen = r.i64(i, 5);
  p.amount_fen = r.i64(i, 6);
  p.account = r.text(i, 7);
  p.revenue = r.text(i, 8);
  p.state = posting_state_from(r.text(i, 9)).value_or(PostingState::review);
  p.end_ms = r.i64(i, 10);
  p.month = r.text(i, 11);
  p.review_until_ms = r.i64(i, 12);
  p.adjusted_by = r.text(i, 13);
  p.reason = r.text(i, 14);
  p.confirmed_ms = r.opt_i64(i, 15);
  p.posted_ms = r.opt_i64(i, 16);
  return p;
}

constexpr std::string_view kStatementCols =
    "id, account, month, currency, project_code, total_fen, charges, closed_ms, paid_ms, paid_ref";

Statement statement_row(const pg::Rows& r, int i) {
  Statement s;
  s.id = r.text(i, 0);
  s.account = r.text(i, 1);
  s.month = r.text(i, 2);
  s.currency = r.text(i, 3);
  s.project_code = r.text(i, 4);
  s.total_fen = r.i64(i, 5);
  s.charges = r.i64(i, 6);
  s.closed_ms = r.i64(i, 7);
  s.paid_ms = r.opt_i64(i, 8);
  s.paid_ref = r.text(i, 9);
  return s;
}

}  // namespace

std::span<const db::Migration> pg_migrations() { return kMigrations; }

Result<std::vector<ChargeFacts>> PgStore::untaken(int64_t created_from_ms, int32_t limit) {
  auto r = db_.conn().q(
      "SELECT c.id, c.user_id, c.instrument, COALESCE(i.lab, ''), COALESCE(l.unit, ''), c.category, c.currency, "
      "c.amount_fen, c.end_ms FROM charges c LEFT JOIN instruments i ON i.id = c.instrument "
      "LEFT JOIN labs l ON l.id = i.lab "
      "WHERE c.created_ms >= $1 AND NOT EXISTS (SELECT 1 FROM charge_postings p WHERE p.charge = c.id) "
      "ORDER BY c.end_ms, c.id LIMIT $2",
      created_from_ms, int64_t{limit});
  if (!r) return r.error();
  std::vector<ChargeFacts> out;
  for (int i = 0; i < r->size(); ++i)
    out.push_back(ChargeFacts{r->text(i, 0), r->text(i, 1), r->text(i, 2), r->text(i, 3), r->text(i, 4), r->text(i, 5),
                              r->text(i, 6), r->i64(i, 7), r->i64(i, 8)});
  return out;
}

Result<std::vector<Choice>> PgStore::choices(const std::string& user, int64_t now_ms) {
  auto r = db_.conn().q(
      "SELECT m.account, m.is_default, (a.closed_ms IS NULL AND (a.end_ms IS NULL OR a.end_ms > $2)) "
      "FROM ledger_members m JOIN ledger_accounts a ON a.id = m.account "
      "WHERE m.user_id = $1 AND m.revoked_ms IS NULL AND a.kind IN ('grant', 'deposit', 'credit') ORDER BY m.account",
      user, now_ms);
  if (!r) return r.error();
  std::vector<Choice> out;
  for (int i = 0; i < r->size(); ++i) out.push_back(Choice{r->text(i, 0), r->boolean(i, 1), r->boolean(i, 2)});
  return out;
}

Status PgStore::add_posting(const Posting& p) {
  pg::Params ps;
  ps.add(p.charge).add(p.user).add(p.instrument).add(p.category).add(p.currency).add(p.charged_fen).add(p.amount_fen);
  ps.add(p.account).add(p.revenue).add(to_string(p.state)).add(p.end_ms).add(p.month).add(p.review_until_ms);
  ps.add(p.adjusted_by).add(p.reason).add(p.confirmed_ms).add(p.posted_ms);
  auto r = db_.conn().exec("INSERT INTO charge_postings(" + std::string(kPostingCols) +
                               ") VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17) "
                               "ON CONFLICT (charge) DO NOTHING",
                           ps);
  if (!r) return r.error();
  if (r->affected() == 0) return domain_error(Errc::conflict, "posting: charge " + p.charge + " has one");
  return {};
}

Result<std::vector<Posting>> PgStore::postings_where(const std::string& where, const pg::Params& p) {
  auto r = db_.conn().exec("SELECT " + std::string(kPostingCols) + " FROM charge_postings " + where, p);
  if (!r) return r.error();
  std::vector<Posting> out;
  for (int i = 0; i < r->size(); ++i) out.push_back(posting_row(*r, i));
  return out;
}

Result<std::optional<Posting>> PgStore::posting(const std::string& charge) {
  auto v = postings_where("WHERE charge = $1", pg::Params{}.add(charge));
  if (!v) return v.error();
  if (v->empty()) return std::optional<Posting>{};
  return std::optional<Posting>{v->front()};
}

Status PgStore::update_posting(const Posting& p) {
  auto r = db_.conn().q(
      "UPDATE charge_postings SET amount_fen = $1, account = $2, revenue = $3, state = $4, month = $5, "
      "review_until_ms = $6, adjusted_by = $7, reason = $8, confirmed_ms = $9, posted_ms = $10 WHERE charge = $11",
      p.amount_fen, p.account, p.revenue, std::string(to_string(p.state)), p.month, p.review_until_ms, p.adjusted_by,
      p.reason, p.confirmed_ms, p.posted_ms, p.charge);
  if (!r) return r.error();
  if (r->affected() == 0) return domain_error(Errc::not_found, "posting: no posting of charge '" + p.charge + "'");
  return {};
}

Result<std::vector<Posting>> PgStore::due(int64_t due_ms, int32_t limit) {
  return postings_where(
      "WHERE state = 'review' AND review_until_ms <= $1 AND account <> '' AND revenue <> '' "
      "ORDER BY review_until_ms, charge LIMIT $2",
      pg::Params{}.add(due_ms).add(int64_t{limit}));
}

Result<std::vector<Posting>> PgStore::postings(const PostingFilter& f, int32_t limit) {
  return postings_where(
      "WHERE ($1 = '' OR state = $1) AND ($2 = '' OR account = $2) AND ($3 = '' OR instrument = $3) "
      "AND ($4 = '' OR user_id = $4) AND ($5 = '' OR month = $5) ORDER BY end_ms DESC, charge DESC LIMIT $6",
      pg::Params{}
          .add(std::string(f.state ? to_string(*f.state) : ""))
          .add(f.account)
          .add(f.instrument)
          .add(f.user)
          .add(f.month)
          .add(int64_t{limit}));
}

Result<std::set<std::string>> PgStore::closed_months() {
  auto r = db_.conn().q("SELECT month FROM settlement_months");
  if (!r) return r.error();
  std::set<std::string> out;
  for (int i = 0; i < r->size(); ++i) out.insert(r->text(i, 0));
  return out;
}

Result<std::vector<MonthTotal>> PgStore::month_totals(const std::string& month) {
  auto r = db_.conn().q(
      "SELECT account, revenue, currency, count(*)::bigint, SUM(amount_fen)::bigint FROM charge_postings "
      "WHERE month = $1 AND state = 'confirmed' GROUP BY account, revenue, currency ORDER BY account, revenue",
      month);
  if (!r) return r.error();
  std::vector<MonthTotal> out;
  for (int i = 0; i < r->size(); ++i)
    out.push_back(MonthTotal{r->text(i, 0), r->text(i, 1), r->text(i, 2), r->i64(i, 3), r->i64(i, 4)});
  return out;
}

Status PgStore::close_month(const MonthClose& m, const std::vector<Statement>& statements,
                            const std::vector<StatementPart>& parts) {
  return db_.run([&]() -> Status {
    auto& c = db_.conn();
    auto mo = c.q(
        "INSERT INTO settlement_months(month, closed_ms, closed_by, charges, total_fen, statements) "
        "VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT (month) DO NOTHING",
        m.month, m.closed_ms, m.by, m.charges, m.total_fen, m.statements);
    if (!mo) return mo.error();
    if (mo->affected() == 0) return domain_error(Errc::conflict, "month " + m.month + " is closed already");
    for (const auto& s : statements) {
      LG_TRY(done(c.q("INSERT INTO statements(" + std::string(kStatementCols) +
                          ") VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)",
                      s.id, s.account, s.month, s.currency, s.project_code, s.total_fen, s.charges, s.closed_ms,
                      s.paid_ms, s.paid_ref)));
    }
    for (const auto& p : parts) {
      LG_TRY(done(c.q("INSERT INTO statement_parts(statement, revenue, total_fen, charges) VALUES ($1,$2,$3,$4)",
                      p.statement, p.revenue, p.total_fen, p.charges)));
    }
    return {};
  });
}

Result<std::vector<MonthClose>> PgStore::months() {
  auto r = db_.conn().q(
      "SELECT month, closed_ms, closed_by, charges, total_fen, statements FROM settlement_months ORDER BY month DESC");
  if (!r) return r.error();
  std::vector<MonthClose> out;
  for (int i = 0; i < r->size(); ++i)
    out.push_back(MonthClose{r->text(i, 0), r->i64(i, 1), r->text(i, 2), r->i64(i, 3), r->i64(i, 4), r->i64(i, 5)});
  return out;
}

Result<std::vector<Statement>> PgStore::statements_where(const std::string& where, const pg::Params& p) {
  auto r = db_.conn().exec("SELECT " + std::string(kStatementCols) + " FROM statements " + where, p);
  if (!r) return r.error();
  std::vector<Statement> out;
  for (int i = 0; i < r->size(); ++i) out.push_back(statement_row(*r, i));
  return out;
}

Result<std::vector<Statement>> PgStore::statements(const std::string& month, const std::string& account, int32_t limit) {
  return statements_where("WHERE ($1 = '' OR month = $1) AND ($2 = '' OR account = $2) ORDER BY id LIMIT $3",
                          pg::Params{}.add(month).add(account).add(int64_t{limit}));
}

Result<std::vector<Statement>> PgStore::statements_by_id(const std::vector<std::string>& ids) {
  pg::ArrayLiteral a;
  for (const auto& id : ids) a.add(id);
  return statements_where("WHERE id = ANY($1::text[]) ORDER BY id", pg::Params{}.add(a.str()));
}

Result<std::vector<StatementPart>> PgStore::parts(const std::string& month) {
  auto r = db_.conn().q(
      "SELECT p.statement, p.revenue, p.total_fen, p.charges FROM statement_parts p JOIN statements s "
      "ON s.id = p.statement WHERE s.month = $1 ORDER BY p.statement, p.revenue",
      month);
  if (!r) return r.error();
  std::vector<StatementPart> out;
  for (int i = 0; i < r->size(); ++i)
    out.push_back(StatementPart{r->text(i, 0), r->text(i, 1), r->i64(i, 2), r->i64(i, 3)});
  return out;
}

Status PgStore::mark_paid(const std::string& statement, const std::string& ref, int64_t now_ms) {
  auto r = db_.conn().q("UPDATE statements SET paid_ms = $1, paid_ref = $2 WHERE id = $3 AND paid_ms IS NULL", now_ms,
                        ref, statement);
  if (!r) return r.error();
  if (r->affected() == 0) return domain_error(Errc::conflict, "statement " + statement + " is paid already");
  return {};
}

Status PgStore::add_reconciliation(const std::string& id, const std::string& by, int64_t now_ms,
                                   const std::vector<MatchResult>& rows) {
  return db_.run([&]() -> Status {
    auto& c = db_.conn();
    LG_TRY(done(c.q("INSERT INTO reconciliations(id, by_user, at_ms) VALUES ($1,$2,$3)", id, by, now_ms)));
    for (const auto& m : rows) {
      LG_TRY(done(c.q("INSERT INTO reconciliation_rows(reconciliation, line, ref, statement, amount_fen, outcome, "
                      "expected_fen, detail) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)",
                      id, m.row.line, m.row.ref, m.row.statement, m.row.amount_fen, std::string(to_string(m.outcome)),
                      m.expected_fen, m.detail)));
    }
    return {};
  });
}

Result<std::vector<MatchResult>> PgStore::reconciliation(const std::string& id) {
  auto r = db_.conn().q(
      "SELECT line, ref, statement, amount_fen, outcome, expected_fen, detail FROM reconciliation_rows "
      "WHERE reconciliation = $1 ORDER BY line",
      id);
  if (!r) return r.error();
  std::vector<MatchResult> out;
  for (int i = 0; i < r->size(); ++i) {
    MatchResult m;
    m.row = FinanceRow{r->i64(i, 0), r->text(i, 1), r->text(i, 2), r->i64(i, 3)};
    m.statement = m.row.statement;
    m.outcome = match_outcome_from(r->text(i, 4)).value_or(MatchOutcome::unknown_statement);
    m.expected_fen = r->i64(i, 5);
    m.detail = r->text(i, 6);
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace lg::server::settlement
