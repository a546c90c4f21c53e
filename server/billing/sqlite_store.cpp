#include "server/billing/sqlite_store.hpp"

#include <array>

#include "labgate/common/crypto.hpp"
#include "server/core/sqlite_util.hpp"

namespace lg::server::billing {

using namespace sqlite;

namespace {

constexpr std::string_view kV1 = R"sql(
CREATE TABLE fee_standards (
  instrument TEXT PRIMARY KEY REFERENCES instruments(id),
  internal_fen_per_hour INTEGER NOT NULL CHECK (internal_fen_per_hour >= 0),
  external_fen_per_hour INTEGER NOT NULL CHECK (external_fen_per_hour >= 0),
  currency TEXT NOT NULL,
  updated_ms INTEGER NOT NULL
);
CREATE TABLE charges (
  id TEXT PRIMARY KEY,
  session TEXT NOT NULL UNIQUE REFERENCES usage_sessions(id),
  instrument TEXT NOT NULL,
  user TEXT NOT NULL DEFAULT '',
  category TEXT NOT NULL DEFAULT '',
  rate_fen_per_hour INTEGER NOT NULL,
  duration_ms INTEGER NOT NULL,
  amount_fen INTEGER NOT NULL,
  currency TEXT NOT NULL,
  flags TEXT NOT NULL DEFAULT '',
  end_ms INTEGER NOT NULL,
  created_ms INTEGER NOT NULL
);
CREATE INDEX charges_by_end ON charges(end_ms, id);
)sql";

constexpr std::string_view kV2 = R"sql(
ALTER TABLE fee_standards ADD COLUMN retired_ms INTEGER;
)sql";

// Fee standard versions with their lines and steps; today's hourly standards become published
// versions (effective from the beginning: they priced every session before) of one exact-time
// hour line, internal price for internal users, the external price for the three outside
// categories, each with an "imported" step.
constexpr std::string_view kV3 = R"sql(
CREATE TABLE fee_versions (
  id TEXT PRIMARY KEY,
  instrument TEXT NOT NULL REFERENCES instruments(id),
  number INTEGER NOT NULL,
  state TEXT NOT NULL,
  currency TEXT NOT NULL,
  effective_from_ms INTEGER,
  retired_ms INTEGER,
  energy_fen INTEGER NOT NULL DEFAULT 0,
  consumables_fen INTEGER NOT NULL DEFAULT 0,
  maintenance_fen INTEGER NOT NULL DEFAULT 0,
  depreciation_fen INTEGER NOT NULL DEFAULT 0,
  labour_fen INTEGER NOT NULL DEFAULT 0,
  hours_per_year INTEGER NOT NULL DEFAULT 0,
  night_from_min INTEGER NOT NULL DEFAULT 1320,
  night_to_min INTEGER NOT NULL DEFAULT 480,
  weekend_days INTEGER NOT NULL DEFAULT 96,
  note TEXT NOT NULL DEFAULT '',
  created_by TEXT NOT NULL DEFAULT '',
  created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL,
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
  internal_fen INTEGER NOT NULL CHECK (internal_fen >= 0),
  other_campus_fen INTEGER NOT NULL CHECK (other_campus_fen >= 0),
  external_academic_fen INTEGER NOT NULL CHECK (external_academic_fen >= 0),
  enterprise_fen INTEGER NOT NULL CHECK (enterprise_fen >= 0),
  min_fee_fen INTEGER NOT NULL CHECK (min_fee_fen >= 0),
  unit_minutes INTEGER NOT NULL,
  rounding TEXT NOT NULL,
  booked TEXT NOT NULL,
  overtime_bp INTEGER NOT NULL,
  night_factor_bp INTEGER NOT NULL,
  weekend_factor_bp INTEGER NOT NULL,
  night_from_min INTEGER,
  night_to_min INTEGER,
  PRIMARY KEY (version, code)
);
CREATE TABLE fee_steps (
  version TEXT NOT NULL REFERENCES fee_versions(id),
  seq INTEGER NOT NULL,
  who TEXT NOT NULL,
  at_ms INTEGER NOT NULL,
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

// A charge names the version that priced it and keeps its priced lines (JSON).
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

FeeVersion version_row(db::Statement& r) {
  FeeVersion v;
  v.id = r.column_text(0);
  v.instrument = r.column_text(1);
  v.number = static_cast<int32_t>(r.column_int64(2));
  v.state = fee_state_from(r.column_text(3)).value_or(FeeState::draft);
  v.currency = r.column_text(4);
  v.effective_from_ms = opt_int(r, 5);
  v.retired_ms = opt_int(r, 6);
  v.cost = CostBasis{r.column_int64(7),  r.column_int64(8),  r.column_int64(9),
                     r.column_int64(10), r.column_int64(11), r.column_int64(12)};
  v.night = NightWindow{static_cast<int32_t>(r.column_int64(13)), static_cast<int32_t>(r.column_int64(14))};
  v.weekend_days = static_cast<uint32_t>(r.column_int64(15));
  v.note = r.column_text(16);
  v.created_by = r.column_text(17);
  v.created_ms = r.column_int64(18);
  v.updated_ms = r.column_int64(19);
  return v;
}

FeeLine line_row(db::Statement& r) {
  FeeLine l;
  l.code = r.column_text(1);
  l.name = r.column_text(2);
  l.kind = line_kind_from(r.column_text(3)).value_or(LineKind::hour);
  l.unit = r.column_text(4);
  l.prices = Prices{r.column_int64(5), r.column_int64(6), r.column_int64(7), r.column_int64(8)};
  l.min_fee_fen = r.column_int64(9);
  l.unit_minutes = static_cast<int32_t>(r.column_int64(10));
  l.rounding = rounding_from(r.column_text(11)).value_or(Rounding::up);
  l.booked = booked_rule_from(r.column_text(12)).value_or(BookedRule::used);
  l.overtime_bp = r.column_int64(13);
  l.night_factor_bp = r.column_int64(14);
  l.weekend_factor_bp = r.column_int64(15);
  if (!r.column_is_null(16) && !r.column_is_null(17))
    l.night = NightWindow{static_cast<int32_t>(r.column_int64(16)), static_cast<int32_t>(r.column_int64(17))};
  return l;
}

/// Versions by a WHERE on v (one bound text), then their lines, in two reads.
Result<std::vector<FeeVersion>> read_versions(db::Database& d, const std::string& where, const std::string& arg) {
  auto q =
      d.prepare("SELECT " + std::string(kVersionCols) + " FROM fee_versions v WHERE " + where + " ORDER BY v.number");
  if (!q) return q.error();
  q->bind(1, arg);
  std::vector<FeeVersion> out;
  LG_TRY(each_row(*q, [&](db::Statement& r) { out.push_back(version_row(r)); }));
  if (out.empty()) return out;
  auto lq = d.prepare("SELECT " + std::string(kLineCols) +
                      " FROM fee_lines l JOIN fee_versions v ON v.id = l.version WHERE " + where +
                      " ORDER BY l.version, l.pos");
  if (!lq) return lq.error();
  lq->bind(1, arg);
  std::map<std::string, std::vector<FeeLine>> lines;
  LG_TRY(each_row(*lq, [&](db::Statement& r) { lines[r.column_text(0)].push_back(line_row(r)); }));
  for (auto& v : out) v.lines = std::move(lines[v.id]);
  return out;
}

Status write_lines(db::Database& d, const FeeVersion& v) {
  auto del = d.prepare("DELETE FROM fee_lines WHERE version = ?");
  if (!del) return del.error();
  del->bind(1, v.id);
  LG_TRY(del->run());
  auto st = d.prepare(
      "INSERT INTO fee_lines(version, pos, code, name, kind, unit, internal_fen, other_campus_fen, "
      "external_academic_fen, enterprise_fen, min_fee_fen, unit_minutes, rounding, booked, overtime_bp, "
      "night_factor_bp, weekend_factor_bp, night_from_min, night_to_min) "
      "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
  if (!st) return st.error();
  for (std::size_t i = 0; i < v.lines.size(); ++i) {
    const FeeLine& l = v.lines[i];
    st->bind(1, v.id).bind(2, static_cast<int64_t>(i)).bind(3, l.code).bind(4, l.name).bind(5, to_string(l.kind));
    st->bind(6, l.unit).bind(7, l.prices.internal).bind(8, l.prices.other_campus).bind(9, l.prices.external_academic);
    st->bind(10, l.prices.enterprise).bind(11, l.min_fee_fen).bind(12, static_cast<int64_t>(l.unit_minutes));
    st->bind(13, to_string(l.rounding)).bind(14, to_string(l.booked)).bind(15, l.overtime_bp);
    st->bind(16, l.night_factor_bp).bind(17, l.weekend_factor_bp);
    if (l.night) {
      st->bind(18, static_cast<int64_t>(l.night->from_min)).bind(19, static_cast<int64_t>(l.night->to_min));
    } else {
      st->bind_null(18).bind_null(19);
    }
    LG_TRY(st->run());
  }
  return {};
}

Status add_step(db::Database& d, const FeeStep& s) {
  auto st = d.prepare(
      "INSERT INTO fee_steps(version, seq, who, at_ms, action, from_state, to_state, comment) "
      "SELECT ?1, COALESCE(MAX(seq), 0) + 1, ?2, ?3, ?4, ?5, ?6, ?7 FROM fee_steps WHERE version = ?1");
  if (!st) return st.error();
  st->bind(1, s.version).bind(2, s.who).bind(3, s.at_ms).bind(4, to_string(s.action)).bind(5, to_string(s.from));
  st->bind(6, to_string(s.to)).bind(7, s.comment);
  return st->run();
}

Result<FeeVersion> insert_version(db::Database& d, FeeVersion v, const FeeStep& step) {
  LG_TRY(require_ref(d, "instruments", "instrument", v.instrument, "instrument"));
  LG_TRY(require_absent(d, "fee_versions", v.id, "fee standard version"));
  auto n = d.prepare("SELECT COALESCE(MAX(number), 0) + 1 FROM fee_versions WHERE instrument = ?");
  if (!n) return n.error();
  n->bind(1, v.instrument);
  auto row = n->step();
  if (!row) return row.error();
  v.number = static_cast<int32_t>(n->column_int64(0));
  n->reset();
  auto st = d.prepare(
      "INSERT INTO fee_versions(id, instrument, number, state, currency, effective_from_ms, retired_ms, energy_fen, "
      "consumables_fen, maintenance_fen, depreciation_fen, labour_fen, hours_per_year, night_from_min, night_to_min, "
      "weekend_days, note, created_by, created_ms, updated_ms) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
  if (!st) return st.error();
  st->bind(1, v.id).bind(2, v.instrument).bind(3, static_cast<int64_t>(v.number)).bind(4, to_string(v.state));
  st->bind(5, v.currency).bind(6, v.effective_from_ms).bind(7, v.retired_ms).bind(8, v.cost.energy_fen);
  st->bind(9, v.cost.consumables_fen).bind(10, v.cost.maintenance_fen).bind(11, v.cost.depreciation_fen);
  st->bind(12, v.cost.labour_fen).bind(13, v.cost.hours_per_year).bind(14, static_cast<int64_t>(v.night.from_min));
  st->bind(15, static_cast<int64_t>(v.night.to_min)).bind(16, static_cast<int64_t>(v.weekend_days)).bind(17, v.note);
  st->bind(18, v.created_by).bind(19, v.created_ms).bind(20, v.updated_ms);
  LG_TRY(st->run());
  LG_TRY(write_lines(d, v));
  FeeStep s = step;
  s.version = v.id;
  LG_TRY(add_step(d, s));
  return v;
}

/// The hourly standard as a published version of one exact-time hour line.
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

}  // namespace

std::span<const db::Migration> migrations() { return kMigrations; }

namespace rows {
Charge charge(db::Statement& r, int c) {
  Charge ch;
  ch.id = r.column_text(c);
  ch.session = r.column_text(c + 1);
  ch.instrument = r.column_text(c + 2);
  ch.user = r.column_text(c + 3);
  ch.category = r.column_text(c + 4);
  ch.rate_fen_per_hour = r.column_int64(c + 5);
  ch.duration_ms = r.column_int64(c + 6);
  ch.amount_fen = r.column_int64(c + 7);
  ch.currency = r.column_text(c + 8);
  ch.flags = split_flags(r.column_text(c + 9));
  ch.end_ms = r.column_int64(c + 10);
  ch.fee_version = r.column_text(c + 11);
  ch.lines = r.column_text(c + 12);
  return ch;
}
}  // namespace rows

Status SqliteStore::put_fee_standard(const FeeStandard& f, int64_t now_ms, const std::string& who) {
  return db_.run([&]() -> Status {
    auto& d = db_.conn();
    LG_TRY(require_ref(d, "instruments", "instrument", f.instrument, "instrument"));
    auto any = d.prepare("SELECT 1 FROM fee_versions WHERE instrument = ? AND state = 'published'");
    if (!any) return any.error();
    any->bind(1, f.instrument);
    auto had = any->step();
    if (!had) return had.error();
    const bool first = !*had;
    any->reset();
    FeeStep step;
    step.who = who;
    step.at_ms = now_ms;
    step.action = FeeAction::imported;
    step.from = FeeState::published;
    step.to = FeeState::published;
    step.comment = "imported: approved outside labgate";
    auto v = insert_version(d, imported_version(f, now_ms, first, who), step);
    if (!v) return v.error();
    auto st = d.prepare(
        "INSERT INTO fee_standards(instrument, internal_fen_per_hour, external_fen_per_hour, currency, "
        "updated_ms) VALUES (?, ?, ?, ?, ?) ON CONFLICT(instrument) DO UPDATE SET "
        "internal_fen_per_hour = excluded.internal_fen_per_hour, "
        "external_fen_per_hour = excluded.external_fen_per_hour, currency = excluded.currency, "
        "updated_ms = excluded.updated_ms, retired_ms = NULL");
    if (!st) return st.error();
    st->bind(1, f.instrument).bind(2, f.internal_fen_per_hour).bind(3, f.external_fen_per_hour);
    st->bind(4, f.currency).bind(5, now_ms);
    return st->run();
  });
}

Result<PageOf<FeeStandard>> SqliteStore::fee_standards(const Page& p) {
  static constexpr Keyset q{
      "SELECT instrument, internal_fen_per_hour, external_fen_per_hour, currency, retired_ms, instrument "
      "FROM fee_standards WHERE 1",
      5, "(instrument)", "s", false, "ORDER BY instrument"};
  return read_all_page<FeeStandard>(db_.conn(), q, p, [](db::Statement& r) {
    return FeeStandard{r.column_text(0), r.column_int64(1), r.column_int64(2), r.column_text(3), opt_int(r, 4)};
  });
}

Result<FeeStandard> SqliteStore::retire_fee_standard(const std::string& instrument, int64_t now_ms) {
  FeeStandard out;
  auto s = db_.run([&]() -> Status {
    auto& d = db_.conn();
    auto q = d.prepare(
        "SELECT instrument, internal_fen_per_hour, external_fen_per_hour, currency, retired_ms FROM fee_standards "
        "WHERE instrument = ?");
    if (!q) return q.error();
    q->bind(1, instrument);
    auto row = q->step();
    if (!row) return row.error();
    if (!*row) return domain_error(Errc::not_found, "instrument: no fee standard for '" + instrument + "'");
    out = FeeStandard{q->column_text(0), q->column_int64(1), q->column_int64(2), q->column_text(3), opt_int(*q, 4)};
    q->reset();
    if (out.retired_ms) return domain_error(Errc::conflict, "instrument: the fee standard of '" + instrument + "' is retired already");
    auto st = d.prepare("UPDATE fee_standards SET retired_ms = ?, updated_ms = ? WHERE instrument = ?");
    if (!st) return st.error();
    st->bind(1, now_ms).bind(2, now_ms).bind(3, instrument);
    LG_TRY(st->run());
    auto v = d.prepare(
        "UPDATE fee_versions SET retired_ms = ?1, updated_ms = ?1 WHERE instrument = ?2 AND state = 'published' AND "
        "retired_ms IS NULL");
    if (!v) return v.error();
    v->bind(1, now_ms).bind(2, instrument);
    return v->run();
  });
  if (!s) return s.error();
  return out;
}

Result<std::map<std::string, std::optional<FeeStandard>>> SqliteStore::fees(std::span<const std::string> instruments) {
  // One prepared statement run per instrument: on SQLite a lookup is a call, not a round trip.
  auto q = db_.conn().prepare(
      "SELECT instrument, internal_fen_per_hour, external_fen_per_hour, currency FROM fee_standards "
      "WHERE instrument = ? AND retired_ms IS NULL");
  if (!q) return q.error();
  std::map<std::string, std::optional<FeeStandard>> out;
  for (const auto& instrument : instruments) {
    auto [it, added] = out.try_emplace(instrument);
    if (!added) continue;
    q->bind(1, instrument);
    auto row = q->step();
    if (!row) {
      q->reset();
      return row.error();
    }
    if (*row) it->second = FeeStandard{q->column_text(0), q->column_int64(1), q->column_int64(2), q->column_text(3)};
    q->reset();
  }
  return out;
}

Result<std::vector<std::string>> SqliteStore::insert_charges(std::span<const Charge> charges, int64_t now_ms) {
  auto& d = db_.conn();
  auto st = d.prepare(
      "INSERT INTO charges(id, session, instrument, user, category, rate_fen_per_hour, duration_ms, amount_fen, "
      "currency, flags, end_ms, created_ms, fee_version, lines) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
      "ON CONFLICT(session) DO NOTHING");
  if (!st) return st.error();
  std::vector<std::string> stored;
  stored.reserve(charges.size());
  for (const auto& c : charges) {
    st->bind(1, c.id).bind(2, c.session).bind(3, c.instrument).bind(4, c.user).bind(5, c.category);
    st->bind(6, c.rate_fen_per_hour).bind(7, c.duration_ms).bind(8, c.amount_fen).bind(9, c.currency);
    st->bind(10, join_flags(c.flags)).bind(11, c.end_ms).bind(12, now_ms).bind(13, c.fee_version).bind(14, c.lines);
    if (auto s = st->run(); !s) return s.error();
    if (d.changes() > 0) stored.push_back(c.id);
  }
  return stored;
}

Result<PageOf<Charge>> SqliteStore::charges(int64_t from_ms, int64_t to_ms, const Page& p) {
  static const std::string first = "SELECT " + std::string(rows::kChargeCols) +
                                   ", c.end_ms, c.id FROM charges c WHERE c.end_ms >= ?1 AND c.end_ms < ?2";
  // After a position inside the period the key alone is the lower bound: with `end_ms >= from`
  // beside it, SQLite seeks to the period's start and every page would scan all earlier rows.
  static const std::string after =
      "SELECT " + std::string(rows::kChargeCols) + ", c.end_ms, c.id FROM charges c WHERE c.end_ms < ?1";
  const bool positioned = !p.after.empty() && fits(p.after, "is");  // else read_page refuses it
  const bool inside = positioned && std::get<int64_t>(p.after.front()) >= from_ms;
  auto make = [](db::Statement& r) { return rows::charge(r, 0); };
  if (inside) {
    const Keyset q{after, 13, "(c.end_ms, c.id)", "is", false, "ORDER BY c.end_ms, c.id", 2};
    return read_page<Charge>(db_.conn(), q, p, [&](db::Statement& st) { st.bind(1, to_ms); }, make);
  }
  // From the period's start: no position, or one before the period (a cursor of another period).
  Page from_start = p;
  if (positioned) from_start.after.clear();
  const Keyset q{first, 13, "(c.end_ms, c.id)", "is", false, "ORDER BY c.end_ms, c.id", 3};
  return read_page<Charge>(db_.conn(), q, from_start, [&](db::Statement& st) { st.bind(1, from_ms).bind(2, to_ms); },
                           make);
}

}  // namespace lg::server::billing

namespace lg::server::billing {

Result<FeeVersion> SqliteStore::create_version(const FeeVersion& v, const FeeStep& step) {
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

Result<std::optional<FeeVersion>> SqliteStore::version(const std::string& id) {
  auto r = read_versions(db_.conn(), "v.id = ?1", id);
  if (!r) return r.error();
  if (r->empty()) return std::optional<FeeVersion>();
  return std::optional<FeeVersion>(std::move(r->front()));
}

Result<std::vector<FeeVersion>> SqliteStore::versions(const std::string& instrument) {
  return read_versions(db_.conn(), "v.instrument = ?1", instrument);
}

Result<std::vector<FeeStep>> SqliteStore::steps(const std::string& version) {
  auto q = db_.conn().prepare(
      "SELECT version, seq, who, at_ms, action, from_state, to_state, comment FROM fee_steps WHERE version = ? "
      "ORDER BY seq");
  if (!q) return q.error();
  q->bind(1, version);
  std::vector<FeeStep> out;
  LG_TRY(each_row(*q, [&](db::Statement& r) {
    out.push_back(FeeStep{r.column_text(0), static_cast<int32_t>(r.column_int64(1)), r.column_text(2),
                          r.column_int64(3), fee_action_from(r.column_text(4)).value_or(FeeAction::edit),
                          fee_state_from(r.column_text(5)).value_or(FeeState::draft),
                          fee_state_from(r.column_text(6)).value_or(FeeState::draft), r.column_text(7)});
  }));
  return out;
}

namespace {
/// The state of a version (nullopt when unknown).
Result<std::optional<FeeState>> state_of(db::Database& d, const std::string& id) {
  auto q = d.prepare("SELECT state FROM fee_versions WHERE id = ?");
  if (!q) return q.error();
  q->bind(1, id);
  auto row = q->step();
  if (!row) return row.error();
  std::optional<FeeState> out;
  if (*row) out = fee_state_from(q->column_text(0));
  q->reset();
  return out;
}
}  // namespace

Status SqliteStore::update_draft(const FeeVersion& v, const FeeStep& step) {
  return db_.run([&]() -> Status {
    auto& d = db_.conn();
    auto state = state_of(d, v.id);
    if (!state) return state.error();
    if (!*state) return domain_error(Errc::not_found, "fee standard version '" + v.id + "' not found");
    if (**state != FeeState::draft)
      return domain_error(Errc::conflict,
                          "fee standard version '" + v.id + "' is " + to_string(**state) + ", not a draft");
    auto st = d.prepare(
        "UPDATE fee_versions SET currency = ?, energy_fen = ?, consumables_fen = ?, maintenance_fen = ?, "
        "depreciation_fen = ?, labour_fen = ?, hours_per_year = ?, night_from_min = ?, night_to_min = ?, "
        "weekend_days = ?, note = ?, updated_ms = ? WHERE id = ?");
    if (!st) return st.error();
    st->bind(1, v.currency).bind(2, v.cost.energy_fen).bind(3, v.cost.consumables_fen).bind(4, v.cost.maintenance_fen);
    st->bind(5, v.cost.depreciation_fen).bind(6, v.cost.labour_fen).bind(7, v.cost.hours_per_year);
    st->bind(8, static_cast<int64_t>(v.night.from_min)).bind(9, static_cast<int64_t>(v.night.to_min));
    st->bind(10, static_cast<int64_t>(v.weekend_days)).bind(11, v.note).bind(12, step.at_ms).bind(13, v.id);
    LG_TRY(st->run());
    LG_TRY(write_lines(d, v));
    FeeStep s = step;
    s.version = v.id;
    return add_step(d, s);
  });
}

Status SqliteStore::move(const std::string& id, FeeState from, FeeState to, std::optional<int64_t> effective_from_ms,
                         const FeeStep& step) {
  return db_.run([&]() -> Status {
    auto& d = db_.conn();
    auto st = d.prepare(
        "UPDATE fee_versions SET state = ?1, effective_from_ms = COALESCE(?2, effective_from_ms), updated_ms = ?3 "
        "WHERE id = ?4 AND state = ?5");
    if (!st) return st.error();
    st->bind(1, to_string(to)).bind(2, effective_from_ms).bind(3, step.at_ms).bind(4, id).bind(5, to_string(from));
    LG_TRY(st->run());
    if (d.changes() == 0) {
      auto state = state_of(d, id);
      if (!state) return state.error();
      if (!*state) return domain_error(Errc::not_found, "fee standard version '" + id + "' not found");
      return domain_error(Errc::conflict, "fee standard version '" + id + "' is " + to_string(**state) +
                                              ", no longer " + to_string(from));
    }
    FeeStep s = step;
    s.version = id;
    return add_step(d, s);
  });
}

Result<std::map<std::string, std::vector<FeeVersion>>> SqliteStore::published(
    std::span<const std::string> instruments) {
  std::map<std::string, std::vector<FeeVersion>> out;
  for (const auto& i : instruments) {
    auto [it, added] = out.try_emplace(i);
    if (!added) continue;
    auto r = read_versions(db_.conn(), "v.instrument = ?1 AND v.state = 'published'", i);
    if (!r) return r.error();
    it->second = std::move(*r);
  }
  return out;
}

}  // namespace lg::server::billing
