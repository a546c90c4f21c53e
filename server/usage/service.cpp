#include "server/usage/service.hpp"

#include <algorithm>
#include <limits>
#include <map>
#include <set>
#include <unordered_map>
#include <unordered_set>
#include <variant>

#include "labgate/common/assert.hpp"
#include "labgate/common/crypto.hpp"
#include "server/billing/rules.hpp"
#include "server/core/errors.hpp"
#include "server/usage/rules.hpp"

namespace lg::server::usage {

namespace {

/// Stored seqs are read this many at a time while the contiguous ack is walked.
constexpr int64_t kSeqChunk = 1024;
/// known_to when every stored seq above the loaded acked seq is known.
constexpr uint64_t kAllKnown = std::numeric_limits<uint64_t>::max();

/// One terminal of a unit of work: as enrolled, and its seqs as the unit leaves them.
struct TerminalFacts {
  Terminal terminal;
  uint64_t acked = 0;  ///< the contiguous acked seq after the unit's batches so far
  /// Seqs stored before the unit above the acked seq it started from, ascending: every one of
  /// them up to known_to (all of them when known_to is kAllKnown).
  std::vector<uint64_t> stored;
  uint64_t known_to = 0;
  std::set<uint64_t> fresh;  ///< seqs of the records the unit stores (none of them in `stored`)
};

/// One unit of work over a span of batches (a whole group, or one batch): loads the facts of
/// every record at once (usage::Store::prefetch, billing::Store::fees), decides the records in
/// order with the rules, keeping what earlier records of the unit did on top of the loaded
/// facts (a record, a seq, a session started or closed), and writes all the effects at once.
/// Its outcomes are those of the batches committed one after the other.
class Unit {
 public:
  Unit(BatchStores& s, int64_t now_ms, const std::string& currency) : s_(s), now_ms_(now_ms), currency_(currency) {
    effects_.now_ms = now_ms;
  }

  /// Commits the batches: `out` gets one result per batch, in order (not_found for a terminal
  /// that is not enrolled: that batch changes nothing). A failing load or write fails the whole
  /// unit, and the caller rolls it back.
  Status commit(std::span<const proto::EventBatch* const> batches, std::vector<Result<IngestOutcome>>& out) {
    out.clear();
    out.reserve(batches.size());
    LG_TRY(load(batches));
    for (const auto* b : batches) {
      auto it = terminals_.find(b->terminal);
      if (!it->second) {
        out.emplace_back(domain_error(Errc::not_found, "terminal " + b->terminal + " is not enrolled"));
        continue;
      }
      TerminalFacts& t = *it->second;
      IngestOutcome o;
      for (const auto& r : b->records) LG_TRY(record(t, r, o));
      effects_.counters["batches"] += 1;
      effects_.counters["records"] += o.inserted;
      effects_.counters["duplicates"] += o.duplicates;
      LG_TRY(advance_ack(t));
      o.acked_seq = t.acked;
      out.emplace_back(std::move(o));
    }
    LG_TRY(s_.usage.write(effects_));
    auto stored = s_.billing.insert_charges(charges_, now_ms_);
    if (!stored) return stored.error();
    // Every charge here is for a session closed here, which had none: all of them are stored.
    LG_ASSERT(stored->size() == charges_.size(), "a session closed now has no charge yet (charge-once)");
    if (stored->size() != charges_.size()) keep_stored_charges(*stored, out);
    for (const auto& [id, t] : terminals_) {
      if (!t) continue;
      LG_INVARIANT(t->acked >= t->terminal.acked_seq, "the acked seq only grows");
      LG_TRY(s_.terminals.set_acked(id, t->acked, now_ms_));
    }
    return {};
  }

 private:
  /// The enrolled terminals of the batches, then every fact their records may need, in a
  /// fixed number of reads.
  Status load(std::span<const proto::EventBatch* const> batches) {
    PrefetchQuery q;
    q.seq_limit = kSeqChunk;
    std::vector<std::string> instruments;
    for (const auto* b : batches) {
      auto [it, added] = terminals_.try_emplace(b->terminal);
      if (added) {
        auto t = s_.terminals.get(b->terminal);
        if (!t) return t.error();
        if (*t) {
          it->second = TerminalFacts{**t, (*t)->acked_seq, {}, 0, {}};
          q.acked.emplace_back(b->terminal, (*t)->acked_seq);
        }
      }
      if (!it->second) continue;
      const Terminal& term = it->second->terminal;
      for (const auto& r : b->records) {
        q.records.push_back(RecordKeys{b->terminal, r.seq, r.id});
        // Who a record names: its reported user, else (maybe) its card's owner.
        auto names = [&](const std::string& user, const std::string& card) {
          if (user.empty()) {
            q.cards.push_back(card);
          } else {
            q.users.push_back(user);
          }
        };
        if (const auto* a = std::get_if<proto::Access>(&r.body)) {
          if (a->user.empty()) q.cards.push_back(a->card);
        } else if (const auto* st = std::get_if<proto::SessionStart>(&r.body)) {
          q.sessions.push_back(st->session);
          names(st->user, st->card);
        } else if (const auto* e = std::get_if<proto::SessionEnd>(&r.body)) {
          q.sessions.push_back(e->session);
          names(e->user, e->card);
          instruments.push_back(resource_of(term, e->resource));
        }
      }
    }
    auto facts = s_.usage.prefetch(q);
    if (!facts) return facts.error();
    facts_ = std::move(facts).value();
    if (!instruments.empty()) {
      auto versions = s_.billing.published(instruments);
      if (!versions) return versions.error();
      versions_ = std::move(versions).value();
    }
    for (auto& [id, t] : terminals_) {
      if (!t) continue;
      t->stored = std::move(facts_.seqs_above[id]);
      t->known_to = t->stored.size() < static_cast<std::size_t>(kSeqChunk) ? kAllKnown : t->stored.back();
    }
    return {};
  }

  Status record(TerminalFacts& t, const proto::Record& r, IngestOutcome& out) {
    const DedupeVerdict v = dedupe(r, stored_keys(t.terminal.id, r));
    switch (v.kind) {
      case Dedupe::fresh:
        break;
      case Dedupe::duplicate: out.duplicates += 1; return {};
      case Dedupe::seq_conflict: reject(t, "seq_conflict", v.detail, out); return {};
      case Dedupe::record_id_conflict: reject(t, "record_id_conflict", v.detail, out); return {};
    }
    std::optional<Refusal> refusal = check_resource(r, t.terminal.resource);
    StoredSession stored;
    const auto* end = std::get_if<proto::SessionEnd>(&r.body);
    if (end) {
      stored = session(end->session);
      if (!refusal) {
        DurationFacts f{end->start_ms, end->end_ms, end->duration_ms,
                        wall_clock_trusted(r.clock_synced, end->flags, stored.start_synced)};
        refusal = check_duration(f);
      }
    }
    store_record(t, r, refusal ? refusal->reason : std::string());
    out.inserted += 1;
    if (refusal) {
      refuse(t, *refusal, out);
      return {};
    }
    if (const auto* a = std::get_if<proto::Access>(&r.body)) return on_access(t, r, *a);
    if (const auto* st = std::get_if<proto::SessionStart>(&r.body)) return on_start(t, r, *st);
    if (end) return on_end(t, r, *end, stored, out);
    return {};  // meter samples, alarms and video results are kept in records only
  }

  /// What is stored at the record's keys, the records of this unit so far included.
  StoredKeys stored_keys(const std::string& terminal, const proto::Record& r) const {
    StoredKeys k;
    if (auto at = facts_.id_at.find(RecordPlace{terminal, r.seq}); at != facts_.id_at.end()) {
      k.id_at_seq = at->second;
      return k;
    }
    if (auto of = facts_.place_of.find(r.id); of != facts_.place_of.end()) {
      k.terminal_of_id = of->second.first;
      k.seq_of_id = of->second.second;
    }
    return k;
  }

  /// A session as stored, the starts and ends of this unit so far included.
  StoredSession session(const std::string& id) const {
    auto it = facts_.sessions.find(id);
    return it == facts_.sessions.end() ? StoredSession{} : it->second;
  }

  void store_record(TerminalFacts& t, const proto::Record& r, std::string refused) {
    RecordPlace place{t.terminal.id, r.seq};
    const bool new_place = facts_.id_at.emplace(place, r.id).second;
    const bool new_id = facts_.place_of.emplace(r.id, std::move(place)).second;
    LG_INVARIANT(new_place && new_id, "a record is stored once, at keys no other record holds");
    t.fresh.insert(r.seq);
    effects_.records.push_back(RecordRow{t.terminal.id, r.seq, r.id, proto::to_string(r.kind()), r.ts_ms,
                                         r.clock_synced, proto::encode(r), std::move(refused)});
  }

  void refuse(const TerminalFacts& t, const Refusal& why, IngestOutcome& out) {
    out.refused += 1;
    out.alarms.push_back(why.reason + ": " + why.detail);
    effects_.alarms.push_back(AlarmRow{t.terminal.id, why.reason, why.detail});
    effects_.rejections[why.reason] += 1;
  }

  void reject(const TerminalFacts& t, std::string_view reason, const std::string& detail, IngestOutcome& out) {
    out.rejected += 1;
    out.alarms.push_back(detail);
    effects_.alarms.push_back(AlarmRow{t.terminal.id, std::string(reason), detail});
    effects_.rejections[std::string(reason)] += 1;
  }

  static std::string resource_of(const Terminal& t, const std::string& named) {
    return named.empty() ? t.resource : named;
  }

  /// The active owner of a card, as loaded (the directory is asked only for one the load missed).
  Result<std::string> card_owner(const std::string& uid) {
    if (uid.empty()) return std::string();
    auto it = facts_.card_owners.find(uid);
    LG_ASSERT(it != facts_.card_owners.end(), "the prefetch loaded every card a record may need");
    if (it != facts_.card_owners.end()) return it->second;
    auto owner = s_.directory.card_owner(uid);
    if (!owner) return owner.error();
    facts_.card_owners.emplace(uid, *owner);
    return owner;
  }

  Result<std::string> owner_if_needed(std::string_view reported, std::string_view session_user,
                                      const std::string& card) {
    if (!reported.empty() || !session_user.empty()) return std::string();
    return card_owner(card);
  }

  /// A user, as loaded (the directory is asked only for one the load missed).
  Result<std::optional<User>> user(const std::string& id) {
    if (id.empty()) return std::optional<User>{};
    auto it = facts_.users.find(id);
    LG_ASSERT(it != facts_.users.end(), "the prefetch loaded every user a charge may name");
    if (it != facts_.users.end()) return it->second;
    auto u = s_.directory.user(id);
    if (!u) return u.error();
    facts_.users.emplace(id, *u);
    return u;
  }

  /// An instrument's published fee standard versions, as loaded (billing is asked again only for
  /// one the load missed).
  Result<const std::vector<billing::FeeVersion>*> versions(const std::string& instrument) {
    auto it = versions_.find(instrument);
    LG_ASSERT(it != versions_.end(), "the fee versions of every session end's instrument were loaded");
    if (it != versions_.end()) return &it->second;
    auto more = s_.billing.published(std::span(&instrument, 1));
    if (!more) return more.error();
    versions_.merge(*more);
    return &versions_[instrument];
  }

  /// The [from, to) of the session's booking on this instrument, if it has one and it is known.
  Result<std::optional<std::pair<int64_t, int64_t>>> booked(const std::string& booking, const std::string& instrument) {
    using Out = std::optional<std::pair<int64_t, int64_t>>;
    if (booking.empty() || !s_.booking) return Out();
    auto b = s_.booking->get(booking);
    if (!b) return b.error();
    if (!*b || (*b)->instrument != instrument) return Out();
    return Out(std::pair{(*b)->start_ms, (*b)->end_ms});
  }

  Status on_access(const TerminalFacts& t, const proto::Record& r, const proto::Access& a) {
    auto owner = owner_if_needed(a.user, "", a.card);
    if (!owner) return owner.error();
    const Attribution who = attribute(a.user, "", *owner);
    AccessEvent e;
    e.record_id = r.id;
    e.terminal = t.terminal.id;
    e.seq = r.seq;
    e.ts_ms = r.ts_ms;
    e.card = a.card;
    e.user = who.user;
    e.user_resolved = who.from_card;
    e.resource = resource_of(t.terminal, a.resource);
    e.output = a.output;
    e.decision = proto::to_string(a.decision);
    e.reason = proto::to_string(access_reason(a.reason, who));  // the record keeps the terminal's own
    e.mode = proto::to_string(a.mode);
    e.acl_version = a.acl_version;
    e.booking = a.booking;
    e.clock_synced = r.clock_synced;
    effects_.access.push_back(std::move(e));
    return {};
  }

  Status on_start(const TerminalFacts& t, const proto::Record& r, const proto::SessionStart& st) {
    auto owner = owner_if_needed(st.user, "", st.card);
    if (!owner) return owner.error();
    // A session stored already (its end came first, or another start named it) stays as it is.
    auto [view, added] = facts_.sessions.try_emplace(st.session);
    if (!added) return {};
    UsageSession s;
    s.id = st.session;
    s.terminal = t.terminal.id;
    s.resource = resource_of(t.terminal, st.resource);
    s.user = attribute(st.user, "", *owner).user;
    s.card = st.card;
    s.booking = st.booking;
    s.start_ms = r.ts_ms;
    view->second = StoredSession{true, false, s.user, "", r.clock_synced};
    new_sessions_[st.session] = effects_.new_sessions.size();
    effects_.new_sessions.push_back(SessionRow{std::move(s), r.id, ""});
    return {};
  }

  Status on_end(const TerminalFacts& t, const proto::Record& r, const proto::SessionEnd& e, const StoredSession& stored,
                IngestOutcome& out) {
    const Close verdict = close_session(SessionFacts{stored.exists, stored.closed, stored.user, stored.end_record});
    if (verdict == Close::already_closed) {
      // Another end record already closed (and charged) this session: never charge twice.
      reject(t, "session_already_closed",
             "session " + e.session + " already closed by record " + stored.end_record + ", got " + r.id, out);
      return {};
    }
    auto owner = owner_if_needed(e.user, stored.user, e.card);
    if (!owner) return owner.error();
    const std::string who = attribute(e.user, stored.user, *owner).user;
    UsageSession s;
    s.id = e.session;
    s.terminal = t.terminal.id;
    s.resource = resource_of(t.terminal, e.resource);
    s.user = who;
    s.card = e.card;
    s.booking = e.booking;
    s.start_ms = e.start_ms;
    s.end_ms = e.end_ms;
    s.duration_ms = e.duration_ms;
    s.energy_wh = e.energy_wh;
    s.end_reason = proto::to_string(e.end_reason);
    s.flags = e.flags;
    s.closed = true;

    StoredSession& view = facts_.sessions[e.session];
    if (verdict == Close::insert_closed) {
      // The start never arrived: stored closed, as the end tells it.
      view = StoredSession{true, true, who, r.id, std::nullopt};
      new_sessions_[e.session] = effects_.new_sessions.size();
      effects_.new_sessions.push_back(SessionRow{s, "", r.id});
    } else {
      view.closed = true;
      view.user = who;
      view.end_record = r.id;
      if (auto opened = new_sessions_.find(e.session); opened != new_sessions_.end()) {
        // Started in this unit: stored once, closed, with its start's terminal, resource, card,
        // booking and start time (what closing a stored open session keeps).
        SessionRow& row = effects_.new_sessions[opened->second];
        row.session.user = who;
        row.session.end_ms = s.end_ms;
        row.session.duration_ms = s.duration_ms;
        row.session.energy_wh = s.energy_wh;
        row.session.end_reason = s.end_reason;
        row.session.flags = s.flags;
        row.session.closed = true;
        row.end_record = r.id;
      } else {
        effects_.closes.push_back(SessionRow{s, "", r.id});
      }
    }

    billing::ChargeInput in;
    in.session = e.session;
    in.instrument = s.resource;
    in.duration_ms = e.duration_ms;
    in.end_ms = e.end_ms;
    in.default_currency = currency_;
    auto u = user(who);
    if (!u) return u.error();
    in.user = *u;
    auto vs = versions(s.resource);
    if (!vs) return vs.error();
    in.versioned = true;
    in.start_ms = s.start_ms;
    in.zone = s_.zone;
    // The version in force at the session's start prices it.
    if (const auto* v = billing::in_force(**vs, s.start_ms)) in.version = *v;
    if (in.version) {
      auto b = booked(s.booking, s.resource);
      if (!b) return b.error();
      in.booked = *b;
    }
    Charge c = billing::make_charge(in);
    if (!in.user && !who.empty()) c.user = who;  // keep the id the terminal reported, flagged unknown_user
    c.id = crypto::uuid7();
    LG_INVARIANT(c.amount_fen >= 0, "a charge is never negative");
    const bool first_charge = charged_.insert(e.session).second;
    LG_INVARIANT(first_charge, "a session is charged once");
    out.charges.push_back(c.id);
    charges_.push_back(std::move(c));
    return {};
  }

  /// Advances the terminal's contiguous acked seq over whatever is stored now (a gap filled now
  /// moves it far), as usage::contiguous_ack walks it a chunk at a time.
  Status advance_ack(TerminalFacts& t) {
    uint64_t acked = t.acked;
    for (;;) {
      auto above = stored_above(t, acked);
      if (!above) return above.error();
      const uint64_t next = contiguous_ack(acked, *above);
      const bool whole_chunk = next - acked == static_cast<uint64_t>(kSeqChunk);
      acked = next;
      if (!whole_chunk) break;
    }
    LG_INVARIANT(acked >= t.acked, "the acked seq only grows");
    t.acked = acked;
    return {};
  }

  /// The first kSeqChunk seqs of the terminal stored above `after` (before the unit, or by it),
  /// ascending; reads the next stored ones when fewer than that are known.
  Result<std::vector<uint64_t>> stored_above(TerminalFacts& t, uint64_t after) {
    const auto limit = static_cast<std::size_t>(kSeqChunk);
    for (;;) {
      std::vector<uint64_t> out;
      auto s = std::upper_bound(t.stored.begin(), t.stored.end(), after);
      auto f = t.fresh.upper_bound(after);
      while (out.size() < limit) {
        const bool has_s = s != t.stored.end();
        const bool has_f = f != t.fresh.end() && *f <= t.known_to;
        if (!has_s && !has_f) break;
        const bool from_stored = has_s && (!has_f || *s < *f);
        out.push_back(from_stored ? *s++ : *f++);
      }
      if (out.size() == limit || t.known_to == kAllKnown) return out;
      auto more = s_.usage.seqs_above(t.terminal.id, t.known_to, kSeqChunk);
      if (!more) return more.error();
      t.stored.insert(t.stored.end(), more->begin(), more->end());
      t.known_to = more->size() < limit ? kAllKnown : more->back();
    }
  }

  /// Drops from the outcomes the charges the store did not take.
  void keep_stored_charges(const std::vector<std::string>& stored, std::vector<Result<IngestOutcome>>& out) {
    const std::unordered_set<std::string> kept(stored.begin(), stored.end());
    for (auto& o : out) {
      if (!o) continue;
      auto& ids = o->charges;
      ids.erase(std::remove_if(ids.begin(), ids.end(), [&](const std::string& id) { return !kept.count(id); }),
                ids.end());
    }
  }

  BatchStores& s_;
  int64_t now_ms_;
  const std::string& currency_;
  std::map<std::string, std::optional<TerminalFacts>> terminals_;  ///< nullopt: not enrolled
  Prefetched facts_;  ///< as loaded, then as the unit's records so far left them
  std::map<std::string, std::vector<billing::FeeVersion>> versions_;
  std::unordered_map<std::string, std::size_t> new_sessions_;  ///< session -> its row in effects_.new_sessions
  std::unordered_set<std::string> charged_;                    ///< sessions charged by this unit
  UsageEffects effects_;
  std::vector<Charge> charges_;
};

/// Commits batches as one unit inside a savepoint of the caller's unit of work (so that a
/// failing unit leaves it as it was): one result per batch, or the unit's error.
Status commit_unit(BatchStores& s, std::span<const proto::EventBatch* const> batches, int64_t now_ms,
                   const std::string& currency, std::vector<Result<IngestOutcome>>& out) {
  return s.uow.run([&]() -> Status { return Unit(s, now_ms, currency).commit(batches, out); });
}

}  // namespace

Result<IngestOutcome> Service::commit_batch(const proto::EventBatch& batch, int64_t now_ms) {
  const proto::EventBatch* one = &batch;
  return std::move(commit_group(std::span(&one, 1), now_ms).front());
}

std::vector<Result<IngestOutcome>> Service::commit_group(std::span<const proto::EventBatch* const> batches,
                                                         int64_t now_ms) {
  std::vector<std::string> keys;
  keys.reserve(batches.size());
  for (const auto* b : batches) keys.push_back(lock_key(b->terminal));
  std::vector<Result<IngestOutcome>> out;
  Status s = s_.uow.run_serialized(keys, [&]() -> Status {
    out.clear();  // a unit of work that lost a race runs again from the start
    // The whole group at once: one load and one write per table for all its batches.
    std::vector<Result<IngestOutcome>> all;
    Status together = commit_unit(s_, batches, now_ms, currency_, all);
    if (together) {
      out = std::move(all);
      return {};
    }
    if (is_retryable(together.error())) return together.error();
    if (batches.size() == 1) {
      out.emplace_back(together.error());
      return {};
    }
    // A storage error of one batch: each batch again on its own, in a savepoint of its own, so
    // that the failing one leaves the others committed.
    for (const auto* b : batches) {
      std::vector<Result<IngestOutcome>> one;
      Status alone = commit_unit(s_, std::span(&b, 1), now_ms, currency_, one);
      if (!alone && is_retryable(alone.error())) return alone.error();
      out.push_back(alone ? std::move(one.front()) : Result<IngestOutcome>(alone.error()));
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
