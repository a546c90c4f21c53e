#include "server/usage/pg_store.hpp"

#include <array>

#include "server/billing/pg_store.hpp"
#include "server/core/pg_util.hpp"
#include "server/directory/pg_store.hpp"

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

// The pseudonyms the sync bundles named (docs/PROTOCOL.md "Cards and users in the bundle"): a
// terminal's records name its holder by pseudonym, and ingest attributes them through this table.
constexpr std::string_view kV2 = R"sql(
CREATE TABLE pseudonyms (
  terminal TEXT NOT NULL,
  pseudonym TEXT NOT NULL,
  user_id TEXT NOT NULL,
  PRIMARY KEY (terminal, pseudonym)
);
)sql";

// A user's last session on a resource: when a qualification lapses for want of use (issue 10).
constexpr std::string_view kV3 = R"sql(
CREATE INDEX usage_sessions_by_resource_user ON usage_sessions(resource, user_id, start_ms);
)sql";

constexpr std::array<db::Migration, 3> kMigrations{{{1, "records, access events, sessions, counters", kV1},
                                                    {2, "pseudonyms of the sync bundles", kV2},
                                                    {3, "sessions by resource and user", kV3}}};

}  // namespace

std::span<const db::Migration> pg_migrations() { return kMigrations; }

// Every step below is one statement however many rows it covers: the rows go as arrays
// (pg::ArrayLiteral) and come back through unnest, so a group of batches costs a fixed number
// of round trips to the server. Keys are joined against unnest, never matched with "= ANY(array)":
// a plan cached while a table was small (a new database, a herd in its first minute) scans the
// table and searches the array once per row, which took 25 s per prefetch at 50,000 records.
Result<Prefetched> PgStore::prefetch(const PrefetchQuery& q) {
  auto& c = db_.conn();
  Prefetched out;
  if (!q.records.empty()) {
    // The stored record at each (terminal, seq) and the one with each id (ids are unique).
    pg::ArrayLiteral terminals, seqs, ids;
    for (const auto& k : q.records) {
      terminals.add(k.terminal);
      seqs.add(static_cast<int64_t>(k.seq));
      ids.add(k.id);
    }
    auto r =
        c.q("SELECT r.terminal, r.seq, r.id FROM unnest($1::text[], $2::bigint[]) AS k(terminal, seq) "
            "JOIN records r ON r.terminal = k.terminal AND r.seq = k.seq "
            "UNION SELECT r.terminal, r.seq, r.id FROM unnest($3::text[]) AS i(id) JOIN records r ON r.id = i.id",
            terminals.str(), seqs.str(), ids.str());
    if (!r) return r.error();
    for (int i = 0; i < r->size(); ++i) {
      RecordPlace place{r->text(i, 0), static_cast<uint64_t>(r->i64(i, 1))};
      std::string id = r->text(i, 2);
      out.place_of.emplace(id, place);
      out.id_at.emplace(std::move(place), std::move(id));
    }
  }
  std::vector<const std::string*> users;
  for (const auto& u : q.users) users.push_back(&u);
  if (!q.sessions.empty()) {
    pg::ArrayLiteral ids;
    for (const auto& id : q.sessions) ids.add(id);
    auto r =
        c.q("SELECT s.id, s.status, s.user_id, COALESCE(s.end_record, ''), rec.clock_synced FROM usage_sessions s "
            "JOIN unnest($1::text[]) AS k(id) ON s.id = k.id LEFT JOIN records rec ON rec.id = s.start_record",
            ids.str());
    if (!r) return r.error();
    for (int i = 0; i < r->size(); ++i) {
      StoredSession s;
      s.exists = true;
      s.closed = r->text(i, 1) == "closed";
      s.user = r->text(i, 2);
      s.end_record = r->text(i, 3);
      if (!r->null(i, 4)) s.start_synced = r->boolean(i, 4);
      out.sessions.emplace(r->text(i, 0), std::move(s));
    }
  }
  if (!q.cards.empty()) {
    pg::ArrayLiteral uids;
    for (const auto& uid : q.cards) {
      if (!uid.empty() && out.card_owners.emplace(uid, std::string()).second) uids.add(uid);
    }
    if (uids.size() > 0) {
      auto r = c.q("SELECT c.uid, c.user_id FROM unnest($1::text[]) AS k(uid) JOIN cards c ON c.uid = k.uid "
                   "WHERE c.active",
                   uids.str());
      if (!r) return r.error();
      for (int i = 0; i < r->size(); ++i) out.card_owners[r->text(i, 0)] = r->text(i, 1);
    }
  }
  for (const auto& [id, s] : out.sessions) users.push_back(&s.user);
  for (const auto& [uid, owner] : out.card_owners) users.push_back(&owner);
  pg::ArrayLiteral user_ids;
  for (const std::string* id : users) {
    if (!id->empty() && out.users.emplace(*id, std::nullopt).second) user_ids.add(*id);
  }
  if (user_ids.size() > 0) {
    auto r = c.q("SELECT " + std::string(directory::pgrows::kUserCols) +
                     " FROM users JOIN unnest($1::text[]) AS k(wanted) ON users.id = k.wanted",
                 user_ids.str());
    if (!r) return r.error();
    for (int i = 0; i < r->size(); ++i) {
      User u = directory::pgrows::user(*r, i);
      out.users[u.id] = std::move(u);
    }
  }
  if (!q.acked.empty()) {
    pg::ArrayLiteral terminals, acked;
    for (const auto& [terminal, seq] : q.acked) {
      terminals.add(terminal);
      acked.add(static_cast<int64_t>(seq));
      out.seqs_above[terminal];
    }
    auto r =
        c.q("SELECT k.terminal, s.seq FROM unnest($1::text[], $2::bigint[]) AS k(terminal, acked) "
            "CROSS JOIN LATERAL (SELECT seq FROM records WHERE terminal = k.terminal AND seq > k.acked "
            "ORDER BY seq LIMIT $3) AS s ORDER BY k.terminal, s.seq",
            terminals.str(), acked.str(), q.seq_limit);
    if (!r) return r.error();
    for (int i = 0; i < r->size(); ++i) out.seqs_above[r->text(i, 0)].push_back(static_cast<uint64_t>(r->i64(i, 1)));
  }
  return out;
}

Status PgStore::write(const UsageEffects& e) {
  auto& c = db_.conn();
  if (!e.records.empty()) {
    pg::ArrayLiteral terminal, seq, id, kind, ts, synced, body, refused;
    for (const auto& r : e.records) {
      terminal.add(r.terminal);
      seq.add(static_cast<int64_t>(r.seq));
      id.add(r.id);
      kind.add(r.kind);
      ts.add(r.ts_ms);
      synced.add(r.clock_synced);
      body.add(r.body);
      refused.add(r.refused);
    }
    auto r = c.q(
        "INSERT INTO records(terminal, seq, id, kind, ts_ms, clock_synced, body, received_ms, refused) "
        "SELECT r.terminal, r.seq, r.id, r.kind, r.ts_ms, r.clock_synced, r.body, $9::bigint, r.refused "
        "FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::boolean[], $7::text[], "
        "$8::text[]) AS r(terminal, seq, id, kind, ts_ms, clock_synced, body, refused)",
        terminal.str(), seq.str(), id.str(), kind.str(), ts.str(), synced.str(), body.str(), refused.str(), e.now_ms);
    if (!r) return r.error();
  }
  if (!e.access.empty()) {
    pg::ArrayLiteral record, terminal, seq, ts, card, user, resolved, resource, output, decision, reason, mode,
        acl, booking, synced;
    for (const auto& a : e.access) {
      record.add(a.record_id);
      terminal.add(a.terminal);
      seq.add(static_cast<int64_t>(a.seq));
      ts.add(a.ts_ms);
      card.add(a.card);
      user.add(a.user);
      resolved.add(a.user_resolved);
      resource.add(a.resource);
      output.add(a.output);
      decision.add(a.decision);
      reason.add(a.reason);
      mode.add(a.mode);
      acl.add(static_cast<int64_t>(a.acl_version));
      booking.add(a.booking);
      synced.add(a.clock_synced);
    }
    auto r = c.q(
        "INSERT INTO access_events(record_id, terminal, seq, ts_ms, card, user_id, user_resolved, resource, output, "
        "decision, reason, mode, acl_version, booking, clock_synced) "
        "SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::text[], $6::text[], "
        "$7::boolean[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::bigint[], $14::text[], "
        "$15::boolean[])",
        record.str(), terminal.str(), seq.str(), ts.str(), card.str(), user.str(), resolved.str(), resource.str(),
        output.str(), decision.str(), reason.str(), mode.str(), acl.str(), booking.str(), synced.str());
    if (!r) return r.error();
  }
  if (!e.new_sessions.empty()) {
    pg::ArrayLiteral id, terminal, resource, user, card, booking, start, end, duration, energy, end_reason, flags,
        status, start_record, end_record;
    for (const auto& row : e.new_sessions) {
      const UsageSession& s = row.session;
      id.add(s.id);
      terminal.add(s.terminal);
      resource.add(s.resource);
      user.add(s.user);
      card.add(s.card);
      booking.add(s.booking);
      start.add(s.start_ms);
      end.add(s.end_ms);
      duration.add(s.duration_ms);
      energy.add(s.energy_wh);
      end_reason.add(s.end_reason);
      flags.add(join_flags(s.flags));
      status.add(std::string_view(s.closed ? "closed" : "open"));
      start_record.add_or_null(row.start_record);
      end_record.add_or_null(row.end_record);
    }
    auto r = c.q(
        "INSERT INTO usage_sessions(id, terminal, resource, user_id, card, booking, start_ms, end_ms, duration_ms, "
        "energy_wh, end_reason, flags, status, start_record, end_record) "
        "SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[], "
        "$8::bigint[], $9::bigint[], $10::bigint[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[])",
        id.str(), terminal.str(), resource.str(), user.str(), card.str(), booking.str(), start.str(), end.str(),
        duration.str(), energy.str(), end_reason.str(), flags.str(), status.str(), start_record.str(),
        end_record.str());
    if (!r) return r.error();
  }
  if (!e.closes.empty()) {
    pg::ArrayLiteral id, user, end, duration, energy, end_reason, flags, end_record;
    for (const auto& row : e.closes) {
      const UsageSession& s = row.session;
      id.add(s.id);
      user.add(s.user);
      end.add(s.end_ms);
      duration.add(s.duration_ms);
      energy.add(s.energy_wh);
      end_reason.add(s.end_reason);
      flags.add(join_flags(s.flags));
      end_record.add(row.end_record);
    }
    auto r = c.q(
        "UPDATE usage_sessions s SET status = 'closed', user_id = v.user_id, end_ms = v.end_ms, "
        "duration_ms = v.duration_ms, energy_wh = v.energy_wh, end_reason = v.end_reason, flags = v.flags, "
        "end_record = v.end_record FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[], "
        "$6::text[], $7::text[], $8::text[]) AS v(id, user_id, end_ms, duration_ms, energy_wh, end_reason, flags, "
        "end_record) WHERE s.id = v.id AND s.status = 'open'",
        id.str(), user.str(), end.str(), duration.str(), energy.str(), end_reason.str(), flags.str(), end_record.str());
    if (!r) return r.error();
    if (r->affected() != static_cast<int64_t>(e.closes.size())) {
      return Error::invalid("closing " + std::to_string(e.closes.size()) + " sessions: only " +
                            std::to_string(r->affected()) + " of them are stored open");
    }
  }
  if (!e.alarms.empty()) {
    pg::ArrayLiteral terminal, code, detail;
    for (const auto& a : e.alarms) {
      terminal.add(a.terminal);
      code.add(a.code);
      detail.add(a.detail);
    }
    // In the order raised: the identity column numbers them so.
    auto r =
        c.q("INSERT INTO server_alarms(terminal, code, detail, ts_ms) SELECT a.terminal, a.code, a.detail, $4::bigint "
            "FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS a(terminal, code, detail, n) "
            "ORDER BY a.n",
            terminal.str(), code.str(), detail.str(), e.now_ms);
    if (!r) return r.error();
  }
  // Counters and rejections: one upsert each for all their names, on this connection's shard.
  auto add_all = [&](const std::map<std::string, int64_t>& amounts, const char* sql) -> Status {
    pg::ArrayLiteral names, values;
    for (const auto& [name, n] : amounts) {
      if (n == 0) continue;
      names.add(name);
      values.add(n);
    }
    if (names.size() == 0) return {};
    return done(c.q(sql, names.str(), db_.shard(), values.str()));
  };
  LG_TRY(add_all(e.counters,
                 "INSERT INTO ingest_counters(name, shard, value) SELECT n.name, $2::text, n.value "
                 "FROM unnest($1::text[], $3::bigint[]) AS n(name, value) "
                 "ON CONFLICT (name, shard) DO UPDATE SET value = ingest_counters.value + excluded.value"));
  LG_TRY(add_all(e.rejections,
                 "INSERT INTO rejections(reason, shard, count) SELECT n.reason, $2::text, n.value "
                 "FROM unnest($1::text[], $3::bigint[]) AS n(reason, value) "
                 "ON CONFLICT (reason, shard) DO UPDATE SET count = rejections.count + excluded.count"));
  return {};
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

Status PgStore::keep_pseudonyms(const std::string& terminal,
                                const std::vector<std::pair<std::string, std::string>>& pairs) {
  if (pairs.empty()) return {};
  pg::ArrayLiteral ps, users;
  for (const auto& [p, user] : pairs) {
    ps.add(p);
    users.add(user);
  }
  return done(db_.conn().q(
      "INSERT INTO pseudonyms(terminal, pseudonym, user_id) SELECT $1, k.p, k.u FROM unnest($2::text[], $3::text[]) "
      "AS k(p, u) ON CONFLICT (terminal, pseudonym) DO NOTHING",
      terminal, ps.str(), users.str()));
}

Result<std::map<std::string, std::string>> PgStore::pseudonym_users(const std::string& terminal,
                                                                   const std::vector<std::string>& pseudonyms) {
  std::map<std::string, std::string> out;
  if (pseudonyms.empty()) return out;
  pg::ArrayLiteral ps;
  for (const auto& p : pseudonyms) ps.add(p);
  auto r = db_.conn().q(
      "SELECT s.pseudonym, s.user_id FROM unnest($2::text[]) AS k(p) JOIN pseudonyms s ON s.terminal = $1 AND "
      "s.pseudonym = k.p",
      terminal, ps.str());
  if (!r) return r.error();
  for (int i = 0; i < r->size(); ++i) out.emplace(r->text(i, 0), r->text(i, 1));
  return out;
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
  const Keyset q{select, 26, "(s.start_ms, s.id)", "is", true, "ORDER BY s.start_ms DESC, s.id DESC", 3};
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
