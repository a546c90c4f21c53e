#include "server/billing/pg_store.hpp"

#include <array>

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

constexpr std::array<db::Migration, 2> kMigrations{
    {{1, "fee standards and charges", kV1}, {2, "fee standards can be retired", kV2}}};

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
  return ch;
}
}  // namespace pgrows

Status PgStore::put_fee_standard(const FeeStandard& f, int64_t now_ms) {
  return db_.run([&]() -> Status {
    auto& c = db_.conn();
    LG_TRY(require_ref(c, "instruments", "instrument", f.instrument, "instrument"));
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
    return done(db_.conn().q("UPDATE fee_standards SET retired_ms = $1, updated_ms = $1 WHERE instrument = $2", now_ms,
                             instrument));
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
  pg::ArrayLiteral id, session, instrument, user, category, rate, duration, amount, currency, flags, end;
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
  }
  auto r = db_.conn().q(
      "INSERT INTO charges(id, session, instrument, user_id, category, rate_fen_per_hour, duration_ms, amount_fen, "
      "currency, flags, end_ms, created_ms) "
      "SELECT c.*, $12::bigint FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], "
      "$6::bigint[], $7::bigint[], $8::bigint[], $9::text[], $10::text[], $11::bigint[]) AS c "
      "ON CONFLICT (session) DO NOTHING RETURNING id",
      id.str(), session.str(), instrument.str(), user.str(), category.str(), rate.str(), duration.str(), amount.str(),
      currency.str(), flags.str(), end.str(), now_ms);
  if (!r) return r.error();
  stored.reserve(static_cast<std::size_t>(r->size()));
  for (int i = 0; i < r->size(); ++i) stored.push_back(r->text(i, 0));
  return stored;
}

Result<PageOf<Charge>> PgStore::charges(int64_t from_ms, int64_t to_ms, const Page& p) {
  // The period bounds and the key together: PostgreSQL seeks to whichever is later.
  static const std::string select = "SELECT " + std::string(pgrows::kChargeCols) +
                                    ", c.end_ms, c.id FROM charges c WHERE c.end_ms >= $1 AND c.end_ms < $2";
  const Keyset q{select, 11, "(c.end_ms, c.id)", "is", false, "ORDER BY c.end_ms, c.id", 3};
  pg::Params f;
  f.add(from_ms).add(to_ms);
  return read_page<Charge>(db_.conn(), q, p, std::move(f), charge_row);
}

}  // namespace lg::server::billing
