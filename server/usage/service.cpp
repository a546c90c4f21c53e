#include "server/usage/service.hpp"

#include <variant>

#include "labgate/common/assert.hpp"
#include "labgate/common/crypto.hpp"
#include "server/billing/rules.hpp"
#include "server/core/errors.hpp"

namespace lg::server::usage {

namespace {

/// One batch's work inside its unit of work.
class Batch {
 public:
  Batch(BatchStores& s, const Terminal& t, int64_t now_ms, const std::string& currency, IngestOutcome& out)
      : s_(s), terminal_(t), now_ms_(now_ms), currency_(currency), out_(out) {}

  Status record(const proto::Record& r) {
    auto keys = s_.usage.keys(terminal_.id, r);
    if (!keys) return keys.error();
    const DedupeVerdict v = dedupe(r, *keys);
    switch (v.kind) {
      case Dedupe::fresh:
        break;
      case Dedupe::duplicate:
        out_.duplicates += 1;
        return {};
      case Dedupe::seq_conflict:
        return reject("seq_conflict", v.detail);
      case Dedupe::record_id_conflict:
        return reject("record_id_conflict", v.detail);
    }
    std::optional<Refusal> refusal = check_resource(r, terminal_.resource);
    std::optional<StoredSession> stored;
    if (const auto* end = std::get_if<proto::SessionEnd>(&r.body)) {
      auto got = s_.usage.session(end->session);
      if (!got) return got.error();
      stored = std::move(*got);
      if (!refusal) {
        DurationFacts f{end->start_ms, end->end_ms, end->duration_ms,
                        wall_clock_trusted(r.clock_synced, end->flags, stored->start_synced)};
        refusal = check_duration(f);
      }
    }
    LG_TRY(s_.usage.insert_record(terminal_.id, r, now_ms_, refusal ? refusal->reason : std::string()));
    out_.inserted += 1;
    if (refusal) return refuse(*refusal);
    if (const auto* a = std::get_if<proto::Access>(&r.body)) return on_access(r, *a);
    if (const auto* st = std::get_if<proto::SessionStart>(&r.body)) return on_start(r, *st);
    if (const auto* e = std::get_if<proto::SessionEnd>(&r.body)) return on_end(r, *e, *stored);
    return {};  // meter samples, alarms and video results are kept in records only
  }

 private:
  Status refuse(const Refusal& why) {
    out_.refused += 1;
    out_.alarms.push_back(why.reason + ": " + why.detail);
    LG_TRY(s_.usage.alarm(terminal_.id, why.reason, why.detail, now_ms_));
    return s_.usage.count_rejection(why.reason, 1);
  }

  Status reject(std::string_view reason, const std::string& detail) {
    out_.rejected += 1;
    out_.alarms.push_back(detail);
    LG_TRY(s_.usage.alarm(terminal_.id, reason, detail, now_ms_));
    return s_.usage.count_rejection(reason, 1);
  }

  Result<std::string> owner_if_needed(std::string_view reported, std::string_view session_user,
                                      const std::string& card) {
    if (!reported.empty() || !session_user.empty()) return std::string();
    return s_.directory.card_owner(card);
  }

  std::string resource_of(const std::string& named) const { return named.empty() ? terminal_.resource : named; }

  Status on_access(const proto::Record& r, const proto::Access& a) {
    auto owner = owner_if_needed(a.user, "", a.card);
    if (!owner) return owner.error();
    const Attribution who = attribute(a.user, "", *owner);
    AccessEvent e;
    e.record_id = r.id;
    e.terminal = terminal_.id;
    e.seq = r.seq;
    e.ts_ms = r.ts_ms;
    e.card = a.card;
    e.user = who.user;
    e.user_resolved = who.from_card;
    e.resource = resource_of(a.resource);
    e.output = a.output;
    e.decision = proto::to_string(a.decision);
    e.reason = proto::to_string(a.reason);
    e.mode = proto::to_string(a.mode);
    e.acl_version = a.acl_version;
    e.booking = a.booking;
    e.clock_synced = r.clock_synced;
    return s_.usage.insert_access(e);
  }

  Status on_start(const proto::Record& r, const proto::SessionStart& st) {
    auto owner = owner_if_needed(st.user, "", st.card);
    if (!owner) return owner.error();
    UsageSession s;
    s.id = st.session;
    s.terminal = terminal_.id;
    s.resource = resource_of(st.resource);
    s.user = attribute(st.user, "", *owner).user;
    s.card = st.card;
    s.booking = st.booking;
    s.start_ms = r.ts_ms;
    return s_.usage.open_session(s, r.id);
  }

  Status on_end(const proto::Record& r, const proto::SessionEnd& e, const StoredSession& stored) {
    const Close verdict = close_session(SessionFacts{stored.exists, stored.closed, stored.user, stored.end_record});
    if (verdict == Close::already_closed) {
      // Another end record already closed (and charged) this session: never charge twice.
      return reject("session_already_closed",
                    "session " + e.session + " already closed by record " + stored.end_record + ", got " + r.id);
    }
    auto owner = owner_if_needed(e.user, stored.user, e.card);
    if (!owner) return owner.error();
    const std::string who = attribute(e.user, stored.user, *owner).user;
    UsageSession s;
    s.id = e.session;
    s.terminal = terminal_.id;
    s.resource = resource_of(e.resource);
    s.user = who;
    s.card = e.card;
    s.booking = e.booking;
    s.start_ms = e.start_ms;
    s.end_ms = e.end_ms;
    s.duration_ms = e.duration_ms;
    s.energy_wh = e.energy_wh;
    s.end_reason = proto::to_string(e.end_reason);
    s.flags = e.flags;
    LG_TRY(s_.usage.close_session(s, r.id, verdict == Close::close_open));

    billing::ChargeInput in;
    in.session = e.session;
    in.instrument = s.resource;
    in.duration_ms = e.duration_ms;
    in.end_ms = e.end_ms;
    in.default_currency = currency_;
    auto u = s_.directory.user(who);
    if (!u) return u.error();
    in.user = *u;
    auto f = s_.billing.fee(s.resource);
    if (!f) return f.error();
    in.fee = *f;
    Charge c = billing::make_charge(in);
    if (!in.user && !who.empty()) c.user = who;  // keep the id the terminal reported, flagged unknown_user
    c.id = crypto::uuid7();
    LG_INVARIANT(c.amount_fen >= 0, "a charge is never negative");
    auto inserted = s_.billing.insert_charge(c, now_ms_);
    if (!inserted) return inserted.error();
    // close_session above succeeded only for an open or unknown session, so no charge exists yet.
    LG_ASSERT(*inserted, "a session closed now has no charge yet (charge-once)");
    if (*inserted) out_.charges.push_back(c.id);
    return {};
  }

  BatchStores& s_;
  const Terminal& terminal_;
  int64_t now_ms_;
  const std::string& currency_;
  IngestOutcome& out_;
};

}  // namespace

Result<IngestOutcome> Service::commit_batch(const proto::EventBatch& batch, int64_t now_ms) {
  // One terminal's batches queue behind each other on every node (its ack is read and advanced).
  const std::string key = "terminal:" + batch.terminal;
  return transact_serialized<IngestOutcome>(s_.uow, std::span(&key, 1), [&]() -> Result<IngestOutcome> {
    auto t = s_.terminals.get(batch.terminal);
    if (!t) return t.error();
    if (!*t) return domain_error(Errc::not_found, "terminal " + batch.terminal + " is not enrolled");
    const Terminal& term = **t;
    IngestOutcome out;
    Batch b(s_, term, now_ms, currency_, out);
    for (const auto& r : batch.records) LG_TRY(b.record(r));
    LG_TRY(s_.usage.count("batches", 1));
    LG_TRY(s_.usage.count("records", out.inserted));
    LG_TRY(s_.usage.count("duplicates", out.duplicates));

    // Advance the contiguous acked seq over whatever is stored (a gap filled now moves it far).
    uint64_t acked = term.acked_seq;
    constexpr int64_t kChunk = 1024;
    for (;;) {
      auto above = s_.usage.seqs_above(batch.terminal, acked, kChunk);
      if (!above) return above.error();
      const uint64_t next = contiguous_ack(acked, *above);
      const bool whole_chunk = next - acked == static_cast<uint64_t>(kChunk);
      acked = next;
      if (!whole_chunk) break;
    }
    LG_INVARIANT(acked >= term.acked_seq, "the acked seq only grows");
    LG_TRY(s_.terminals.set_acked(batch.terminal, acked, now_ms));
    out.acked_seq = acked;
    return out;
  });
}

std::vector<Result<IngestOutcome>> Service::commit_group(std::span<const proto::EventBatch* const> batches,
                                                         int64_t now_ms) {
  std::vector<std::string> keys;
  keys.reserve(batches.size());
  for (const auto* b : batches) keys.push_back("terminal:" + b->terminal);
  std::vector<Result<IngestOutcome>> out;
  Status s = s_.uow.run_serialized(keys, [&]() -> Status {
    out.clear();  // a unit of work that lost a race runs again from the start
    out.reserve(batches.size());
    for (const auto* b : batches) {
      auto r = commit_batch(*b, now_ms);  // a savepoint inside the group's unit of work
      if (!r && is_retryable(r.error())) return r.error();
      out.push_back(std::move(r));
    }
    return {};
  });
  if (!s) {
    out.clear();
    for (std::size_t i = 0; i < batches.size(); ++i) out.emplace_back(s.error());
  }
  LG_ASSERT(out.size() == batches.size(), "one result per batch of the group");
  return out;
}

}  // namespace lg::server::usage
