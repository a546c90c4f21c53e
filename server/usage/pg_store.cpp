#include "server/usage/pg_store.hpp"

#include <array>

#include "server/billing/pg_store.hpp"
#include "server/core/pg_util.hpp"

namespace lg::server::usage {

using namespace pgsql;

namespace {

// Counters and rejections are kept per shard (one per connection of every node, PgDb::shard)
// and summed when read: concurrent units of work never update the same row, so ingest on
// several nodes does not serialize on a counter.
constexpr std::string_view kV1 = R"sql(
CREATE TABLE records (
  terminal TEXT NOT NULL,
  seq BIGINT NOT NULL,
  id TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL,
  ts_ms BIGINT NOT NULL,
  clock_synced BOOLEAN NOT NULL,
  body TEXT NOT NULL,
  received_ms BIGINT NOT NULL,
  refused TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (terminal, seq)
);
CREATE TABLE access_events (
  record_id TEXT PRIMARY KEY,
  terminal TEXT NOT NULL,
  seq BIGINT NOT NULL,
  ts_ms BIGINT NOT NULL,
  card TEXT NOT NULL,
  user_id TEXT NOT NULL DEFAULT '',
  user_resolved BOOLEAN NOT NULL DEFAULT false,
  resource TEXT NOT NULL,
  output TEXT NOT NULL,
  decision TEXT NOT NULL,
  reason TEXT NOT NULL,
  mode TEXT NOT NULL,
  acl_version BIGINT NOT NULL,
  booking TEXT NOT NULL DEFAULT '',
  clock_synced BOOLEAN NOT NULL
);
CREATE INDEX access_events_by_ts ON access_events(ts_ms, terminal, seq);
CREATE TABLE usage_sessions (
  id TEXT PRIMARY KEY,
  terminal TEXT NOT NULL,
  resource TEXT NOT NULL,
  user_id TEXT NOT NULL DEFAULT '',
  card TEXT NOT NULL DEFAULT '',
  booking TEXT NOT NULL DEFAULT '',
  start_ms BIGINT NOT NULL,
  end_ms BIGINT,
  duration_ms BIGINT,
  energy_wh BIGINT,
  end_reason TEXT NOT NULL DEFAULT '',
  flags TEXT NOT NULL DEFAULT '',
  status TEXT NOT NULL CHECK (status IN ('open', 'closed')),
  start_record TEXT,
  end_record TEXT
);
CREATE INDEX usage_sessions_by_start ON usage_sessions(start_ms, id);
CREATE INDEX usage_sessions_by_end ON usage_sessions(end_ms);
CREATE TABLE ingest_counters (
  name TEXT NOT NULL,
  shard TEXT NOT NULL,
  value BIGINT NOT NULL,
  PRIMARY KEY (name, shard)
);
CREATE TABLE rejections (
  reason TEXT NOT NULL,
  shard TEXT NOT NULL,
  count BIGINT NOT NULL,
  PRIMARY KEY (reason, shard)
);
CREATE TABLE server_alarms (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  terminal TEXT NOT NULL,
  code TEXT NOT NULL,
  detail TEXT NOT NULL,
  ts_ms BIGINT NOT NULL
);
)sql";

constexpr std::array<db::Migration, 1> kMigrations{{{1, "records, access events, sessions, counters", kV1}}};

}  // namespace

std::span<const db::Migration> pg_migrations() { return kMigrations; }

Result<StoredKeys> PgStore::keys(const std::string& terminal, const proto::Record& r) {
  auto& c = db_.conn();
  StoredKeys k;
  auto at = c.q("SELECT id FROM records WHERE terminal = $1 AND seq = $2", terminal, static_cast<int64_t>(r.seq));
  if (!at) return at.error();
  if (!at->empty()) {
    k.id_at_seq = at->text(0, 0);
    return k;
  }
  auto of = c.q("SELECT terminal, seq FROM records WHERE id = $1", r.id);
  if (!of) return of.error();
  if (!of->empty()) {
    k.terminal_of_id = of->text(0, 0);
    k.seq_of_id = static_cast<uint64_t>(of->i64(0, 1));
  }
  return k;
}

Status PgStore::insert_record(const std::string& terminal, const proto::Record& r, int64_t now_ms,
                              std::string_view refused) {
  return done(db_.conn().q(
      "INSERT INTO records(terminal, seq, id, kind, ts_ms, clock_synced, body, received_ms, refused) "
      "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
      terminal, static_cast<int64_t>(r.seq), r.id, proto::to_string(r.kind()), r.ts_ms, r.clock_synced,
      proto::encode(r), now_ms, refused));
}

Result<StoredSession> PgStore::session(const std::string& id) {
  auto r = db_.conn().q(
      "SELECT s.status, s.user_id, COALESCE(s.end_record, ''), rec.clock_synced FROM usage_sessions s "
      "LEFT JOIN records rec ON rec.id = s.start_record WHERE s.id = $1",
      id);
  if (!r) return r.error();
  StoredSession out;
  if (!r->empty()) {
    out.exists = true;
    out.closed = r->text(0, 0) == "closed";
    out.user = r->text(0, 1);
    out.end_record = r->text(0, 2);
    if (!r->null(0, 3)) out.start_synced = r->boolean(0, 3);
  }
  return out;
}

Status PgStore::insert_access(const AccessEvent& e) {
  return done(db_.conn().q(
      "INSERT INTO access_events(record_id, terminal, seq, ts_ms, card, user_id, user_resolved, resource, output, "
      "decision, reason, mode, acl_version, booking, clock_synced) "
      "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
      e.record_id, e.terminal, static_cast<int64_t>(e.seq), e.ts_ms, e.card, e.user, e.user_resolved, e.resource,
      e.output, e.decision, e.reason, e.mode, static_cast<int64_t>(e.acl_version), e.booking, e.clock_synced));
}

Status PgStore::open_session(const UsageSession& s, const std::string& start_record) {
  return done(db_.conn().q(
      "INSERT INTO usage_sessions(id, terminal, resource, user_id, card, booking, start_ms, status, start_record) "
      "VALUES ($1, $2, $3, $4, $5, $6, $7, 'open', $8) ON CONFLICT (id) DO NOTHING",
      s.id, s.terminal, s.resource, s.user, s.card, s.booking, s.start_ms, start_record));
}

Status PgStore::close_session(const UsageSession& s, const std::string& end_record, bool exists) {
  auto& c = db_.conn();
  if (exists) {
    auto r = c.q(
        "UPDATE usage_sessions SET status = 'closed', user_id = $1, end_ms = $2, duration_ms = $3, energy_wh = $4, "
        "end_reason = $5, flags = $6, end_record = $7 WHERE id = $8 AND status = 'open'",
        s.user, s.end_ms, s.duration_ms, s.energy_wh, s.end_reason, join_flags(s.flags), end_record, s.id);
    if (!r) return r.error();
    if (r->affected() != 1) return Error::invalid("session " + s.id + " is not open");
    return {};
  }
  return done(c.q(
      "INSERT INTO usage_sessions(id, terminal, resource, user_id, card, booking, start_ms, end_ms, duration_ms, "
      "energy_wh, end_reason, flags, status, end_record) "
      "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'closed', $13)",
      s.id, s.terminal, s.resource, s.user, s.card, s.booking, s.start_ms, s.end_ms, s.duration_ms, s.energy_wh,
      s.end_reason, join_flags(s.flags), end_record));
}

Result<std::vector<uint64_t>> PgStore::seqs_above(const std::string& terminal, uint64_t after, int64_t limit) {
  auto r = db_.conn().q("SELECT seq FROM records WHERE terminal = $1 AND seq > $2 ORDER BY seq LIMIT $3", terminal,
                        static_cast<int64_t>(after), limit);
  if (!r) return r.error();
  std::vector<uint64_t> out;
  out.reserve(static_cast<std::size_t>(r->size()));
  for (int i = 0; i < r->size(); ++i) out.push_back(static_cast<uint64_t>(r->i64(i, 0)));
  return out;
}

Status PgStore::alarm(const std::string& terminal, std::string_view code, const std::string& detail,
                      int64_t now_ms) {
  return done(db_.conn().q("INSERT INTO server_alarms(terminal, code, detail, ts_ms) VALUES ($1, $2, $3, $4)",
                           terminal, code, detail, now_ms));
}

Status PgStore::count(std::string_view counter, int64_t n) {
  if (n == 0) return {};
  return done(db_.conn().q(
      "INSERT INTO ingest_counters(name, shard, value) VALUES ($1, $2, $3) "
      "ON CONFLICT (name, shard) DO UPDATE SET value = ingest_counters.value + excluded.value",
      counter, db_.shard(), n));
}

Status PgStore::count_rejection(std::string_view reason, int64_t n) {
  if (n == 0) return {};
  return done(db_.conn().q(
      "INSERT INTO rejections(reason, shard, count) VALUES ($1, $2, $3) "
      "ON CONFLICT (reason, shard) DO UPDATE SET count = rejections.count + excluded.count",
      reason, db_.shard(), n));
}

Result<Stats> PgStore::stats() {
  auto& c = db_.conn();
  Stats s;
  auto counters = c.q("SELECT name, sum(value)::bigint FROM ingest_counters GROUP BY name");
  if (!counters) return counters.error();
  for (int i = 0; i < counters->size(); ++i) {
    const std::string name = counters->text(i, 0);
    const int64_t v = counters->i64(i, 1);
    if (name == "batches") s.batches = v;
    else if (name == "records") s.records = v;
    else if (name == "duplicates") s.duplicates = v;
    else if (name == "acks") s.acks = v;
  }
  auto rej = c.q("SELECT reason, sum(count)::bigint FROM rejections GROUP BY reason ORDER BY reason");
  if (!rej) return rej.error();
  for (int i = 0; i < rej->size(); ++i) s.rejected[rej->text(i, 0)] = rej->i64(i, 1);
  return s;
}

Result<PageOf<AccessEvent>> PgStore::access_events(const AccessFilter& f) {
  static constexpr Keyset q{
      "SELECT record_id, terminal, seq, ts_ms, card, user_id, user_resolved, resource, output, decision, reason, "
      "mode, acl_version, booking, clock_synced, ts_ms, terminal, seq FROM access_events "
      "WHERE ($1 = '' OR terminal = $1) AND ($2 = '' OR decision = $2)",
      15, "(ts_ms, terminal, seq)", "isi", true, "ORDER BY ts_ms DESC, terminal DESC, seq DESC", 3};
  pg::Params filters;
  filters.add(f.terminal).add(f.decision);
  return read_page<AccessEvent>(db_.conn(), q, f.page, std::move(filters), [](const pg::Rows& r, int i) {
    AccessEvent e;
    e.record_id = r.text(i, 0);
    e.terminal = r.text(i, 1);
    e.seq = static_cast<uint64_t>(r.i64(i, 2));
    e.ts_ms = r.i64(i, 3);
    e.card = r.text(i, 4);
    e.user = r.text(i, 5);
    e.user_resolved = r.boolean(i, 6);
    e.resource = r.text(i, 7);
    e.output = r.text(i, 8);
    e.decision = r.text(i, 9);
    e.reason = r.text(i, 10);
    e.mode = r.text(i, 11);
    e.acl_version = static_cast<uint64_t>(r.i64(i, 12));
    e.booking = r.text(i, 13);
    e.clock_synced = r.boolean(i, 14);
    return e;
  });
}

Result<PageOf<UsageSession>> PgStore::sessions(const SessionFilter& f) {
  static const std::string select =
      "SELECT s.id, s.terminal, s.resource, s.user_id, s.card, s.booking, s.start_ms, s.end_ms, s.duration_ms, "
      "s.energy_wh, s.end_reason, s.flags, s.status, " + std::string(billing::pgrows::kChargeCols) +
      ", s.start_ms, s.id FROM usage_sessions s LEFT JOIN charges c ON c.session = s.id "
      "WHERE ($1 = '' OR s.resource = $1) AND ($2 = '' OR s.user_id = $2)";
  const Keyset q{select, 24, "(s.start_ms, s.id)", "is", true, "ORDER BY s.start_ms DESC, s.id DESC", 3};
  pg::Params filters;
  filters.add(f.instrument).add(f.user);
  return read_page<UsageSession>(db_.conn(), q, f.page, std::move(filters), [](const pg::Rows& r, int i) {
    UsageSession u;
    u.id = r.text(i, 0);
    u.terminal = r.text(i, 1);
    u.resource = r.text(i, 2);
    u.user = r.text(i, 3);
    u.card = r.text(i, 4);
    u.booking = r.text(i, 5);
    u.start_ms = r.i64(i, 6);
    u.end_ms = r.opt_i64(i, 7);
    u.duration_ms = r.opt_i64(i, 8);
    u.energy_wh = r.opt_i64(i, 9);
    u.end_reason = r.text(i, 10);
    u.flags = split_flags(r.text(i, 11));
    u.closed = r.text(i, 12) == "closed";
    if (!r.null(i, 13)) u.charge = billing::pgrows::charge(r, i, 13);
    return u;
  });
}

}  // namespace lg::server::usage
