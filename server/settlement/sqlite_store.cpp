#include "server/settlement/sqlite_store.hpp"

#include <array>

#include "server/core/sqlite_util.hpp"

namespace lg::server::settlement {

using namespace sqlite;

namespace {

// A posting per charge (the charge itself stays as billing priced it). A confirmed posting names
// its month; the month's settlement is one aggregate over postings_by_month (a covering index),
// so settling a month reads each posting once and writes one row per statement.
constexpr std::string_view kV1 = R"sql(
CREATE TABLE charge_postings (
  charge TEXT PRIMARY KEY REFERENCES charges(id),
  user TEXT NOT NULL,
  instrument TEXT NOT NULL,
  category TEXT NOT NULL DEFAULT '',
  currency TEXT NOT NULL,
  charged_fen INTEGER NOT NULL CHECK (charged_fen >= 0),
  amount_fen INTEGER NOT NULL CHECK (amount_fen >= 0),
  account TEXT NOT NULL DEFAULT '',
  revenue TEXT NOT NULL DEFAULT '',
  state TEXT NOT NULL CHECK (state IN ('review', 'confirmed', 'posted')),
  end_ms INTEGER NOT NULL,
  month TEXT NOT NULL DEFAULT '',
  review_until_ms INTEGER NOT NULL,
  adjusted_by TEXT NOT NULL DEFAULT '',
  reason TEXT NOT NULL DEFAULT '',
  confirmed_ms INTEGER,
  posted_ms INTEGER,
  CHECK ((state = 'review') = (month = ''))
);
CREATE INDEX postings_due ON charge_postings(review_until_ms) WHERE state = 'review';
CREATE INDEX postings_by_month ON charge_postings(month, state, account, revenue, currency, amount_fen)
  WHERE state = 'confirmed';
CREATE INDEX postings_by_end ON charge_postings(end_ms);
CREATE TABLE settlement_months (
  month TEXT PRIMARY KEY,
  closed_ms INTEGER NOT NULL,
  closed_by TEXT NOT NULL,
  charges INTEGER NOT NULL,
  total_fen INTEGER NOT NULL,
  statements INTEGER NOT NULL
);
CREATE TABLE statements (
  id TEXT PRIMARY KEY,
  account TEXT NOT NULL,
  month TEXT NOT NULL REFERENCES settlement_months(month),
  currency TEXT NOT NULL,
  project_code TEXT NOT NULL DEFAULT '',
  total_fen INTEGER NOT NULL CHECK (total_fen >= 0),
  charges INTEGER NOT NULL,
  closed_ms INTEGER NOT NULL,
  paid_ms INTEGER,
  paid_ref TEXT NOT NULL DEFAULT '',
  UNIQUE (account, month)
);
CREATE TABLE statement_parts (
  statement TEXT NOT NULL REFERENCES statements(id),
  revenue TEXT NOT NULL,
  total_fen INTEGER NOT NULL,
  charges INTEGER NOT NULL,
  PRIMARY KEY (statement, revenue)
);
CREATE TABLE reconciliations (
  id TEXT PRIMARY KEY,
  by_user TEXT NOT NULL,
  at_ms INTEGER NOT NULL
);
CREATE TABLE reconciliation_rows (
  reconciliation TEXT NOT NULL REFERENCES reconciliations(id),
  line INTEGER NOT NULL,
  ref TEXT NOT NULL,
  statement TEXT NOT NULL,
  amount_fen INTEGER NOT NULL,
  outcome TEXT NOT NULL,
  expected_fen INTEGER NOT NULL,
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
    "charge, user, instrument, category, currency, charged_fen, amount_fen, account, revenue, state, end_ms, month, "
    "review_until_ms, adjusted_by, reason, confirmed_ms, posted_ms";

Posting posting_row(db::Statement& r) {
  Posting p;
  p.charge = r.column_text(0);
  p.user = r.column_text(1);
  p.instrument = r.column_text(2);
  p.category = r.column_text(3);
  p.currency = r.column_text(4);
  p.charged_fen = r.column_int64(5);
  p.amount_fen = r.column_int64(6);
  p.account = r.column_text(7);
  p.revenue = r.column_text(8);
  p.state = posting_state_from(r.column_text(9)).value_or(PostingState::review);
  p.end_ms = r.column_int64(10);
  p.month = r.column_text(11);
  p.review_until_ms = r.column_int64(12);
  p.adjusted_by = r.column_text(13);
  p.reason = r.column_text(14);
  p.confirmed_ms = opt_int(r, 15);
  p.posted_ms = opt_int(r, 16);
  return p;
}

constexpr std::string_view kStatementCols =
    "id, account, month, currency, project_code, total_fen, charges, closed_ms, paid_ms, paid_ref";

Statement statement_row(db::Statement& r) {
  Statement s;
  s.id = r.column_text(0);
  s.account = r.column_text(1);
  s.month = r.column_text(2);
  s.currency = r.column_text(3);
  s.project_code = r.column_text(4);
  s.total_fen = r.column_int64(5);
  s.charges = r.column_int64(6);
  s.closed_ms = r.column_int64(7);
  s.paid_ms = opt_int(r, 8);
  s.paid_ref = r.column_text(9);
  return s;
}

}  // namespace

std::span<const db::Migration> migrations() { return kMigrations; }

Result<std::vector<ChargeFacts>> SqliteStore::untaken(int64_t created_from_ms, int32_t limit) {
  auto q = db_.conn().prepare(
      "SELECT c.id, c.user, c.instrument, COALESCE(i.lab, ''), COALESCE(l.unit, ''), c.category, c.currency, "
      "c.amount_fen, c.end_ms FROM charges c LEFT JOIN instruments i ON i.id = c.instrument "
      "LEFT JOIN labs l ON l.id = i.lab "
      "WHERE c.created_ms >= ? AND NOT EXISTS (SELECT 1 FROM charge_postings p WHERE p.charge = c.id) "
      "ORDER BY c.end_ms, c.id LIMIT ?");
  if (!q) return q.error();
  q->bind(1, created_from_ms).bind(2, int64_t{limit});
  std::vector<ChargeFacts> out;
  if (auto s = each_row(*q, [&](db::Statement& r) {
        out.push_back(ChargeFacts{r.column_text(0), r.column_text(1), r.column_text(2), r.column_text(3),
                                  r.column_text(4), r.column_text(5), r.column_text(6), r.column_int64(7),
                                  r.column_int64(8)});
      });
      !s)
    return s.error();
  return out;
}

Result<std::vector<Choice>> SqliteStore::choices(const std::string& user, int64_t now_ms) {
  auto q = db_.conn().prepare(
      "SELECT m.account, m.is_default, (a.closed_ms IS NULL AND (a.end_ms IS NULL OR a.end_ms > ?2)) "
      "FROM ledger_members m JOIN ledger_accounts a ON a.id = m.account "
      "WHERE m.user = ?1 AND m.revoked_ms IS NULL AND a.kind IN ('grant', 'deposit', 'credit') ORDER BY m.account");
  if (!q) return q.error();
  q->bind(1, user).bind(2, now_ms);
  std::vector<Choice> out;
  if (auto s = each_row(*q, [&](db::Statement& r) {
        out.push_back(Choice{r.column_text(0), r.column_int64(1) != 0, r.column_int64(2) != 0});
      });
      !s)
    return s.error();
  return out;
}

Status SqliteStore::add_posting(const Posting& p) {
  auto st = db_.conn().prepare("INSERT INTO charge_postings(" + std::string(kPostingCols) +
                               ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
  if (!st) return st.error();
  st->bind(1, p.charge).bind(2, p.user).bind(3, p.instrument).bind(4, p.category).bind(5, p.currency);
  st->bind(6, p.charged_fen).bind(7, p.amount_fen).bind(8, p.account).bind(9, p.revenue).bind(10, to_string(p.state));
  st->bind(11, p.end_ms).bind(12, p.month).bind(13, p.review_until_ms).bind(14, p.adjusted_by).bind(15, p.reason);
  st->bind(16, p.confirmed_ms).bind(17, p.posted_ms);
  if (auto s = st->run(); !s) {
    if (db::is_constraint(s.error())) return domain_error(Errc::conflict, "posting: charge " + p.charge + " has one");
    return s;
  }
  return {};
}

Result<std::vector<Posting>> SqliteStore::postings_where(const std::string& where,
                                                         const std::function<void(db::Statement&)>& bind) {
  auto q = db_.conn().prepare("SELECT " + std::string(kPostingCols) + " FROM charge_postings " + where);
  if (!q) return q.error();
  bind(*q);
  std::vector<Posting> out;
  if (auto s = each_row(*q, [&](db::Statement& r) { out.push_back(posting_row(r)); }); !s) return s.error();
  return out;
}

Result<std::optional<Posting>> SqliteStore::posting(const std::string& charge) {
  auto v = postings_where("WHERE charge = ?", [&](db::Statement& q) { q.bind(1, charge); });
  if (!v) return v.error();
  if (v->empty()) return std::optional<Posting>{};
  return std::optional<Posting>{v->front()};
}

Status SqliteStore::update_posting(const Posting& p) {
  auto& d = db_.conn();
  auto st = d.prepare(
      "UPDATE charge_postings SET amount_fen = ?, account = ?, revenue = ?, state = ?, month = ?, review_until_ms = ?, "
      "adjusted_by = ?, reason = ?, confirmed_ms = ?, posted_ms = ? WHERE charge = ?");
  if (!st) return st.error();
  st->bind(1, p.amount_fen).bind(2, p.account).bind(3, p.revenue).bind(4, to_string(p.state)).bind(5, p.month);
  st->bind(6, p.review_until_ms).bind(7, p.adjusted_by).bind(8, p.reason).bind(9, p.confirmed_ms).bind(10, p.posted_ms);
  st->bind(11, p.charge);
  LG_TRY(st->run());
  if (d.changes() == 0) return domain_error(Errc::not_found, "posting: no posting of charge '" + p.charge + "'");
  return {};
}

Result<std::vector<Posting>> SqliteStore::due(int64_t due_ms, int32_t limit) {
  return postings_where(
      "WHERE state = 'review' AND review_until_ms <= ? AND account <> '' AND revenue <> '' "
      "ORDER BY review_until_ms, charge LIMIT ?",
      [&](db::Statement& q) { q.bind(1, due_ms).bind(2, int64_t{limit}); });
}

Result<std::vector<Posting>> SqliteStore::postings(const PostingFilter& f, int32_t limit) {
  return postings_where(
      "WHERE (?1 = '' OR state = ?1) AND (?2 = '' OR account = ?2) AND (?3 = '' OR instrument = ?3) "
      "AND (?4 = '' OR user = ?4) AND (?5 = '' OR month = ?5) ORDER BY end_ms DESC, charge DESC LIMIT ?6",
      [&](db::Statement& q) {
        q.bind(1, f.state ? to_string(*f.state) : "").bind(2, f.account).bind(3, f.instrument).bind(4, f.user);
        q.bind(5, f.month).bind(6, int64_t{limit});
      });
}

Result<std::set<std::string>> SqliteStore::closed_months() {
  auto q = db_.conn().prepare("SELECT month FROM settlement_months");
  if (!q) return q.error();
  std::set<std::string> out;
  if (auto s = each_row(*q, [&](db::Statement& r) { out.insert(r.column_text(0)); }); !s) return s.error();
  return out;
}

Result<std::vector<MonthTotal>> SqliteStore::month_totals(const std::string& month) {
  auto q = db_.conn().prepare(
      "SELECT account, revenue, currency, count(*), SUM(amount_fen) FROM charge_postings "
      "WHERE month = ? AND state = 'confirmed' GROUP BY account, revenue, currency ORDER BY account, revenue");
  if (!q) return q.error();
  q->bind(1, month);
  std::vector<MonthTotal> out;
  if (auto s = each_row(*q, [&](db::Statement& r) {
        out.push_back(MonthTotal{r.column_text(0), r.column_text(1), r.column_text(2), r.column_int64(3), r.column_int64(4)});
      });
      !s)
    return s.error();
  return out;
}

Status SqliteStore::close_month(const MonthClose& m, const std::vector<Statement>& statements,
                                const std::vector<StatementPart>& parts) {
  return db_.run([&]() -> Status {
    auto& d = db_.conn();
    auto mo = d.prepare(
        "INSERT INTO settlement_months(month, closed_ms, closed_by, charges, total_fen, statements) "
        "VALUES (?,?,?,?,?,?)");
    if (!mo) return mo.error();
    mo->bind(1, m.month).bind(2, m.closed_ms).bind(3, m.by).bind(4, m.charges).bind(5, m.total_fen).bind(6, m.statements);
    if (auto s = mo->run(); !s) {
      if (db::is_constraint(s.error())) return domain_error(Errc::conflict, "month " + m.month + " is closed already");
      return s;
    }
    auto st = d.prepare("INSERT INTO statements(" + std::string(kStatementCols) + ") VALUES (?,?,?,?,?,?,?,?,?,?)");
    if (!st) return st.error();
    for (const auto& s : statements) {
      st->bind(1, s.id).bind(2, s.account).bind(3, s.month).bind(4, s.currency).bind(5, s.project_code);
      st->bind(6, s.total_fen).bind(7, s.charges).bind(8, s.closed_ms).bind(9, s.paid_ms).bind(10, s.paid_ref);
      LG_TRY(st->run());
    }
    auto pt = d.prepare("INSERT INTO statement_parts(statement, revenue, total_fen, charges) VALUES (?,?,?,?)");
    if (!pt) return pt.error();
    for (const auto& p : parts) {
      pt->bind(1, p.statement).bind(2, p.revenue).bind(3, p.total_fen).bind(4, p.charges);
      LG_TRY(pt->run());
    }
    return {};
  });
}

Result<std::vector<MonthClose>> SqliteStore::months() {
  auto q = db_.conn().prepare(
      "SELECT month, closed_ms, closed_by, charges, total_fen, statements FROM settlement_months ORDER BY month DESC");
  if (!q) return q.error();
  std::vector<MonthClose> out;
  if (auto s = each_row(*q, [&](db::Statement& r) {
        out.push_back(MonthClose{r.column_text(0), r.column_int64(1), r.column_text(2), r.column_int64(3),
                                 r.column_int64(4), r.column_int64(5)});
      });
      !s)
    return s.error();
  return out;
}

Result<std::vector<Statement>> SqliteStore::statements_where(const std::string& where,
                                                             const std::function<void(db::Statement&)>& bind) {
  auto q = db_.conn().prepare("SELECT " + std::string(kStatementCols) + " FROM statements " + where);
  if (!q) return q.error();
  bind(*q);
  std::vector<Statement> out;
  if (auto s = each_row(*q, [&](db::Statement& r) { out.push_back(statement_row(r)); }); !s) return s.error();
  return out;
}

Result<std::vector<Statement>> SqliteStore::statements(const std::string& month, const std::string& account,
                                                       int32_t limit) {
  return statements_where("WHERE (?1 = '' OR month = ?1) AND (?2 = '' OR account = ?2) ORDER BY id LIMIT ?3",
                          [&](db::Statement& q) { q.bind(1, month).bind(2, account).bind(3, int64_t{limit}); });
}

Result<std::vector<Statement>> SqliteStore::statements_by_id(const std::vector<std::string>& ids) {
  std::vector<Statement> out;
  for (const auto& id : ids) {
    auto v = statements_where("WHERE id = ?", [&](db::Statement& q) { q.bind(1, id); });
    if (!v) return v.error();
    for (auto& s : *v) out.push_back(std::move(s));
  }
  return out;
}

Result<std::vector<StatementPart>> SqliteStore::parts(const std::string& month) {
  auto q = db_.conn().prepare(
      "SELECT p.statement, p.revenue, p.total_fen, p.charges FROM statement_parts p JOIN statements s "
      "ON s.id = p.statement WHERE s.month = ? ORDER BY p.statement, p.revenue");
  if (!q) return q.error();
  q->bind(1, month);
  std::vector<StatementPart> out;
  if (auto s = each_row(*q, [&](db::Statement& r) {
        out.push_back(StatementPart{r.column_text(0), r.column_text(1), r.column_int64(2), r.column_int64(3)});
      });
      !s)
    return s.error();
  return out;
}

Status SqliteStore::mark_paid(const std::string& statement, const std::string& ref, int64_t now_ms) {
  auto st = db_.conn().prepare("UPDATE statements SET paid_ms = ?, paid_ref = ? WHERE id = ? AND paid_ms IS NULL");
  if (!st) return st.error();
  st->bind(1, now_ms).bind(2, ref).bind(3, statement);
  LG_TRY(st->run());
  if (db_.conn().changes() == 0) return domain_error(Errc::conflict, "statement " + statement + " is paid already");
  return {};
}

Status SqliteStore::add_reconciliation(const std::string& id, const std::string& by, int64_t now_ms,
                                       const std::vector<MatchResult>& rows) {
  return db_.run([&]() -> Status {
    auto& d = db_.conn();
    auto r = d.prepare("INSERT INTO reconciliations(id, by_user, at_ms) VALUES (?,?,?)");
    if (!r) return r.error();
    r->bind(1, id).bind(2, by).bind(3, now_ms);
    LG_TRY(r->run());
    auto st = d.prepare(
        "INSERT INTO reconciliation_rows(reconciliation, line, ref, statement, amount_fen, outcome, expected_fen, "
        "detail) VALUES (?,?,?,?,?,?,?,?)");
    if (!st) return st.error();
    for (const auto& m : rows) {
      st->bind(1, id).bind(2, m.row.line).bind(3, m.row.ref).bind(4, m.row.statement).bind(5, m.row.amount_fen);
      st->bind(6, to_string(m.outcome)).bind(7, m.expected_fen).bind(8, m.detail);
      LG_TRY(st->run());
    }
    return {};
  });
}

Result<std::vector<MatchResult>> SqliteStore::reconciliation(const std::string& id) {
  auto q = db_.conn().prepare(
      "SELECT line, ref, statement, amount_fen, outcome, expected_fen, detail FROM reconciliation_rows "
      "WHERE reconciliation = ? ORDER BY line");
  if (!q) return q.error();
  q->bind(1, id);
  std::vector<MatchResult> out;
  if (auto s = each_row(*q, [&](db::Statement& r) {
        MatchResult m;
        m.row = FinanceRow{r.column_int64(0), r.column_text(1), r.column_text(2), r.column_int64(3)};
        m.statement = m.row.statement;
        m.outcome = match_outcome_from(r.column_text(4)).value_or(MatchOutcome::unknown_statement);
        m.expected_fen = r.column_int64(5);
        m.detail = r.column_text(6);
        out.push_back(std::move(m));
      });
      !s)
    return s.error();
  return out;
}

}  // namespace lg::server::settlement
