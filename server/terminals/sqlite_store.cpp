#include "server/terminals/sqlite_store.hpp"

#include <array>

#include "server/core/sqlite_util.hpp"

namespace lg::server::terminals {

using namespace sqlite;

namespace {

constexpr std::string_view kV1 = R"sql(
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
)sql";

constexpr std::string_view kV2 = R"sql(
ALTER TABLE terminals ADD COLUMN retired_ms INTEGER;
)sql";

constexpr std::string_view kV3 = R"sql(
ALTER TABLE terminals ADD COLUMN epoch INTEGER NOT NULL DEFAULT 1;
ALTER TABLE terminals ADD COLUMN revoked_ms INTEGER;
ALTER TABLE terminals ADD COLUMN revoke_reason TEXT NOT NULL DEFAULT '';
CREATE TABLE enrol_tokens (
  hash TEXT PRIMARY KEY,
  terminal TEXT NOT NULL,
  resource TEXT NOT NULL REFERENCES instruments(id),
  created_ms INTEGER NOT NULL,
  expires_ms INTEGER NOT NULL,
  used_ms INTEGER,
  created_by TEXT NOT NULL DEFAULT ''
);
CREATE TABLE terminal_certificates (
  serial INTEGER PRIMARY KEY,
  terminal TEXT NOT NULL,
  epoch INTEGER NOT NULL,
  issued_ms INTEGER NOT NULL,
  not_after_ms INTEGER NOT NULL,
  revoked_ms INTEGER,
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

Terminal from(db::Statement& r) {
  Terminal t;
  t.id = r.column_text(0);
  t.resource = r.column_text(1);
  t.public_key = r.column_text(2);
  t.online = r.column_int64(3) != 0;
  t.boot = static_cast<uint64_t>(r.column_int64(4));
  t.firmware = r.column_text(5);
  t.board = r.column_text(6);
  t.acl_version = static_cast<uint64_t>(r.column_int64(7));
  t.sync_version = static_cast<uint64_t>(r.column_int64(8));
  t.outbox_depth = static_cast<uint64_t>(r.column_int64(9));
  t.clock_synced = r.column_int64(10) != 0;
  t.acked_seq = static_cast<uint64_t>(r.column_int64(11));
  t.last_seen_ms = opt_int(r, 12);
  t.retired_ms = opt_int(r, 13);
  t.epoch = static_cast<uint64_t>(r.column_int64(14));
  t.revoked_ms = opt_int(r, 15);
  t.revoke_reason = r.column_text(16);
  return t;
}

CertRecord cert_from(db::Statement& r) {
  CertRecord c;
  c.serial = static_cast<uint64_t>(r.column_int64(0));
  c.terminal = r.column_text(1);
  c.epoch = static_cast<uint64_t>(r.column_int64(2));
  c.issued_ms = r.column_int64(3);
  c.not_after_ms = r.column_int64(4);
  c.revoked_ms = opt_int(r, 5);
  c.reason = r.column_text(6);
  return c;
}

Status insert_cert(db::Database& d, const CertRecord& c) {
  auto st = d.prepare("INSERT INTO terminal_certificates(serial, terminal, epoch, issued_ms, not_after_ms) VALUES (?, ?, ?, ?, ?)");
  if (!st) return st.error();
  st->bind(1, static_cast<int64_t>(c.serial)).bind(2, c.terminal).bind(3, static_cast<int64_t>(c.epoch));
  st->bind(4, c.issued_ms).bind(5, c.not_after_ms);
  return st->run();
}

Result<std::vector<CertRecord>> certs_where(db::Database& d, const std::string& where, const std::string& arg) {
  auto q = d.prepare("SELECT " + std::string(kCertCols) + " FROM terminal_certificates WHERE " + where);
  if (!q) return q.error();
  if (!arg.empty()) q->bind(1, arg);
  std::vector<CertRecord> out;
  if (auto s = each_row(*q, [&](db::Statement& r) { out.push_back(cert_from(r)); }); !s) return s.error();
  return out;
}

}  // namespace

std::span<const db::Migration> migrations() { return kMigrations; }

Status SqliteStore::add(const Terminal& t, int64_t now_ms) {
  return db_.run([&]() -> Status {
    auto& d = db_.conn();
    LG_TRY(require_ref(d, "instruments", "resource", t.resource, "instrument"));
    LG_TRY(require_absent(d, "terminals", t.id, "terminal"));
    auto st = d.prepare("INSERT INTO terminals(id, resource, public_key, enrolled_ms) VALUES (?, ?, ?, ?)");
    if (!st) return st.error();
    st->bind(1, t.id).bind(2, t.resource).bind(3, t.public_key).bind(4, now_ms);
    return st->run();
  });
}

Result<PageOf<Terminal>> SqliteStore::list(const Page& p) {
  static const std::string select = "SELECT " + std::string(kCols) + " FROM terminals WHERE 1";
  const Keyset q = by_id(select);
  return read_all_page<Terminal>(db_.conn(), q, p, from);
}

Result<std::vector<Terminal>> SqliteStore::all() {
  auto q = db_.conn().prepare("SELECT " + std::string(kCols) + " FROM terminals ORDER BY id");
  if (!q) return q.error();
  std::vector<Terminal> out;
  if (auto s = each_row(*q, [&](db::Statement& r) { out.push_back(from(r)); }); !s) return s.error();
  return out;
}

Result<std::optional<Terminal>> SqliteStore::get(const std::string& id) {
  auto q = db_.conn().prepare("SELECT " + std::string(kCols) + " FROM terminals WHERE id = ?");
  if (!q) return q.error();
  q->bind(1, id);
  auto row = q->step();
  if (!row) return row.error();
  std::optional<Terminal> out;
  if (*row) out = from(*q);
  q->reset();
  return out;
}

Result<StateOutcome> SqliteStore::apply_state(const StateUpdate& u) {
  return transact<StateOutcome>(db_, [&]() -> Result<StateOutcome> {
    auto& d = db_.conn();
    auto q = d.prepare("SELECT boot, sync_version, online, firmware, board, sync_hash FROM terminals WHERE id = ?");
    if (!q) return q.error();
    q->bind(1, u.state.terminal);
    auto row = q->step();
    if (!row) return row.error();
    if (!*row) return domain_error(Errc::not_found, "terminal " + u.state.terminal + " is not enrolled");
    const auto current_boot = static_cast<uint64_t>(q->column_int64(0));
    StateOutcome out;
    out.sync_version = static_cast<uint64_t>(q->column_int64(1));
    out.changed = (q->column_int64(2) != 0) != u.state.online || current_boot != u.state.boot ||
                  q->column_text(3) != u.state.firmware || q->column_text(4) != u.state.board;
    out.bundle_stale = q->column_text(5).empty();
    q->reset();
    // A Last Will from an older connection (lower boot counter) arrives late: ignore it.
    if (!u.state.online && u.state.boot < current_boot) {
      out.changed = false;
      return out;
    }
    auto st = d.prepare(
        "UPDATE terminals SET online = ?, boot = ?, firmware = ?, board = ?, acl_version = ?, outbox_depth = ?, "
        "clock_synced = ?, last_seen_ms = ? WHERE id = ?");
    if (!st) return st.error();
    st->bind(1, b64(u.state.online)).bind(2, static_cast<int64_t>(u.state.boot)).bind(3, u.state.firmware);
    st->bind(4, u.state.board).bind(5, static_cast<int64_t>(u.state.acl_version));
    st->bind(6, static_cast<int64_t>(u.state.outbox_depth)).bind(7, b64(u.state.clock_synced));
    st->bind(8, u.seen_ms).bind(9, u.state.terminal);
    if (auto s = st->run(); !s) return s.error();
    out.applied = true;
    return out;
  });
}

Status SqliteStore::set_acked(const std::string& id, uint64_t acked_seq, int64_t seen_ms) {
  auto st = db_.conn().prepare(
      "UPDATE terminals SET acked_seq = max(acked_seq, ?), last_seen_ms = ? WHERE id = ?");
  if (!st) return st.error();
  st->bind(1, static_cast<int64_t>(acked_seq)).bind(2, seen_ms).bind(3, id);
  return st->run();
}

Result<Terminal> SqliteStore::retire(const std::string& id, int64_t now_ms) {
  Terminal out;
  auto s = db_.run([&]() -> Status {
    auto got = get(id);
    if (!got) return got.error();
    if (!*got) return domain_error(Errc::not_found, "terminal: no terminal '" + id + "'");
    out = **got;
    if (out.retired_ms) return domain_error(Errc::conflict, "terminal: '" + id + "' is retired already");
    auto st = db_.conn().prepare("UPDATE terminals SET retired_ms = ? WHERE id = ?");
    if (!st) return st.error();
    st->bind(1, now_ms).bind(2, id);
    return st->run();
  });
  if (!s) return s.error();
  return out;
}

Status SqliteStore::add_enrol_token(const EnrolToken& t) {
  return db_.run([&]() -> Status {
    auto& d = db_.conn();
    LG_TRY(require_ref(d, "instruments", "resource", t.resource, "instrument"));
    auto existing = get(t.terminal);
    if (!existing) return existing.error();
    if (*existing && (*existing)->retired_ms)
      return domain_error(Errc::conflict, "id: terminal '" + t.terminal + "' is retired; enrol the device under a new id");
    auto st = d.prepare("INSERT INTO enrol_tokens(hash, terminal, resource, created_ms, expires_ms, created_by) VALUES (?, ?, ?, ?, ?, ?)");
    if (!st) return st.error();
    st->bind(1, t.hash).bind(2, t.terminal).bind(3, t.resource).bind(4, t.created_ms).bind(5, t.expires_ms);
    st->bind(6, t.created_by);
    return st->run();
  });
}

Result<std::optional<EnrolToken>> SqliteStore::enrol_token(const std::string& hash) {
  auto q = db_.conn().prepare(
      "SELECT hash, terminal, resource, created_ms, expires_ms, used_ms, created_by FROM enrol_tokens WHERE hash = ?");
  if (!q) return q.error();
  q->bind(1, hash);
  auto row = q->step();
  if (!row) return row.error();
  std::optional<EnrolToken> out;
  if (*row) {
    EnrolToken t;
    t.hash = q->column_text(0);
    t.terminal = q->column_text(1);
    t.resource = q->column_text(2);
    t.created_ms = q->column_int64(3);
    t.expires_ms = q->column_int64(4);
    t.used_ms = opt_int(*q, 5);
    t.created_by = q->column_text(6);
    out = std::move(t);
  }
  q->reset();
  return out;
}

Result<Enrolled> SqliteStore::enrol(const std::string& token_hash, const std::string& public_key, CertRecord cert,
                                    int64_t now_ms) {
  return transact<Enrolled>(db_, [&]() -> Result<Enrolled> {
    auto& d = db_.conn();
    auto tok = enrol_token(token_hash);
    if (!tok) return tok.error();
    if (!*tok) return domain_error(Errc::not_found, "token: unknown");
    const EnrolToken& t = **tok;
    if (t.used_ms) return domain_error(Errc::conflict, "token: used already");
    auto use = d.prepare("UPDATE enrol_tokens SET used_ms = ? WHERE hash = ? AND used_ms IS NULL");
    if (!use) return use.error();
    use->bind(1, now_ms).bind(2, token_hash);
    LG_TRY(use->run());
    // The new device numbers its records from above everything stored for the id (records are the
    // usage area's table; read here so that the floor and the enrolment are one transaction).
    uint64_t floor = 0;
    {
      auto mq = d.prepare("SELECT COALESCE(MAX(seq), 0) FROM records WHERE terminal = ?");
      if (!mq) return mq.error();
      mq->bind(1, t.terminal);
      auto row = mq->step();
      if (!row) return row.error();
      if (*row) floor = static_cast<uint64_t>(mq->column_int64(0));
      mq->reset();
    }
    auto before = get(t.terminal);
    if (!before) return before.error();
    Enrolled out;
    if (*before) floor = std::max(floor, (*before)->acked_seq);
    out.seq_start = floor + 1;
    if (!*before) {
      auto st = d.prepare("INSERT INTO terminals(id, resource, public_key, enrolled_ms, epoch) VALUES (?, ?, ?, ?, 1)");
      if (!st) return st.error();
      st->bind(1, t.terminal).bind(2, t.resource).bind(3, public_key).bind(4, now_ms);
      LG_TRY(st->run());
    } else {
      if ((*before)->retired_ms) return domain_error(Errc::conflict, "terminal '" + t.terminal + "' is retired");
      out.replaced = true;
      auto old = certs_where(d, "terminal = ?1 AND revoked_ms IS NULL ORDER BY serial", t.terminal);
      if (!old) return old.error();
      for (const auto& c : *old) out.superseded.push_back(c.serial);
      auto rv = d.prepare("UPDATE terminal_certificates SET revoked_ms = ?, reason = 'superseded' WHERE terminal = ? AND revoked_ms IS NULL");
      if (!rv) return rv.error();
      rv->bind(1, now_ms).bind(2, t.terminal);
      LG_TRY(rv->run());
      // A new device: a new epoch, a new key, its own sequence numbers; what the old one reported
      // about itself no longer holds, nor does its bundle (card digests keyed by the old key): the
      // hash is cleared so the next build is new and the device's first state asks for it.
      auto st = d.prepare(
          "UPDATE terminals SET resource = ?, public_key = ?, epoch = epoch + 1, revoked_ms = NULL, "
          "revoke_reason = '', online = 0, boot = 0, acl_version = 0, outbox_depth = 0, acked_seq = ?, "
          "sync_hash = '' WHERE id = ?");
      if (!st) return st.error();
      st->bind(1, t.resource).bind(2, public_key).bind(3, static_cast<int64_t>(floor)).bind(4, t.terminal);
      LG_TRY(st->run());
    }
    auto after = get(t.terminal);
    if (!after) return after.error();
    out.terminal = **after;
    cert.terminal = t.terminal;
    cert.epoch = out.terminal.epoch;
    LG_TRY(insert_cert(d, cert));
    return out;
  });
}

Status SqliteStore::add_certificate(const CertRecord& c) { return db_.run([&]() -> Status { return insert_cert(db_.conn(), c); }); }

Result<std::vector<CertRecord>> SqliteStore::certificates(const std::string& terminal) {
  return certs_where(db_.conn(), "terminal = ?1 ORDER BY issued_ms DESC, serial DESC", terminal);
}

Result<std::vector<CertRecord>> SqliteStore::revoked_certificates() {
  return certs_where(db_.conn(), "revoked_ms IS NOT NULL ORDER BY serial", "");
}

Result<Terminal> SqliteStore::revoke(const std::string& id, const std::string& reason, int64_t now_ms) {
  return transact<Terminal>(db_, [&]() -> Result<Terminal> {
    auto& d = db_.conn();
    auto got = get(id);
    if (!got) return got.error();
    if (!*got) return domain_error(Errc::not_found, "terminal: no terminal '" + id + "'");
    if ((*got)->revoked_ms) return domain_error(Errc::conflict, "terminal: '" + id + "' is revoked already");
    auto st = d.prepare("UPDATE terminals SET revoked_ms = ?, revoke_reason = ?, online = 0 WHERE id = ?");
    if (!st) return st.error();
    st->bind(1, now_ms).bind(2, reason).bind(3, id);
    LG_TRY(st->run());
    auto rv = d.prepare("UPDATE terminal_certificates SET revoked_ms = ?, reason = ? WHERE terminal = ? AND revoked_ms IS NULL");
    if (!rv) return rv.error();
    rv->bind(1, now_ms).bind(2, "revoked: " + reason).bind(3, id);
    LG_TRY(rv->run());
    auto after = get(id);
    if (!after) return after.error();
    return **after;
  });
}

}  // namespace lg::server::terminals
