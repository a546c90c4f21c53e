#include "server/terminals/pg_store.hpp"

#include <array>

#include "server/core/pg_util.hpp"

namespace lg::server::terminals {

using namespace pgsql;

namespace {

constexpr std::string_view kV1 = R"sql(
CREATE TABLE terminals (
  id TEXT PRIMARY KEY,
  resource TEXT NOT NULL REFERENCES instruments(id),
  public_key TEXT NOT NULL,
  enrolled_ms BIGINT NOT NULL,
  online BOOLEAN NOT NULL DEFAULT false,
  boot BIGINT NOT NULL DEFAULT 0,
  firmware TEXT NOT NULL DEFAULT '',
  board TEXT NOT NULL DEFAULT '',
  acl_version BIGINT NOT NULL DEFAULT 0,
  outbox_depth BIGINT NOT NULL DEFAULT 0,
  clock_synced BOOLEAN NOT NULL DEFAULT false,
  last_seen_ms BIGINT,
  acked_seq BIGINT NOT NULL DEFAULT 0,
  sync_version BIGINT NOT NULL DEFAULT 0,
  sync_hash TEXT NOT NULL DEFAULT '',
  sync_payload TEXT NOT NULL DEFAULT ''
);
)sql";

constexpr std::string_view kV2 = R"sql(
ALTER TABLE terminals ADD COLUMN retired_ms BIGINT;
)sql";

constexpr std::string_view kV3 = R"sql(
ALTER TABLE terminals ADD COLUMN epoch BIGINT NOT NULL DEFAULT 1;
ALTER TABLE terminals ADD COLUMN revoked_ms BIGINT;
ALTER TABLE terminals ADD COLUMN revoke_reason TEXT NOT NULL DEFAULT '';
CREATE TABLE enrol_tokens (
  hash TEXT PRIMARY KEY,
  terminal TEXT NOT NULL,
  resource TEXT NOT NULL REFERENCES instruments(id),
  created_ms BIGINT NOT NULL,
  expires_ms BIGINT NOT NULL,
  used_ms BIGINT,
  created_by TEXT NOT NULL DEFAULT ''
);
CREATE TABLE terminal_certificates (
  serial BIGINT PRIMARY KEY,
  terminal TEXT NOT NULL,
  epoch BIGINT NOT NULL,
  issued_ms BIGINT NOT NULL,
  not_after_ms BIGINT NOT NULL,
  revoked_ms BIGINT,
  reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX terminal_certificates_terminal ON terminal_certificates(terminal, issued_ms);
)sql";

constexpr std::array<db::Migration, 3> kMigrations{{{1, "terminals", kV1},
                                                    {2, "terminals can be retired", kV2},
                                                    {3, "enrolment tokens, certificates, epochs, revocation", kV3}}};

constexpr std::string_view kCols =
    "id, resource, public_key, online, boot, firmware, board, acl_version, sync_version, outbox_depth, "
    "clock_synced, acked_seq, last_seen_ms, retired_ms, epoch, revoked_ms, revoke_reason";
constexpr std::string_view kCertCols = "serial, terminal, epoch, issued_ms, not_after_ms, revoked_ms, reason";

Terminal from(const pg::Rows& r, int i) {
  Terminal t;
  t.id = r.text(i, 0);
  t.resource = r.text(i, 1);
  t.public_key = r.text(i, 2);
  t.online = r.boolean(i, 3);
  t.boot = static_cast<uint64_t>(r.i64(i, 4));
  t.firmware = r.text(i, 5);
  t.board = r.text(i, 6);
  t.acl_version = static_cast<uint64_t>(r.i64(i, 7));
  t.sync_version = static_cast<uint64_t>(r.i64(i, 8));
  t.outbox_depth = static_cast<uint64_t>(r.i64(i, 9));
  t.clock_synced = r.boolean(i, 10);
  t.acked_seq = static_cast<uint64_t>(r.i64(i, 11));
  t.last_seen_ms = r.opt_i64(i, 12);
  t.retired_ms = r.opt_i64(i, 13);
  t.epoch = static_cast<uint64_t>(r.i64(i, 14));
  t.revoked_ms = r.opt_i64(i, 15);
  t.revoke_reason = r.text(i, 16);
  return t;
}

CertRecord cert_from(const pg::Rows& r, int i) {
  CertRecord c;
  c.serial = static_cast<uint64_t>(r.i64(i, 0));
  c.terminal = r.text(i, 1);
  c.epoch = static_cast<uint64_t>(r.i64(i, 2));
  c.issued_ms = r.i64(i, 3);
  c.not_after_ms = r.i64(i, 4);
  c.revoked_ms = r.opt_i64(i, 5);
  c.reason = r.text(i, 6);
  return c;
}

Result<std::vector<CertRecord>> certs_of(const Result<pg::Rows>& r) {
  if (!r) return r.error();
  std::vector<CertRecord> out;
  for (int i = 0; i < r->size(); ++i) out.push_back(cert_from(*r, i));
  return out;
}

Status insert_cert(pg::Conn& c, const CertRecord& cert) {
  return done(c.q("INSERT INTO terminal_certificates(serial, terminal, epoch, issued_ms, not_after_ms) VALUES ($1, $2, $3, $4, $5)",
                  static_cast<int64_t>(cert.serial), cert.terminal, static_cast<int64_t>(cert.epoch), cert.issued_ms,
                  cert.not_after_ms));
}

}  // namespace

std::span<const db::Migration> pg_migrations() { return kMigrations; }

Status PgStore::add(const Terminal& t, int64_t now_ms) {
  return db_.run([&]() -> Status {
    auto& c = db_.conn();
    LG_TRY(require_ref(c, "instruments", "resource", t.resource, "instrument"));
    LG_TRY(require_absent(c, "terminals", t.id, "terminal"));
    return done(c.q("INSERT INTO terminals(id, resource, public_key, enrolled_ms) VALUES ($1, $2, $3, $4)", t.id,
                    t.resource, t.public_key, now_ms));
  });
}

Result<PageOf<Terminal>> PgStore::list(const Page& p) {
  static const std::string select = "SELECT " + std::string(kCols) + " FROM terminals WHERE true";
  const Keyset q = by_id(select);
  return read_all_page<Terminal>(db_.conn(), q, p, from);
}

Result<std::vector<Terminal>> PgStore::all() {
  auto r = db_.conn().q("SELECT " + std::string(kCols) + " FROM terminals ORDER BY id");
  if (!r) return r.error();
  std::vector<Terminal> out;
  out.reserve(static_cast<std::size_t>(r->size()));
  for (int i = 0; i < r->size(); ++i) out.push_back(from(*r, i));
  return out;
}

Result<std::optional<Terminal>> PgStore::get(const std::string& id) {
  auto r = db_.conn().q("SELECT " + std::string(kCols) + " FROM terminals WHERE id = $1", id);
  if (!r) return r.error();
  std::optional<Terminal> out;
  if (!r->empty()) out = from(*r, 0);
  return out;
}

Result<StateOutcome> PgStore::apply_state(const StateUpdate& u) {
  const std::string key = lock_key(u.state.terminal);  // queues behind an evt group holding this terminal
  return transact_serialized<StateOutcome>(db_, std::span(&key, 1), [&]() -> Result<StateOutcome> {
    auto& c = db_.conn();
    auto r =
        c.q("SELECT boot, sync_version, online, firmware, board, sync_hash FROM terminals WHERE id = $1 FOR UPDATE",
            u.state.terminal);
    if (!r) return r.error();
    if (r->empty()) return domain_error(Errc::not_found, "terminal " + u.state.terminal + " is not enrolled");
    const auto current_boot = static_cast<uint64_t>(r->i64(0, 0));
    StateOutcome out;
    out.sync_version = static_cast<uint64_t>(r->i64(0, 1));
    out.changed = r->boolean(0, 2) != u.state.online || current_boot != u.state.boot ||
                  r->text(0, 3) != u.state.firmware || r->text(0, 4) != u.state.board;
    out.bundle_stale = r->text(0, 5).empty();
    // A Last Will from an older connection (lower boot counter) arrives late: ignore it.
    if (!u.state.online && u.state.boot < current_boot) {
      out.changed = false;
      return out;
    }
    LG_TRY(done(c.q("UPDATE terminals SET online = $1, boot = $2, firmware = $3, board = $4, acl_version = $5, "
                    "outbox_depth = $6, clock_synced = $7, last_seen_ms = $8 WHERE id = $9",
                    u.state.online, static_cast<int64_t>(u.state.boot), u.state.firmware, u.state.board,
                    static_cast<int64_t>(u.state.acl_version), static_cast<int64_t>(u.state.outbox_depth),
                    u.state.clock_synced, u.seen_ms, u.state.terminal)));
    out.applied = true;
    return out;
  });
}

Status PgStore::set_acked(const std::string& id, uint64_t acked_seq, int64_t seen_ms) {
  return done(db_.conn().q("UPDATE terminals SET acked_seq = GREATEST(acked_seq, $1), last_seen_ms = $2 WHERE id = $3",
                           static_cast<int64_t>(acked_seq), seen_ms, id));
}

Result<Terminal> PgStore::retire(const std::string& id, int64_t now_ms) {
  Terminal out;
  auto s = db_.run([&]() -> Status {
    auto r = db_.conn().q("SELECT " + std::string(kCols) + " FROM terminals WHERE id = $1 FOR UPDATE", id);
    if (!r) return r.error();
    if (r->empty()) return domain_error(Errc::not_found, "terminal: no terminal '" + id + "'");
    out = from(*r, 0);
    if (out.retired_ms) return domain_error(Errc::conflict, "terminal: '" + id + "' is retired already");
    return done(db_.conn().q("UPDATE terminals SET retired_ms = $1 WHERE id = $2", now_ms, id));
  });
  if (!s) return s.error();
  return out;
}

Status PgStore::add_enrol_token(const EnrolToken& t) {
  return db_.run([&]() -> Status {
    auto& c = db_.conn();
    LG_TRY(require_ref(c, "instruments", "resource", t.resource, "instrument"));
    auto r = c.q("SELECT retired_ms FROM terminals WHERE id = $1", t.terminal);
    if (!r) return r.error();
    if (!r->empty() && r->opt_i64(0, 0))
      return domain_error(Errc::conflict, "id: terminal '" + t.terminal + "' is retired; enrol the device under a new id");
    return done(c.q("INSERT INTO enrol_tokens(hash, terminal, resource, created_ms, expires_ms, created_by) "
                    "VALUES ($1, $2, $3, $4, $5, $6)",
                    t.hash, t.terminal, t.resource, t.created_ms, t.expires_ms, t.created_by));
  });
}

Result<std::optional<EnrolToken>> PgStore::enrol_token(const std::string& hash) {
  auto r = db_.conn().q(
      "SELECT hash, terminal, resource, created_ms, expires_ms, used_ms, created_by FROM enrol_tokens WHERE hash = $1", hash);
  if (!r) return r.error();
  std::optional<EnrolToken> out;
  if (!r->empty()) {
    EnrolToken t;
    t.hash = r->text(0, 0);
    t.terminal = r->text(0, 1);
    t.resource = r->text(0, 2);
    t.created_ms = r->i64(0, 3);
    t.expires_ms = r->i64(0, 4);
    t.used_ms = r->opt_i64(0, 5);
    t.created_by = r->text(0, 6);
    out = std::move(t);
  }
  return out;
}

Result<Enrolled> PgStore::enrol(const std::string& token_hash, const std::string& public_key, CertRecord cert,
                                int64_t now_ms) {
  return transact<Enrolled>(db_, [&]() -> Result<Enrolled> {
    auto& c = db_.conn();
    auto tr = c.q("SELECT terminal, resource, used_ms FROM enrol_tokens WHERE hash = $1 FOR UPDATE", token_hash);
    if (!tr) return tr.error();
    if (tr->empty()) return domain_error(Errc::not_found, "token: unknown");
    if (tr->opt_i64(0, 2)) return domain_error(Errc::conflict, "token: used already");
    const std::string terminal = tr->text(0, 0), resource = tr->text(0, 1);
    LG_TRY(done(c.q("UPDATE enrol_tokens SET used_ms = $1 WHERE hash = $2", now_ms, token_hash)));
    auto br = c.q("SELECT " + std::string(kCols) + " FROM terminals WHERE id = $1 FOR UPDATE", terminal);
    if (!br) return br.error();
    Enrolled out;
    // The new device numbers its records from above everything stored for the id (records are the
    // usage area's table; read here so that the floor and the enrolment are one transaction).
    auto mr = c.q("SELECT COALESCE(MAX(seq), 0) FROM records WHERE terminal = $1", terminal);
    if (!mr) return mr.error();
    uint64_t floor = static_cast<uint64_t>(mr->i64(0, 0));
    if (!br->empty()) floor = std::max(floor, from(*br, 0).acked_seq);
    out.seq_start = floor + 1;
    if (br->empty()) {
      LG_TRY(done(c.q("INSERT INTO terminals(id, resource, public_key, enrolled_ms, epoch) VALUES ($1, $2, $3, $4, 1)",
                      terminal, resource, public_key, now_ms)));
    } else {
      if (from(*br, 0).retired_ms) return domain_error(Errc::conflict, "terminal '" + terminal + "' is retired");
      out.replaced = true;
      auto old = certs_of(c.q("SELECT " + std::string(kCertCols) +
                                  " FROM terminal_certificates WHERE terminal = $1 AND revoked_ms IS NULL ORDER BY serial",
                              terminal));
      if (!old) return old.error();
      for (const auto& x : *old) out.superseded.push_back(x.serial);
      LG_TRY(done(c.q("UPDATE terminal_certificates SET revoked_ms = $1, reason = 'superseded' "
                      "WHERE terminal = $2 AND revoked_ms IS NULL",
                      now_ms, terminal)));
      // The old device's bundle names cards by its key: the hash is cleared (sqlite_store.cpp).
      LG_TRY(
          done(c.q("UPDATE terminals SET resource = $1, public_key = $2, epoch = epoch + 1, revoked_ms = NULL, "
                   "revoke_reason = '', online = false, boot = 0, acl_version = 0, outbox_depth = 0, "
                   "acked_seq = $3, sync_hash = '' WHERE id = $4",
                   resource, public_key, static_cast<int64_t>(floor), terminal)));
    }
    auto ar = c.q("SELECT " + std::string(kCols) + " FROM terminals WHERE id = $1", terminal);
    if (!ar) return ar.error();
    out.terminal = from(*ar, 0);
    cert.terminal = terminal;
    cert.epoch = out.terminal.epoch;
    LG_TRY(insert_cert(c, cert));
    return out;
  });
}

Status PgStore::add_certificate(const CertRecord& cert) {
  return db_.run([&]() -> Status { return insert_cert(db_.conn(), cert); });
}

Result<std::vector<CertRecord>> PgStore::certificates(const std::string& terminal) {
  return certs_of(db_.conn().q("SELECT " + std::string(kCertCols) +
                                   " FROM terminal_certificates WHERE terminal = $1 ORDER BY issued_ms DESC, serial DESC",
                               terminal));
}

Result<std::vector<CertRecord>> PgStore::revoked_certificates() {
  return certs_of(db_.conn().q("SELECT " + std::string(kCertCols) +
                               " FROM terminal_certificates WHERE revoked_ms IS NOT NULL ORDER BY serial"));
}

Result<Terminal> PgStore::revoke(const std::string& id, const std::string& reason, int64_t now_ms) {
  return transact<Terminal>(db_, [&]() -> Result<Terminal> {
    auto& c = db_.conn();
    auto r = c.q("SELECT " + std::string(kCols) + " FROM terminals WHERE id = $1 FOR UPDATE", id);
    if (!r) return r.error();
    if (r->empty()) return domain_error(Errc::not_found, "terminal: no terminal '" + id + "'");
    if (from(*r, 0).revoked_ms) return domain_error(Errc::conflict, "terminal: '" + id + "' is revoked already");
    LG_TRY(done(c.q("UPDATE terminals SET revoked_ms = $1, revoke_reason = $2, online = false WHERE id = $3", now_ms,
                    reason, id)));
    LG_TRY(done(c.q("UPDATE terminal_certificates SET revoked_ms = $1, reason = $2 WHERE terminal = $3 AND revoked_ms IS NULL",
                    now_ms, "revoked: " + reason, id)));
    auto a = c.q("SELECT " + std::string(kCols) + " FROM terminals WHERE id = $1", id);
    if (!a) return a.error();
    return from(*a, 0);
  });
}

}  // namespace lg::server::terminals
