#include "server/billing/pg_store.hpp"

#include <array>

#include "labgate/common/crypto.hpp"
#include "server/core/pg_util.hpp"

namespace lg::server::billing {

using namespace pgsql;

namespace {

// One charge per session (UNIQUE session): usage::rules close_session decides charge-once, the
// constraint guards it.
constexpr std::string_view kV1 = R"sql(
CREATE TABLE fee_standards (
  instrument TEXT PRIMARY KEY REFERENCES instruments(id),
  internal_fen_per_hour BIGINT NOT NULL CHECK (internal_fen_per_hour >= 0),
  external_fen_per_hour BIGINT NOT NULL CHECK (external_fen_per_hour >= 0),
  currency TEXT NOT NULL,
  updated_ms BIGINT NOT NULL
);
CREATE TABLE charges (
  id TEXT PRIMARY KEY,
  session TEXT NOT NULL UNIQUE REFERENCES usage_sessions(id),
  instrument TEXT NOT NULL,
  user_id TEXT NOT NULL DEFAULT '',
  category TEXT NOT NULL DEFAULT '',
  rate_fen_per_hour BIGINT NOT NULL,
  duration_ms BIGINT NOT NULL,
  amount_fen BIGINT NOT NULL CHECK (amount_fen >= 0),
  currency TEXT NOT NULL,
  flags TEXT NOT NULL DEFAULT '',
  end_ms BIGINT NOT NULL,
  created_ms BIGINT NOT NULL
);
CREATE INDEX charges_by_end ON charges(end_ms, id);
)sql";

constexpr std::string_view kV2 = R"sql(
ALTER TABLE fee_standards ADD COLUMN retired_ms BIGINT;
)sql";

// Fee standard versions with their lines and steps; today's hourly standards become published
// versions (effective from the beginning) of one exact-time hour line (as on SQLite).
constexpr std::string_view kV3 = R"sql(
CREATE TABLE fee_versions (
  id TEXT PRIMARY KEY,
  instrument TEXT NOT NULL REFERENCES instruments(id),
  number INTEGER NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('draft', 'unit_review', 'finance_review', 'committee', 'published', 'withdrawn')),
  currency TEXT NOT NULL,
  effective_from_ms BIGINT,
  retired_ms BIGINT,
  energy_fen BIGINT NOT NULL DEFAULT 0,
  consumables_fen BIGINT NOT NULL DEFAULT 0,
  maintenance_fen BIGINT NOT NULL DEFAULT 0,
  depreciation_fen BIGINT NOT NULL DEFAULT 0,
  labour_fen BIGINT NOT NULL DEFAULT 0,
  hours_per_year BIGINT NOT NULL DEFAULT 0,
  night_from_min INTEGER NOT NULL DEFAULT 1320,
  night_to_min INTEGER NOT NULL DEFAULT 480,
  weekend_days INTEGER NOT NULL DEFAULT 96,
  note TEXT NOT NULL DEFAULT '',
  created_by TEXT NOT NULL DEFAULT '',
  created_ms BIGINT NOT NULL,
  updated_ms BIGINT NOT NULL,
  UNIQUE (instrument, number),
  CHECK (state <> 'published' OR effective_from_ms IS NOT NULL)
);
CREATE INDEX fee_versions_by_state ON fee_versions(instrument, state);
CREATE TABLE fee_lines (
  version TEXT NOT NULL REFERENCES fee_versions(id),
  pos INTEGER NOT NULL,
  code TEXT NOT NULL,
  name TEXT NOT NULL,
  kind TEXT NOT NULL,
  unit TEXT NOT NULL,
  internal_fen BIGINT NOT NULL CHECK (internal_fen >= 0),
  other_campus_fen BIGINT NOT NULL CHECK (other_campus_fen >= 0),
  external_academic_fen BIGINT NOT NULL CHECK (external_academic_fen >= 0),
  enterprise_fen BIGINT NOT NULL CHECK (enterprise_fen >= 0),
  min_fee_fen BIGINT NOT NULL CHECK (min_fee_fen >= 0),
  unit_minutes INTEGER NOT NULL,
  rounding TEXT NOT NULL,
  booked TEXT NOT NULL,
  overtime_bp BIGINT NOT NULL,
  night_factor_bp BIGINT NOT NULL,
  weekend_factor_bp BIGINT NOT NULL,
  night_from_min INTEGER,
  night_to_min INTEGER,
  PRIMARY KEY (version, code)
);
CREATE TABLE fee_steps (
  version TEXT NOT NULL REFERENCES fee_versions(id),
  seq INTEGER NOT NULL,
  who TEXT NOT NULL,
  at_ms BIGINT NOT NULL,
  action TEXT NOT NULL,
  from_state TEXT NOT NULL,
  to_state TEXT NOT NULL,
  comment TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (version, seq)
);
INSERT INTO fee_versions(id, instrument, number, state, currency, effective_from_ms, retired_ms, created_by,
                         created_ms, updated_ms)
  SELECT 'fv-' || instrument || '-1', instrument, 1, 'published', currency, 0, retired_ms, 'migration', updated_ms,
         updated_ms FROM fee_standards;
INSERT INTO fee_lines(version, pos, code, name, kind, unit, internal_fen, other_campus_fen, external_academic_fen,
                      enterprise_fen, min_fee_fen, unit_minutes, rounding, booked, overtime_bp, night_factor_bp,
                      weekend_factor_bp)
  SELECT 'fv-' || instrument || '-1', 0, 'hour', 'Machine time', 'hour', 'hour', internal_fen_per_hour,
         external_fen_per_hour, external_fen_per_hour, external_fen_per_hour, 0, 60, 'exact', 'used', 0, 10000, 10000
  FROM fee_standards;
INSERT INTO fee_steps(version, seq, who, at_ms, action, from_state, to_state, comment)
  SELECT 'fv-' || instrument || '-1', 1, 'migration', updated_ms, 'imported', 'published', 'published',
         'the hourly standard in force before fee standard versions'
  FROM fee_standards;
)sql";

constexpr std::string_view kV4 = R"sql(
ALTER TABLE charges ADD COLUMN fee_version TEXT NOT NULL DEFAULT '';
ALTER TABLE charges ADD COLUMN lines TEXT NOT NULL DEFAULT '';
)sql";

constexpr std::array<db::Migration, 4> kMigrations{{{1, "fee standards and charges", kV1},
                                                    {2, "fee standards can be retired", kV2},
                                                    {3, "fee standard versions, lines and steps", kV3},
                                                    {4, "charges name their fee standard version", kV4}}};

constexpr std::string_view kVersionCols =
    "v.id, v.instrument, v.number, v.state, v.currency, v.effective_from_ms, v.retired_ms, v.energy_fen, "
    "v.consumables_fen, v.maintenance_fen, v.depreciation_fen, v.labour_fen, v.hours_per_year, v.night_from_min, "
    "v.night_to_min, v.weekend_days, v.note, v.created_by, v.created_ms, v.updated_ms";
constexpr std::string_view kLineCols =
    "l.version, l.code, l.name, l.kind, l.unit, l.internal_fen, l.other_campus_fen, l.external_academic_fen, "
    "l.enterprise_fen, l.min_fee_fen, l.unit_minutes, l.rounding, l.booked, l.overtime_bp, l.night_factor_bp, "
    "l.weekend_factor_bp, l.night_from_min, l.night_to_min";

FeeVersion version_row(const pg::Rows& r, int i) {
  FeeVersion v;
  v.id = r.text(i, 0);
  v.instrument = r.text(i, 1);
  v.number = static_cast<int32_t>(r.i64(i, 2));
  v.state = fee_state_from(r.text(i, 3)).value_or(FeeState::draft);
  v.currency = r.text(i, 4);
  v.effective_from_ms = r.opt_i64(i, 5);
  v.retired_ms = r.opt_i64(i, 6);
  v.cost = CostBasis{r.i64(i, 7), r.i64(i, 8), r.i64(i, 9), r.i64(i, 10), r.i64(i, 11), r.i64(i, 12)};
  v.night = NightWindow{static_cast<int32_t>(r.i64(i, 13)), static_cast<int32_t>(r.i64(i, 14))};
  v.weekend_days = static_cast<uint32_t>(r.i64(i, 15));
  v.note = r.text(i, 16);
  v.created_by = r.text(i, 17);
  v.created_ms = r.i64(i, 18);
  v.updated_ms = r.i64(i, 19);
  return v;
}

FeeLine line_row(const pg::Rows& r, int i) {
  FeeLine l;
  l.code = r.text(i, 1);
  l.name = r.text(i, 2);
  l.kind = line_kind_from(r.text(i, 3)).value_or(LineKind::hour);
  l.unit = r.text(i, 4);
  l.prices = Prices{r.i64(i, 5), r.i64(i, 6), r.i64(i, 7), r.i64(i, 8)};
  l.min_fee_fen = r.i64(i, 9);
  l.unit_minutes = static_cast<int32_t>(r.i64(i, 10));
  l.rounding = rounding_from(r.text(i, 11)).value_or(Rounding::up);
  l.booked = booked_rule_from(r.text(i, 12)).value_or(BookedRule::used);
  l.overtime_bp = r.i64(i, 13);
  l.night_factor_bp = r.i64(i, 14);
  l.weekend_factor_bp = r.i64(i, 15);
  auto f = r.opt_i64(i, 16);
  auto t = r.opt_i64(i, 17);
  if (f && t) l.night = NightWindow{static_cast<int32_t>(*f), static_cast<int32_t>(*t)};
  return l;
}

/// Versions by a WHERE on v (parameter $1 = arg, text or text[]), then their lines: two reads.
Result<std::vector<FeeVersion>> read_versions(pg::Conn& c, const std::string& where, const std::string& arg) {
  auto r = c.q("SELECT " + std::string(kVersionCols) + " FROM fee_versions v WHERE " + where +
                   " ORDER BY v.instrument, v.number",
               arg);
  if (!r) return r.error();
  std::vector<FeeVersion> out;
  for (int i = 0; i < r->size(); ++i) out.push_back(version_row(*r, i));
  if (out.empty()) return out;
  auto l = c.q("SELECT " + std::string(kLineCols) + " FROM fee_lines l JOIN fee_versions v ON v.id = l.version WHERE " +
                   where + " ORDER BY l.version, l.pos",
               arg);
  if (!l) return l.error();
  std::map<std::string, std::vector<FeeLine>> lines;
  for (int i = 0; i < l->size(); ++i) lines[l->text(i, 0)].push_back(line_row(*l, i));
  for (auto& v : out) v.lines = std::move(lines[v.id]);
  return out;
}

Status write_lines(pg::Conn& c, const FeeVersion& v) {
  LG_TRY(done(c.q("DELETE FROM fee_lines WHERE version = $1", v.id)));
  for (std::size_t i = 0; i < v.lines.size(); ++i) {
    const FeeLine& l = v.lines[i];
    std::optional<int64_t> nf, nt;
    if (l.night) {
      nf = l.night->from_min;
      nt = l.night->to_min;
    }
    LG_TRY(
        done(c.q("INSERT INTO fee_lines(version, pos, code, name, kind, unit, internal_fen, other_campus_fen, "
                 "external_academic_fen, enterprise_fen, min_fee_fen, unit_minutes, rounding, booked, overtime_bp, "
                 "night_factor_bp, weekend_factor_bp, night_from_min, night_to_min) "
                 "VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19)",
                 v.id, static_cast<int64_t>(i), l.code, l.name, to_string(l.kind), l.unit, l.prices.internal,
                 l.prices.other_campus, l.prices.external_academic, l.prices.enterprise, l.min_fee_fen,
                 static_cast<int64_t>(l.unit_minutes), to_string(l.rounding), to_string(l.booked), l.overtime_bp,
                 l.night_factor_bp, l.weekend_factor_bp, nf, nt)));
  }
  return {};
}

Status add_step(pg::Conn& c, const FeeStep& s) {
  return done(
      c.q("INSERT INTO fee_steps(version, seq, who, at_ms, action, from_state, to_state, comment) "
          "SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4, $5, $6, $7 FROM fee_steps WHERE version = $1",
          s.version, s.who, s.at_ms, to_string(s.action), to_string(s.from), to_string(s.to), s.comment));
}

Result<FeeVersion> insert_version(pg::Conn& c, FeeVersion v, const FeeStep& step) {
  LG_TRY(require_ref(c, "instruments", "instrument", v.instrument, "instrument"));
  LG_TRY(require_absent(c, "fee_versions", v.id, "fee standard version"));
  auto n = c.q("SELECT COALESCE(MAX(number), 0) + 1 FROM fee_versions WHERE instrument = $1", v.instrument);
  if (!n) return n.error();
  v.number = static_cast<int32_t>(n->i64(0, 0));
  LG_TRY(
      done(c.q("INSERT INTO fee_versions(id, instrument, number, state, currency, effective_from_ms, retired_ms, "
               "energy_fen, consumables_fen, maintenance_fen, depreciation_fen, labour_fen, hours_per_year, "
               "night_from_min, night_to_min, weekend_days, note, created_by, created_ms, updated_ms) "
               "VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20)",
               v.id, v.instrument, static_cast<int64_t>(v.number), to_string(v.state), v.currency, v.effective_from_ms,
               v.retired_ms, v.cost.energy_fen, v.cost.consumables_fen, v.cost.maintenance_fen, v.cost.depreciation_fen,
               v.cost.labour_fen, v.cost.hours_per_year, static_cast<int64_t>(v.night.from_min),
               static_cast<int64_t>(v.night.to_min), static_cast<int64_t>(v.weekend_days), v.note, v.created_by,
               v.created_ms, v.updated_ms)));
  LG_TRY(write_lines(c, v));
  FeeStep s = step;
  s.version = v.id;
  LG_TRY(add_step(c, s));
  return v;
}

FeeVersion imported_version(const FeeStandard& f, int64_t now_ms, bool first, const std::string& who) {
  FeeVersion v;
  v.id = crypto::uuid7();
  v.instrument = f.instrument;
  v.state = FeeState::published;
  v.currency = f.currency;
  v.effective_from_ms = f.effective_from_ms ? *f.effective_from_ms : first ? 0 : now_ms;
  v.note = "imported hourly standard";
  v.created_by = who;
  v.created_ms = now_ms;
  v.updated_ms = now_ms;
  FeeLine l;
  l.code = "hour";
  l.name = "Machine time";
  l.kind = LineKind::hour;
  l.unit = "hour";
  l.prices = Prices{f.internal_fen_per_hour, f.external_fen_per_hour, f.external_fen_per_hour, f.external_fen_per_hour};
  l.rounding = Rounding::exact;
  v.lines.push_back(std::move(l));
  return v;
}

Charge charge_row(const pg::Rows& r, int i) { return pgrows::charge(r, i, 0); }

FeeStandard fee_row(const pg::Rows& r, int i) { return FeeStandard{r.text(i, 0), r.i64(i, 1), r.i64(i, 2), r.text(i, 3)}; }
FeeStandard fee_row_retired(const pg::Rows& r, int i) {
  FeeStandard f = fee_row(r, i);
  f.retired_ms = r.opt_i64(i, 4);
  return f;
}

}  // namespace

std::span<const db::Migration> pg_migrations() { return kMigrations; }

namespace pgrows {
Charge charge(const pg::Rows& r, int i, int c) {
  Charge ch;
  ch.id = r.text(i, c);
  ch.session = r.text(i, c + 1);
  ch.instrument = r.text(i, c + 2);
  ch.user = r.text(i, c + 3);
  ch.category = r.text(i, c + 4);
  ch.rate_fen_per_hour = r.i64(i, c + 5);
  ch.duration_ms = r.i64(i, c + 6);
  ch.amount_fen = r.i64(i, c + 7);
  ch.currency = r.text(i, c + 8);
  ch.flags = split_flags(r.text(i, c + 9));
  ch.end_ms = r.i64(i, c + 10);
  ch.fee_version = r.text(i, c + 11);
  ch.lines = r.text(i, c + 12);
  return ch;
}
}  // namespace pgrows

Status PgStore::put_fee_standard(const FeeStandard& f, int64_t now_ms, const std::string& who) {
  return db_.run([&]() -> Status {
    auto& c = db_.conn();
    LG_TRY(require_ref(c, "instruments", "instrument", f.instrument, "instrument"));
    auto any = c.q("SELECT 1 FROM fee_versions WHERE instrument = $1 AND state = 'published' LIMIT 1", f.instrument);
    if (!any) return any.error();
    FeeStep step;
    step.who = who;
    step.at_ms = now_ms;
    step.action = FeeAction::imported;
    step.from = FeeState::published;
    step.to = FeeState::published;
    step.comment = "imported: approved outside labgate";
    auto v = insert_version(c, imported_version(f, now_ms, any->size() == 0, who), step);
    if (!v) return v.error();
    return done(c.q("INSERT INTO fee_standards(instrument, internal_fen_per_hour, external_fen_per_hour, currency, "
                    "updated_ms) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (instrument) DO UPDATE SET "
                    "internal_fen_per_hour = excluded.internal_fen_per_hour, "
                    "external_fen_per_hour = excluded.external_fen_per_hour, currency = excluded.currency, "
                    "updated_ms = excluded.updated_ms, retired_ms = NULL",
                    f.instrument, f.internal_fen_per_hour, f.external_fen_per_hour, f.currency, now_ms));
  });
}

Result<PageOf<FeeStandard>> PgStore::fee_standards(const Page& p) {
  static constexpr Keyset q{
      "SELECT instrument, internal_fen_per_hour, external_fen_per_hour, currency, retired_ms, instrument "
      "FROM fee_standards WHERE true",
      5, "(instrument)", "s", false, "ORDER BY instrument"};
  return read_all_page<FeeStandard>(db_.conn(), q, p, fee_row_retired);
}

Result<FeeStandard> PgStore::retire_fee_standard(const std::string& instrument, int64_t now_ms) {
  FeeStandard out;
  auto s = db_.run([&]() -> Status {
    auto r = db_.conn().q(
        "SELECT instrument, internal_fen_per_hour, external_fen_per_hour, currency, retired_ms FROM fee_standards "
        "WHERE instrument = $1 FOR UPDATE",
        instrument);
    if (!r) return r.error();
    if (r->empty()) return domain_error(Errc::not_found, "instrument: no fee standard for '" + instrument + "'");
    out = fee_row_retired(*r, 0);
    if (out.retired_ms) return domain_error(Errc::conflict, "instrument: the fee standard of '" + instrument + "' is retired already");
    LG_TRY(done(db_.conn().q("UPDATE fee_standards SET retired_ms = $1, updated_ms = $1 WHERE instrument = $2", now_ms,
                             instrument)));
    return done(
        db_.conn().q("UPDATE fee_versions SET retired_ms = $1, updated_ms = $1 WHERE instrument = $2 AND "
                     "state = 'published' AND retired_ms IS NULL",
                     now_ms, instrument));
  });
  if (!s) return s.error();
  return out;
}

Result<std::map<std::string, std::optional<FeeStandard>>> PgStore::fees(std::span<const std::string> instruments) {
  std::map<std::string, std::optional<FeeStandard>> out;
  pg::ArrayLiteral asked;
  for (const auto& i : instruments) {
    if (out.try_emplace(i).second) asked.add(i);
  }
  if (out.empty()) return out;
  auto r = db_.conn().q(
      "SELECT f.instrument, f.internal_fen_per_hour, f.external_fen_per_hour, f.currency FROM unnest($1::text[]) "
      "AS k(instrument) JOIN fee_standards f ON f.instrument = k.instrument AND f.retired_ms IS NULL",
      asked.str());
  if (!r) return r.error();
  for (int i = 0; i < r->size(); ++i) out[r->text(i, 0)] = fee_row(*r, i);
  return out;
}

Result<std::vector<std::string>> PgStore::insert_charges(std::span<const Charge> charges, int64_t now_ms) {
  std::vector<std::string> stored;
  if (charges.empty()) return stored;
  pg::ArrayLiteral id, session, instrument, user, category, rate, duration, amount, currency, flags, end, version,
      lines;
  for (const auto& ch : charges) {
    id.add(ch.id);
    session.add(ch.session);
    instrument.add(ch.instrument);
    user.add(ch.user);
    category.add(ch.category);
    rate.add(ch.rate_fen_per_hour);
    duration.add(ch.duration_ms);
    amount.add(ch.amount_fen);
    currency.add(ch.currency);
    flags.add(join_flags(ch.flags));
    end.add(ch.end_ms);
    version.add(ch.fee_version);
    lines.add(ch.lines);
  }
  auto r = db_.conn().q(
      "INSERT INTO charges(id, session, instrument, user_id, category, rate_fen_per_hour, duration_ms, amount_fen, "
      "currency, flags, end_ms, fee_version, lines, created_ms) "
      "SELECT c.*, $12::bigint FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], "
      "$6::bigint[], $7::bigint[], $8::bigint[], $9::text[], $10::text[], $11::bigint[], $13::text[], $14::text[]) AS "
      "c "
      "ON CONFLICT (session) DO NOTHING RETURNING id",
      id.str(), session.str(), instrument.str(), user.str(), category.str(), rate.str(), duration.str(), amount.str(),
      currency.str(), flags.str(), end.str(), now_ms, version.str(), lines.str());
  if (!r) return r.error();
  stored.reserve(static_cast<std::size_t>(r->size()));
  for (int i = 0; i < r->size(); ++i) stored.push_back(r->text(i, 0));
  return stored;
}

Result<PageOf<Charge>> PgStore::charges(int64_t from_ms, int64_t to_ms, const Page& p) {
  // The period bounds and the key together: PostgreSQL seeks to whichever is later.
  static const std::string select = "SELECT " + std::string(pgrows::kChargeCols) +
                                    ", c.end_ms, c.id FROM charges c WHERE c.end_ms >= $1 AND c.end_ms < $2";
  const Keyset q{select, 13, "(c.end_ms, c.id)", "is", false, "ORDER BY c.end_ms, c.id", 3};
  pg::Params f;
  f.add(from_ms).add(to_ms);
  return read_page<Charge>(db_.conn(), q, p, std::move(f), charge_row);
}

}  // namespace lg::server::billing

namespace lg::server::billing {

Result<FeeVersion> PgStore::create_version(const FeeVersion& v, const FeeStep& step) {
  FeeVersion out;
  auto s = db_.run([&]() -> Status {
    auto r = insert_version(db_.conn(), v, step);
    if (!r) return r.error();
    out = std::move(*r);
    return {};
  });
  if (!s) return s.error();
  return out;
}

Result<std::optional<FeeVersion>> PgStore::version(const std::string& id) {
  auto r = read_versions(db_.conn(), "v.id = $1", id);
  if (!r) return r.error();
  if (r->empty()) return std::optional<FeeVersion>();
  return std::optional<FeeVersion>(std::move(r->front()));
}

Result<std::vector<FeeVersion>> PgStore::versions(const std::string& instrument) {
  return read_versions(db_.conn(), "v.instrument = $1", instrument);
}

Result<std::vector<FeeStep>> PgStore::steps(const std::string& version) {
  auto r = db_.conn().q(
      "SELECT version, seq, who, at_ms, action, from_state, to_state, comment FROM fee_steps WHERE version = $1 "
      "ORDER BY seq",
      version);
  if (!r) return r.error();
  std::vector<FeeStep> out;
  for (int i = 0; i < r->size(); ++i) {
    out.push_back(FeeStep{r->text(i, 0), static_cast<int32_t>(r->i64(i, 1)), r->text(i, 2), r->i64(i, 3),
                          fee_action_from(r->text(i, 4)).value_or(FeeAction::edit),
                          fee_state_from(r->text(i, 5)).value_or(FeeState::draft),
                          fee_state_from(r->text(i, 6)).value_or(FeeState::draft), r->text(i, 7)});
  }
  return out;
}

Status PgStore::update_draft(const FeeVersion& v, const FeeStep& step) {
  return db_.run([&]() -> Status {
    auto& c = db_.conn();
    auto st = c.q("SELECT state FROM fee_versions WHERE id = $1 FOR UPDATE", v.id);
    if (!st) return st.error();
    if (st->empty()) return domain_error(Errc::not_found, "fee standard version '" + v.id + "' not found");
    if (st->text(0, 0) != "draft")
      return domain_error(Errc::conflict, "fee standard version '" + v.id + "' is " + st->text(0, 0) + ", not a draft");
    LG_TRY(done(
        c.q("UPDATE fee_versions SET currency = $1, energy_fen = $2, consumables_fen = $3, maintenance_fen = $4, "
            "depreciation_fen = $5, labour_fen = $6, hours_per_year = $7, night_from_min = $8, "
            "night_to_min = $9, weekend_days = $10, note = $11, updated_ms = $12 WHERE id = $13",
            v.currency, v.cost.energy_fen, v.cost.consumables_fen, v.cost.maintenance_fen, v.cost.depreciation_fen,
            v.cost.labour_fen, v.cost.hours_per_year, static_cast<int64_t>(v.night.from_min),
            static_cast<int64_t>(v.night.to_min), static_cast<int64_t>(v.weekend_days), v.note, step.at_ms, v.id)));
    LG_TRY(write_lines(c, v));
    FeeStep s = step;
    s.version = v.id;
    return add_step(c, s);
  });
}

Status PgStore::move(const std::string& id, FeeState from, FeeState to, std::optional<int64_t> effective_from_ms,
                     const FeeStep& step) {
  return db_.run([&]() -> Status {
    auto& c = db_.conn();
    auto r =
        c.q("UPDATE fee_versions SET state = $1, effective_from_ms = COALESCE($2, effective_from_ms), "
            "updated_ms = $3 WHERE id = $4 AND state = $5 RETURNING id",
            to_string(to), effective_from_ms, step.at_ms, id, to_string(from));
    if (!r) return r.error();
    if (r->empty()) {
      auto st = c.q("SELECT state FROM fee_versions WHERE id = $1", id);
      if (!st) return st.error();
      if (st->empty()) return domain_error(Errc::not_found, "fee standard version '" + id + "' not found");
      return domain_error(Errc::conflict,
                          "fee standard version '" + id + "' is " + st->text(0, 0) + ", no longer " + to_string(from));
    }
    FeeStep s = step;
    s.version = id;
    return add_step(c, s);
  });
}

Result<std::map<std::string, std::vector<FeeVersion>>> PgStore::published(std::span<const std::string> instruments) {
  std::map<std::string, std::vector<FeeVersion>> out;
  pg::ArrayLiteral asked;
  for (const auto& i : instruments) {
    if (out.try_emplace(i).second) asked.add(i);
  }
  if (out.empty()) return out;
  auto r = read_versions(db_.conn(), "v.instrument = ANY($1::text[]) AND v.state = 'published'", asked.str());
  if (!r) return r.error();
  for (auto& v : *r) out[v.instrument].push_back(std::move(v));
  return out;
}

}  // namespace lg::server::billing
