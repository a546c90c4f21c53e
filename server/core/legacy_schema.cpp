// The schema of labgate before areas had their own migrations: one numbered list (PRAGMA
// user_version 1..4). Frozen: it only brings an old database to version 4, the shape every
// area's migration 1 starts from, so that SqliteDb can adopt it. Never add a step here.
#include <array>
#include <span>

#include "server/core/legacy_schema.hpp"

namespace lg::server::legacy {

namespace {

constexpr std::string_view kV1 = R"sql(
CREATE TABLE units (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  parent TEXT REFERENCES units(id),
  created_ms INTEGER NOT NULL
);
CREATE TABLE labs (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  unit TEXT NOT NULL REFERENCES units(id),
  created_ms INTEGER NOT NULL
);
CREATE TABLE instruments (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  lab TEXT NOT NULL REFERENCES labs(id),
  kind TEXT NOT NULL CHECK (kind IN ('instrument', 'door')),
  asset_no TEXT NOT NULL DEFAULT '',
  require_booking INTEGER NOT NULL DEFAULT 0,
  created_ms INTEGER NOT NULL
);
CREATE TABLE fee_standards (
  instrument TEXT PRIMARY KEY REFERENCES instruments(id),
  internal_fen_per_hour INTEGER NOT NULL CHECK (internal_fen_per_hour >= 0),
  external_fen_per_hour INTEGER NOT NULL CHECK (external_fen_per_hour >= 0),
  currency TEXT NOT NULL,
  updated_ms INTEGER NOT NULL
);
CREATE TABLE users (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  category TEXT NOT NULL CHECK (category IN ('internal', 'external')),
  unit TEXT REFERENCES units(id),
  admin INTEGER NOT NULL DEFAULT 0,
  created_ms INTEGER NOT NULL
);
CREATE TABLE cards (
  rowid_ INTEGER PRIMARY KEY,
  uid TEXT NOT NULL,
  user TEXT NOT NULL REFERENCES users(id),
  active INTEGER NOT NULL DEFAULT 1,
  created_ms INTEGER NOT NULL
);
CREATE UNIQUE INDEX cards_one_active_owner ON cards(uid) WHERE active = 1;
CREATE INDEX cards_by_user ON cards(user);
CREATE TABLE qualifications (
  user TEXT NOT NULL REFERENCES users(id),
  instrument TEXT NOT NULL REFERENCES instruments(id),
  valid_from_ms INTEGER NOT NULL DEFAULT 0,
  valid_until_ms INTEGER,
  updated_ms INTEGER NOT NULL,
  PRIMARY KEY (user, instrument)
);
CREATE INDEX qualifications_by_instrument ON qualifications(instrument);
CREATE TABLE bookings (
  id TEXT PRIMARY KEY,
  instrument TEXT NOT NULL REFERENCES instruments(id),
  user TEXT NOT NULL REFERENCES users(id),
  start_ms INTEGER NOT NULL,
  end_ms INTEGER NOT NULL,
  created_ms INTEGER NOT NULL,
  CHECK (end_ms > start_ms)
);
CREATE INDEX bookings_by_instrument ON bookings(instrument, end_ms);
CREATE TABLE terminals (
  id TEXT PRIMARY KEY,
  resource TEXT NOT NULL REFERENCES instruments(id),
  public_key TEXT NOT NULL,
  enrolled_ms INTEGER NOT NULL,
  online INTEGER NOT NULL DEFAULT 0,
  boot INTEGER NOT NULL DEFAULT 0,
  firmware TEXT NOT NULL DEFAULT '',
  board TEXT NOT NULL DEFAULT '',
  acl_version INTEGER NOT NULL DEFAULT 0,
  outbox_depth INTEGER NOT NULL DEFAULT 0,
  clock_synced INTEGER NOT NULL DEFAULT 0,
  last_seen_ms INTEGER,
  acked_seq INTEGER NOT NULL DEFAULT 0,
  sync_version INTEGER NOT NULL DEFAULT 0,
  sync_hash TEXT NOT NULL DEFAULT '',
  sync_payload TEXT NOT NULL DEFAULT ''
);
CREATE TABLE records (
  terminal TEXT NOT NULL,
  seq INTEGER NOT NULL,
  id TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL,
  ts_ms INTEGER NOT NULL,
  clock_synced INTEGER NOT NULL,
  body TEXT NOT NULL,
  received_ms INTEGER NOT NULL,
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
CREATE INDEX access_events_by_ts ON access_events(ts_ms);
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
CREATE INDEX usage_sessions_by_start ON usage_sessions(start_ms);
CREATE INDEX usage_sessions_by_end ON usage_sessions(end_ms);
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
CREATE INDEX charges_by_end ON charges(end_ms);
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

// Per-instrument access policy (proto::Policy); the defaults are the protocol's, so existing
// instruments keep deciding exactly as before.
constexpr std::string_view kV2 = R"sql(
ALTER TABLE instruments ADD COLUMN early_start_s INTEGER NOT NULL DEFAULT 900 CHECK (early_start_s >= 0);
ALTER TABLE instruments ADD COLUMN grace_after_end_s INTEGER NOT NULL DEFAULT 300 CHECK (grace_after_end_s >= 0);
ALTER TABLE instruments ADD COLUMN offline_grace_s INTEGER NOT NULL DEFAULT 86400 CHECK (offline_grace_s >= 0);
ALTER TABLE instruments ADD COLUMN max_session_s INTEGER NOT NULL DEFAULT 0 CHECK (max_session_s >= 0);
ALTER TABLE instruments ADD COLUMN policy_updated_ms INTEGER;
)sql";

// A record the server refused to derive effects from (resource_mismatch, bad_duration) is kept
// as evidence with the reason, so the terminal's ack still advances and nothing is lost.
constexpr std::string_view kV3 = R"sql(
ALTER TABLE records ADD COLUMN refused TEXT NOT NULL DEFAULT '';
)sql";

// Keyset paging (GET lists with ?cursor=): each list's index holds its whole sort key, so a page
// starts with an index seek and ties on a timestamp are ordered by the index too (cards: uid, then
// the rowid every index carries). The wider indexes replace the single-column ones (same names,
// same queries served); building them on a large database takes a while once, at the first start
// after the upgrade.
constexpr std::string_view kV4 = R"sql(
DROP INDEX charges_by_end;
CREATE INDEX charges_by_end ON charges(end_ms, id);
DROP INDEX usage_sessions_by_start;
CREATE INDEX usage_sessions_by_start ON usage_sessions(start_ms, id);
DROP INDEX access_events_by_ts;
CREATE INDEX access_events_by_ts ON access_events(ts_ms, terminal, seq);
CREATE INDEX bookings_by_start ON bookings(start_ms, id);
CREATE INDEX cards_by_uid ON cards(uid);
)sql";

constexpr std::array<db::Migration, 4> kMigrations{{
    {1, "initial schema", kV1},
    {2, "per-instrument access policy", kV2},
    {3, "refused records", kV3},
    {4, "paging indexes", kV4},
}};

}  // namespace

std::span<const db::Migration> migrations() { return kMigrations; }

}  // namespace lg::server::legacy
