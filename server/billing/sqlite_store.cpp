#include "server/billing/sqlite_store.hpp"

#include <array>

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

constexpr std::array<db::Migration, 2> kMigrations{
    {{1, "fee standards and charges", kV1}, {2, "fee standards can be retired", kV2}}};

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
  return ch;
}
}  // namespace rows

Status SqliteStore::put_fee_standard(const FeeStandard& f, int64_t now_ms) {
  return db_.run([&]() -> Status {
    auto& d = db_.conn();
    LG_TRY(require_ref(d, "instruments", "instrument", f.instrument, "instrument"));
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
    return st->run();
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
      "currency, flags, end_ms, created_ms) VALUES (?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(session) DO NOTHING");
  if (!st) return st.error();
  std::vector<std::string> stored;
  stored.reserve(charges.size());
  for (const auto& c : charges) {
    st->bind(1, c.id).bind(2, c.session).bind(3, c.instrument).bind(4, c.user).bind(5, c.category);
    st->bind(6, c.rate_fen_per_hour).bind(7, c.duration_ms).bind(8, c.amount_fen).bind(9, c.currency);
    st->bind(10, join_flags(c.flags)).bind(11, c.end_ms).bind(12, now_ms);
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
    const Keyset q{after, 11, "(c.end_ms, c.id)", "is", false, "ORDER BY c.end_ms, c.id", 2};
    return read_page<Charge>(db_.conn(), q, p, [&](db::Statement& st) { st.bind(1, to_ms); }, make);
  }
  // From the period's start: no position, or one before the period (a cursor of another period).
  Page from_start = p;
  if (positioned) from_start.after.clear();
  const Keyset q{first, 11, "(c.end_ms, c.id)", "is", false, "ORDER BY c.end_ms, c.id", 3};
  return read_page<Charge>(db_.conn(), q, from_start, [&](db::Statement& st) { st.bind(1, from_ms).bind(2, to_ms); },
                           make);
}

}  // namespace lg::server::billing
