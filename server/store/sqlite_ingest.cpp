// The ingest transaction: records, dedup, derived effects, charges and the contiguous ack,
// all inside ONE BEGIN IMMEDIATE transaction.
#include <type_traits>

#include "labgate/common/crypto.hpp"
#include "server/domain/billing.hpp"
#include "server/ingest/record_rules.hpp"
#include "server/store/sqlite_store.hpp"
#include "server/store/sqlite_util.hpp"

namespace lg::server {

using namespace store_detail;

namespace {

/// Per-transaction helper holding the terminal's context.
class BatchWriter {
 public:
  BatchWriter(db::Database& d, std::string terminal, std::string resource, int64_t now_ms, std::string currency,
              IngestOutcome& out)
      : db_(d), terminal_(std::move(terminal)), resource_(std::move(resource)), now_ms_(now_ms),
        currency_(std::move(currency)), out_(out) {}

  /// Stores one record (or counts it as duplicate / rejects it) and derives its effects.
  Status record(const proto::Record& r) {
    {
      auto q = db_.prepare("SELECT id FROM records WHERE terminal = ? AND seq = ?");
      if (!q) return q.error();
      q->bind(1, terminal_).bind(2, static_cast<int64_t>(r.seq));
      auto row = q->step();
      if (!row) return row.error();
      if (*row) {
        const std::string existing = q->column_text(0);
        if (existing == r.id) {
          out_.duplicates += 1;
          return {};
        }
        return reject(r, "seq_conflict",
                      "seq " + std::to_string(r.seq) + " already holds record " + existing + ", got " + r.id);
      }
    }
    {
      auto q = db_.prepare("SELECT terminal, seq FROM records WHERE id = ?");
      if (!q) return q.error();
      q->bind(1, r.id);
      auto row = q->step();
      if (!row) return row.error();
      if (*row) {
        return reject(r, "record_id_conflict",
                      "record id " + r.id + " already stored as " + q->column_text(0) + "#" +
                          std::to_string(q->column_int64(1)) + ", got seq " + std::to_string(r.seq));
      }
    }
    std::optional<ingest::Refusal> refusal = ingest::check_resource(r, resource_);
    if (!refusal) {
      if (const auto* end = std::get_if<proto::SessionEnd>(&r.body)) {
        auto facts = duration_facts(r, *end);
        if (!facts) return facts.error();
        refusal = ingest::check_duration(*facts);
      }
    }
    auto ins = db_.prepare(
        "INSERT INTO records(terminal, seq, id, kind, ts_ms, clock_synced, body, received_ms, refused) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
    if (!ins) return ins.error();
    ins->bind(1, terminal_).bind(2, static_cast<int64_t>(r.seq)).bind(3, r.id).bind(4, proto::to_string(r.kind()));
    ins->bind(5, r.ts_ms).bind(6, b64(r.clock_synced)).bind(7, proto::encode(r)).bind(8, now_ms_);
    ins->bind(9, refusal ? refusal->reason : std::string());
    LG_TRY(ins->run());
    out_.inserted += 1;
    if (refusal) return refuse(*refusal);
    return std::visit([&](const auto& body) { return effect(r, body); }, r.body);
  }

 private:
  /// Kept as evidence (the ack advances past it) but without effects: an alarm and a count.
  Status refuse(const ingest::Refusal& why) {
    out_.refused += 1;
    out_.alarms.push_back(why.reason + ": " + why.detail);
    LG_TRY(alarm(why.reason, why.detail));
    return bump_rejection(db_, why.reason, 1);
  }

  Status alarm(std::string_view code, const std::string& detail) {
    auto st = db_.prepare("INSERT INTO server_alarms(terminal, code, detail, ts_ms) VALUES (?, ?, ?, ?)");
    if (!st) return st.error();
    st->bind(1, terminal_).bind(2, code).bind(3, detail).bind(4, now_ms_);
    return st->run();
  }

  /// Whether the session's wall-clock span can be trusted: the end record and, when the server
  /// holds it, the start record were taken with an NTP-synced clock.
  Result<ingest::DurationFacts> duration_facts(const proto::Record& r, const proto::SessionEnd& e) {
    ingest::DurationFacts f{e.start_ms, e.end_ms, e.duration_ms, r.clock_synced};
    for (const auto& flag : e.flags) f.wall_clock_trusted = f.wall_clock_trusted && flag != "clock_unsynced";
    if (!f.wall_clock_trusted) return f;
    auto q = db_.prepare(
        "SELECT rec.clock_synced FROM usage_sessions s JOIN records rec ON rec.id = s.start_record "
        "WHERE s.id = ?");
    if (!q) return q.error();
    q->bind(1, e.session);
    auto row = q->step();
    if (!row) return row.error();
    if (*row && q->column_int64(0) == 0) f.wall_clock_trusted = false;
    return f;
  }

  Status reject(const proto::Record& /*r*/, std::string_view reason, std::string detail) {
    out_.rejected += 1;
    out_.alarms.push_back(detail);
    LG_TRY(alarm(reason, detail));
    return bump_rejection(db_, reason, 1);
  }

  Result<std::string> card_owner(const std::string& card) {
    if (card.empty()) return std::string();
    auto q = db_.prepare("SELECT user FROM cards WHERE uid = ? AND active = 1");
    if (!q) return q.error();
    q->bind(1, card);
    auto row = q->step();
    if (!row) return row.error();
    return *row ? q->column_text(0) : std::string();
  }

  Result<std::optional<User>> user(const std::string& id) {
    if (id.empty()) return std::optional<User>{};
    auto q = db_.prepare("SELECT id, name, category, COALESCE(unit, ''), admin FROM users WHERE id = ?");
    if (!q) return q.error();
    q->bind(1, id);
    auto row = q->step();
    if (!row) return row.error();
    if (!*row) return std::optional<User>{};
    return std::optional<User>{User{q->column_text(0), q->column_text(1),
                                    category_from(q->column_text(2)).value_or(UserCategory::internal),
                                    q->column_text(3), q->column_int64(4) != 0}};
  }

  Result<std::optional<FeeStandard>> fee(const std::string& instrument) {
    auto q = db_.prepare(
        "SELECT instrument, internal_fen_per_hour, external_fen_per_hour, currency FROM fee_standards "
        "WHERE instrument = ?");
    if (!q) return q.error();
    q->bind(1, instrument);
    auto row = q->step();
    if (!row) return row.error();
    if (!*row) return std::optional<FeeStandard>{};
    return std::optional<FeeStandard>{
        FeeStandard{q->column_text(0), q->column_int64(1), q->column_int64(2), q->column_text(3)}};
  }

  std::string resource_or_terminal(const std::string& r) const { return r.empty() ? resource_ : r; }

  Status effect(const proto::Record& r, const proto::Access& a) {
    std::string who = a.user;
    bool resolved = false;
    if (who.empty()) {
      auto owner = card_owner(a.card);
      if (!owner) return owner.error();
      who = *owner;
      resolved = !who.empty();
    }
    auto st = db_.prepare(
        "INSERT INTO access_events(record_id, terminal, seq, ts_ms, card, user, user_resolved, resource, output, "
        "decision, reason, mode, acl_version, booking, clock_synced) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
    if (!st) return st.error();
    st->bind(1, r.id).bind(2, terminal_).bind(3, static_cast<int64_t>(r.seq)).bind(4, r.ts_ms);
    st->bind(5, a.card).bind(6, who).bind(7, b64(resolved));
    st->bind(8, resource_or_terminal(a.resource)).bind(9, a.output).bind(10, proto::to_string(a.decision));
    st->bind(11, proto::to_string(a.reason)).bind(12, proto::to_string(a.mode));
    st->bind(13, static_cast<int64_t>(a.acl_version)).bind(14, a.booking).bind(15, b64(r.clock_synced));
    return st->run();
  }

  Status effect(const proto::Record& r, const proto::SessionStart& s) {
    std::string who = s.user;
    if (who.empty()) {
      auto owner = card_owner(s.card);
      if (!owner) return owner.error();
      who = *owner;
    }
    auto st = db_.prepare(
        "INSERT INTO usage_sessions(id, terminal, resource, user, card, booking, start_ms, status, start_record) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, 'open', ?) ON CONFLICT(id) DO NOTHING");
    if (!st) return st.error();
    st->bind(1, s.session).bind(2, terminal_).bind(3, resource_or_terminal(s.resource)).bind(4, who);
    st->bind(5, s.card).bind(6, s.booking).bind(7, r.ts_ms).bind(8, r.id);
    return st->run();
  }

  Status effect(const proto::Record& r, const proto::SessionEnd& e) {
    const std::string resource = resource_or_terminal(e.resource);
    std::string who = e.user;
    bool exists = false;
    {
      auto q = db_.prepare("SELECT status, user, COALESCE(end_record, '') FROM usage_sessions WHERE id = ?");
      if (!q) return q.error();
      q->bind(1, e.session);
      auto row = q->step();
      if (!row) return row.error();
      if (*row) {
        exists = true;
        if (q->column_text(0) == "closed") {
          // Another end record already closed (and charged) this session: never charge twice.
          return reject(r, "session_already_closed",
                        "session " + e.session + " already closed by record " + q->column_text(2) + ", got " + r.id);
        }
        if (who.empty()) who = q->column_text(1);
      }
    }
    if (who.empty()) {
      auto owner = card_owner(e.card);
      if (!owner) return owner.error();
      who = *owner;
    }
    if (exists) {
      auto st = db_.prepare(
          "UPDATE usage_sessions SET status = 'closed', user = ?, end_ms = ?, duration_ms = ?, energy_wh = ?, "
          "end_reason = ?, flags = ?, end_record = ? WHERE id = ?");
      if (!st) return st.error();
      st->bind(1, who).bind(2, e.end_ms).bind(3, e.duration_ms).bind(4, e.energy_wh);
      st->bind(5, proto::to_string(e.end_reason)).bind(6, join_flags(e.flags)).bind(7, r.id).bind(8, e.session);
      LG_TRY(st->run());
    } else {
      auto st = db_.prepare(
          "INSERT INTO usage_sessions(id, terminal, resource, user, card, booking, start_ms, end_ms, duration_ms, "
          "energy_wh, end_reason, flags, status, end_record) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,'closed',?)");
      if (!st) return st.error();
      st->bind(1, e.session).bind(2, terminal_).bind(3, resource).bind(4, who);
      st->bind(5, e.card).bind(6, e.booking).bind(7, e.start_ms).bind(8, e.end_ms);
      st->bind(9, e.duration_ms).bind(10, e.energy_wh).bind(11, proto::to_string(e.end_reason));
      st->bind(12, join_flags(e.flags)).bind(13, r.id);
      LG_TRY(st->run());
    }

    billing::ChargeInput in;
    in.session = e.session;
    in.instrument = resource;
    in.duration_ms = e.duration_ms;
    in.end_ms = e.end_ms;
    in.default_currency = currency_;
    auto u = user(who);
    if (!u) return u.error();
    in.user = *u;
    auto f = fee(resource);
    if (!f) return f.error();
    in.fee = *f;
    Charge c = billing::make_charge(in);
    if (!in.user && !who.empty()) c.user = who;  // keep the id the terminal reported, flagged unknown_user
    c.id = crypto::uuid4();
    auto st = db_.prepare(
        "INSERT INTO charges(id, session, instrument, user, category, rate_fen_per_hour, duration_ms, amount_fen, "
        "currency, flags, end_ms, created_ms) VALUES (?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(session) DO NOTHING");
    if (!st) return st.error();
    st->bind(1, c.id).bind(2, c.session).bind(3, c.instrument).bind(4, c.user).bind(5, c.category);
    st->bind(6, c.rate_fen_per_hour).bind(7, c.duration_ms).bind(8, c.amount_fen).bind(9, c.currency);
    st->bind(10, join_flags(c.flags)).bind(11, c.end_ms).bind(12, now_ms_);
    LG_TRY(st->run());
    if (db_.changes() > 0) out_.charges.push_back(c.id);
    return {};
  }

  template <typename T>
  Status effect(const proto::Record&, const T&) {
    return {};  // meter samples, alarms and video results are kept in records only
  }

  db::Database& db_;
  std::string terminal_;
  std::string resource_;
  int64_t now_ms_;
  std::string currency_;
  IngestOutcome& out_;
};

}  // namespace

Result<IngestOutcome> SqliteStore::commit_batch(const proto::EventBatch& batch, int64_t now_ms,
                                                const std::string& default_currency) {
  db::Transaction tx(db_, db::TxKind::immediate);
  if (!tx.status()) return tx.status().error();
  std::string resource;
  uint64_t acked = 0;
  {
    auto q = db_.prepare("SELECT resource, acked_seq FROM terminals WHERE id = ?");
    if (!q) return q.error();
    q->bind(1, batch.terminal);
    auto row = q->step();
    if (!row) return row.error();
    if (!*row) return store_error(StoreErrc::not_found, "terminal " + batch.terminal + " is not enrolled");
    resource = q->column_text(0);
    acked = static_cast<uint64_t>(q->column_int64(1));
  }
  IngestOutcome out;
  BatchWriter w(db_, batch.terminal, resource, now_ms, default_currency, out);
  for (const auto& r : batch.records) {
    LG_TRY(w.record(r));
  }
  LG_TRY(bump_counter(db_, "batches", 1));
  LG_TRY(bump_counter(db_, "records", out.inserted));
  LG_TRY(bump_counter(db_, "duplicates", out.duplicates));

  // Advance the contiguous acked seq over whatever is stored (a gap filled now moves it far).
  {
    auto q = db_.prepare("SELECT 1 FROM records WHERE terminal = ? AND seq = ?");
    if (!q) return q.error();
    for (;;) {
      q->reset();
      q->bind(1, batch.terminal).bind(2, static_cast<int64_t>(acked + 1));
      auto row = q->step();
      if (!row) return row.error();
      if (!*row) break;
      ++acked;
    }
  }
  auto st = db_.prepare("UPDATE terminals SET acked_seq = ?, last_seen_ms = ? WHERE id = ?");
  if (!st) return st.error();
  st->bind(1, static_cast<int64_t>(acked)).bind(2, now_ms).bind(3, batch.terminal);
  LG_TRY(st->run());
  LG_TRY(tx.commit());
  out.acked_seq = acked;
  return out;
}

}  // namespace lg::server
