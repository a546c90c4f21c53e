#include "server/usage/sqlite_store.hpp"

#include <array>

#include "server/billing/sqlite_store.hpp"
#include "server/core/sqlite_util.hpp"

namespace lg::server::usage {

using namespace sqlite;

namespace {

constexpr std::string_view kV1 = R"sql(
CREATE TABLE records (
  terminal TEXT NOT NULL,
  seq INTEGER NOT NULL,
  id TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL,
  ts_ms INTEGER NOT NULL,
  clock_synced INTEGER NOT NULL,
  body TEXT NOT NULL,
  received_ms INTEGER NOT NULL,
  refused TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (terminal, seq)
);
CREATE TABLE access_events (
  record_id TEXT PRIMARY KEY,
  terminal TEXT NOT NULL,
  seq INTEGER NOT NULL,
  ts_ms INTEGER NOT NULL,
  card TEXT NOT NULL,
  user TEXT NOT NULL DEFAULT '',
  user_resolved INTEGER NOT NULL DEFAULT 0,
  resource TEXT NOT NULL,
  output TEXT NOT NULL,
  decision TEXT NOT NULL,
  reason TEXT NOT NULL,
  mode TEXT NOT NULL,
  acl_version INTEGER NOT NULL,
  booking TEXT NOT NULL DEFAULT '',
  clock_synced INTEGER NOT NULL
);
CREATE INDEX access_events_by_ts ON access_events(ts_ms, terminal, seq);
CREATE TABLE usage_sessions (
  id TEXT PRIMARY KEY,
  terminal TEXT NOT NULL,
  resource TEXT NOT NULL,
  user TEXT NOT NULL DEFAULT '',
  card TEXT NOT NULL DEFAULT '',
  booking TEXT NOT NULL DEFAULT '',
  start_ms INTEGER NOT NULL,
  end_ms INTEGER,
  duration_ms INTEGER,
  energy_wh INTEGER,
  end_reason TEXT NOT NULL DEFAULT '',
  flags TEXT NOT NULL DEFAULT '',
  status TEXT NOT NULL CHECK (status IN ('open', 'closed')),
  start_record TEXT,
  end_record TEXT
);
CREATE INDEX usage_sessions_by_start ON usage_sessions(start_ms, id);
CREATE INDEX usage_sessions_by_end ON usage_sessions(end_ms);
CREATE TABLE ingest_counters (
  name TEXT PRIMARY KEY,
  value INTEGER NOT NULL
);
CREATE TABLE rejections (
  reason TEXT PRIMARY KEY,
  count INTEGER NOT NULL
);
CREATE TABLE server_alarms (
  id INTEGER PRIMARY KEY,
  terminal TEXT NOT NULL,
  code TEXT NOT NULL,
  detail TEXT NOT NULL,
  ts_ms INTEGER NOT NULL
);
)sql";

constexpr std::array<db::Migration, 1> kMigrations{{{1, "records, access events, sessions, counters", kV1}}};

}  // namespace

std::span<const db::Migration> migrations() { return kMigrations; }

Result<StoredKeys> SqliteStore::keys(const std::string& terminal, const proto::Record& r) {
  auto& d = db_.conn();
  StoredKeys k;
  {
    auto q = d.prepare("SELECT id FROM records WHERE terminal = ? AND seq = ?");
    if (!q) return q.error();
    q->bind(1, terminal).bind(2, static_cast<int64_t>(r.seq));
    auto row = q->step();
    if (!row) return row.error();
    if (*row) k.id_at_seq = q->column_text(0);
    q->reset();
  }
  if (k.id_at_seq) return k;
  auto q = d.prepare("SELECT terminal, seq FROM records WHERE id = ?");
  if (!q) return q.error();
  q->bind(1, r.id);
  auto row = q->step();
  if (!row) return row.error();
  if (*row) {
    k.terminal_of_id = q->column_text(0);
    k.seq_of_id = static_cast<uint64_t>(q->column_int64(1));
  }
  q->reset();
  return k;
}

Status SqliteStore::insert_record(const std::string& terminal, const proto::Record& r, int64_t now_ms,
                                  std::string_view refused) {
  auto ins = db_.conn().prepare(
      "INSERT INTO records(terminal, seq, id, kind, ts_ms, clock_synced, body, received_ms, refused) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
  if (!ins) return ins.error();
  ins->bind(1, terminal).bind(2, static_cast<int64_t>(r.seq)).bind(3, r.id).bind(4, proto::to_string(r.kind()));
  ins->bind(5, r.ts_ms).bind(6, b64(r.clock_synced)).bind(7, proto::encode(r)).bind(8, now_ms);
  ins->bind(9, refused);
  return ins->run();
}

Result<StoredSession> SqliteStore::session(const std::string& id) {
  auto q = db_.conn().prepare(
      "SELECT s.status, s.user, COALESCE(s.end_record, ''), rec.clock_synced FROM usage_sessions s "
      "LEFT JOIN records rec ON rec.id = s.start_record WHERE s.id = ?");
  if (!q) return q.error();
  q->bind(1, id);
  auto row = q->step();
  if (!row) return row.error();
  StoredSession out;
  if (*row) {
    out.exists = true;
    out.closed = q->column_text(0) == "closed";
    out.user = q->column_text(1);
    out.end_record = q->column_text(2);
    if (!q->column_is_null(3)) out.start_synced = q->column_int64(3) != 0;
  }
  q->reset();
  return out;
}

Status SqliteStore::insert_access(const AccessEvent& e) {
  auto st = db_.conn().prepare(
      "INSERT INTO access_events(record_id, terminal, seq, ts_ms, card, user, user_resolved, resource, output, "
      "decision, reason, mode, acl_version, booking, clock_synced) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
  if (!st) return st.error();
  st->bind(1, e.record_id).bind(2, e.terminal).bind(3, static_cast<int64_t>(e.seq)).bind(4, e.ts_ms);
  st->bind(5, e.card).bind(6, e.user).bind(7, b64(e.user_resolved));
  st->bind(8, e.resource).bind(9, e.output).bind(10, e.decision);
  st->bind(11, e.reason).bind(12, e.mode);
  st->bind(13, static_cast<int64_t>(e.acl_version)).bind(14, e.booking).bind(15, b64(e.clock_synced));
  return st->run();
}

Status SqliteStore::open_session(const UsageSession& s, const std::string& start_record) {
  auto st = db_.conn().prepare(
      "INSERT INTO usage_sessions(id, terminal, resource, user, card, booking, start_ms, status, start_record) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, 'open', ?) ON CONFLICT(id) DO NOTHING");
  if (!st) return st.error();
  st->bind(1, s.id).bind(2, s.terminal).bind(3, s.resource).bind(4, s.user);
  st->bind(5, s.card).bind(6, s.booking).bind(7, s.start_ms).bind(8, start_record);
  return st->run();
}

Status SqliteStore::close_session(const UsageSession& s, const std::string& end_record, bool exists) {
  auto& d = db_.conn();
  const std::string end_reason = s.end_reason;
  if (exists) {
    auto st = d.prepare(
        "UPDATE usage_sessions SET status = 'closed', user = ?, end_ms = ?, duration_ms = ?, energy_wh = ?, "
        "end_reason = ?, flags = ?, end_record = ? WHERE id = ? AND status = 'open'");
    if (!st) return st.error();
    st->bind(1, s.user).bind(2, s.end_ms).bind(3, s.duration_ms).bind(4, s.energy_wh);
    st->bind(5, end_reason).bind(6, join_flags(s.flags)).bind(7, end_record).bind(8, s.id);
    LG_TRY(st->run());
    if (d.changes() != 1) return Error::invalid("session " + s.id + " is not open");
    return {};
  }
  auto st = d.prepare(
      "INSERT INTO usage_sessions(id, terminal, resource, user, card, booking, start_ms, end_ms, duration_ms, "
      "energy_wh, end_reason, flags, status, end_record) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,'closed',?)");
  if (!st) return st.error();
  st->bind(1, s.id).bind(2, s.terminal).bind(3, s.resource).bind(4, s.user);
  st->bind(5, s.card).bind(6, s.booking).bind(7, s.start_ms).bind(8, s.end_ms);
  st->bind(9, s.duration_ms).bind(10, s.energy_wh).bind(11, end_reason);
  st->bind(12, join_flags(s.flags)).bind(13, end_record);
  return st->run();
}

Result<std::vector<uint64_t>> SqliteStore::seqs_above(const std::string& terminal, uint64_t after, int64_t limit) {
  auto q = db_.conn().prepare("SELECT seq FROM records WHERE terminal = ? AND seq > ? ORDER BY seq LIMIT ?");
  if (!q) return q.error();
  q->bind(1, terminal).bind(2, static_cast<int64_t>(after)).bind(3, limit);
  std::vector<uint64_t> out;
  if (auto s = each_row(*q, [&](db::Statement& r) { out.push_back(static_cast<uint64_t>(r.column_int64(0))); }); !s)
    return s.error();
  return out;
}

Status SqliteStore::alarm(const std::string& terminal, std::string_view code, const std::string& detail,
                          int64_t now_ms) {
  auto st = db_.conn().prepare("INSERT INTO server_alarms(terminal, code, detail, ts_ms) VALUES (?, ?, ?, ?)");
  if (!st) return st.error();
  st->bind(1, terminal).bind(2, code).bind(3, detail).bind(4, now_ms);
  return st->run();
}

Status SqliteStore::count(std::string_view counter, int64_t n) { return bump_counter(db_.conn(), counter, n); }

Status SqliteStore::count_rejection(std::string_view reason, int64_t n) {
  return bump_rejection(db_.conn(), reason, n);
}

Result<Stats> SqliteStore::stats() {
  auto& d = db_.conn();
  Stats s;
  {
    auto q = d.prepare("SELECT name, value FROM ingest_counters");
    if (!q) return q.error();
    auto st = each_row(*q, [&](db::Statement& r) {
      const std::string name = r.column_text(0);
      const int64_t v = r.column_int64(1);
      if (name == "batches") s.batches = v;
      else if (name == "records") s.records = v;
      else if (name == "duplicates") s.duplicates = v;
      else if (name == "acks") s.acks = v;
    });
    if (!st) return st.error();
  }
  auto q = d.prepare("SELECT reason, count FROM rejections ORDER BY reason");
  if (!q) return q.error();
  auto st = each_row(*q, [&](db::Statement& r) { s.rejected[r.column_text(0)] = r.column_int64(1); });
  if (!st) return st.error();
  return s;
}

Result<PageOf<AccessEvent>> SqliteStore::access_events(const AccessFilter& f) {
  static constexpr Keyset q{
      "SELECT record_id, terminal, seq, ts_ms, card, user, user_resolved, resource, output, decision, reason, "
      "mode, acl_version, booking, clock_synced, ts_ms, terminal, seq FROM access_events "
      "WHERE (?1 = '' OR terminal = ?1) AND (?2 = '' OR decision = ?2)",
      15, "(ts_ms, terminal, seq)", "isi", true, "ORDER BY ts_ms DESC, terminal DESC, seq DESC", 3};
  return read_page<AccessEvent>(
      db_.conn(), q, f.page, [&](db::Statement& st) { st.bind(1, f.terminal).bind(2, f.decision); },
      [](db::Statement& r) {
        AccessEvent e;
        e.record_id = r.column_text(0);
        e.terminal = r.column_text(1);
        e.seq = static_cast<uint64_t>(r.column_int64(2));
        e.ts_ms = r.column_int64(3);
        e.card = r.column_text(4);
        e.user = r.column_text(5);
        e.user_resolved = r.column_int64(6) != 0;
        e.resource = r.column_text(7);
        e.output = r.column_text(8);
        e.decision = r.column_text(9);
        e.reason = r.column_text(10);
        e.mode = r.column_text(11);
        e.acl_version = static_cast<uint64_t>(r.column_int64(12));
        e.booking = r.column_text(13);
        e.clock_synced = r.column_int64(14) != 0;
        return e;
      });
}

Result<PageOf<UsageSession>> SqliteStore::sessions(const SessionFilter& f) {
  static const std::string select =
      "SELECT s.id, s.terminal, s.resource, s.user, s.card, s.booking, s.start_ms, s.end_ms, s.duration_ms, "
      "s.energy_wh, s.end_reason, s.flags, s.status, " + std::string(billing::rows::kChargeCols) + ", s.start_ms, s.id "
      "FROM usage_sessions s LEFT JOIN charges c ON c.session = s.id "
      "WHERE (?1 = '' OR s.resource = ?1) AND (?2 = '' OR s.user = ?2)";
  const Keyset q{select, 24, "(s.start_ms, s.id)", "is", true, "ORDER BY s.start_ms DESC, s.id DESC", 3};
  return read_page<UsageSession>(
      db_.conn(), q, f.page, [&](db::Statement& st) { st.bind(1, f.instrument).bind(2, f.user); },
      [](db::Statement& r) {
        UsageSession u;
        u.id = r.column_text(0);
        u.terminal = r.column_text(1);
        u.resource = r.column_text(2);
        u.user = r.column_text(3);
        u.card = r.column_text(4);
        u.booking = r.column_text(5);
        u.start_ms = r.column_int64(6);
        u.end_ms = opt_int(r, 7);
        u.duration_ms = opt_int(r, 8);
        u.energy_wh = opt_int(r, 9);
        u.end_reason = r.column_text(10);
        u.flags = split_flags(r.column_text(11));
        u.closed = r.column_text(12) == "closed";
        if (!r.column_is_null(13)) u.charge = billing::rows::charge(r, 13);
        return u;
      });
}

}  // namespace lg::server::usage
