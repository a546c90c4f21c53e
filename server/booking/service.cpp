#include "server/booking/service.hpp"

#include "labgate/common/crypto.hpp"
#include "server/core/errors.hpp"
#include "server/directory/rules.hpp"

namespace lg::server::booking {

Result<AdmissionFacts> Service::facts_for(const Booking& b) {
  AdmissionFacts f;
  auto inst = directory_.instrument(b.instrument);
  if (!inst) return inst.error();
  f.instrument_known = inst->has_value();
  auto user = directory_.user(b.user);
  if (!user) return user.error();
  f.user_known = user->has_value();
  f.user_admin = f.user_known && (*user)->admin;
  if (f.instrument_known && f.user_known) {
    auto q = qualifications_.get(b.user, b.instrument);
    if (!q) return q.error();
    f.qualification = *q;
    if (f.qualification) {
      auto used = qualifications_.last_use(b.user, b.instrument);
      if (!used) return used.error();
      f.last_use_ms = *used;
    }
    auto o = bookings_.overlapping(b.instrument, b.start_ms, b.end_ms);
    if (!o) return o.error();
    f.overlapping = std::move(*o);
    auto p = policy_in_uow(b.instrument);
    if (!p) return p.error();
    f.rules.policy = std::move(*p);
    f.rules.tz = tz_;
    f.rules.external = !directory::is_internal((*user)->category);
    auto c = bookings_.closures(b.instrument, b.start_ms, b.end_ms);
    if (!c) return c.error();
    f.rules.closures = std::move(*c);
    auto week = week_of(b.start_ms, tz_);
    if (!week) return week.error();
    auto w = bookings_.week(b.instrument, week->from_ms, week->to_ms, b.user);
    if (!w) return w.error();
    f.rules.week = std::move(*w);
  }
  return f;
}

Result<BookingPolicy> Service::policy_in_uow(const std::string& instrument) {
  auto p = bookings_.policy(instrument);
  if (!p) return p.error();
  return p->value_or(default_policy(instrument));
}

Result<Booking> Service::load(const std::string& id) {
  auto got = bookings_.get(id);
  if (!got) return got.error();
  if (!*got) return domain_error(Errc::not_found, "booking: no booking '" + id + "'");
  return **got;
}

Result<BookingOutcome> Service::create_in_uow(const Booking& b, int64_t now_ms) {
  auto f = facts_for(b);
  if (!f) return f.error();
  f->rules.now_ms = now_ms;
  if (blocked_) {
    auto why = blocked_(b.user, now_ms);
    if (!why) return why.error();
    f->blocked = std::move(*why);
  }
  Booking candidate = b;
  if (candidate.id.empty()) candidate.id = crypto::uuid7();
  const Admission a = admit(candidate, *f);
  switch (a.verdict) {
    case Admit::ok:
      break;
    case Admit::unknown_instrument:
    case Admit::unknown_user:
      return domain_error(Errc::unknown_reference, a.reason);
    case Admit::not_qualified:
      return domain_error(Errc::not_allowed, a.reason);
    case Admit::outside_rules:
      return BookingOutcome{"", "", a.rule, a.reason};
    case Admit::overlaps:
      return BookingOutcome{"", a.conflict};
  }
  candidate.status = BookingStatus::active;
  candidate.hold_until_ms.reset();
  if (needs_approval(f->rules.policy, f->rules.external)) {
    candidate.status = BookingStatus::pending;
    candidate.hold_until_ms = hold_until(f->rules.policy, candidate, now_ms);
  }
  LG_TRY(bookings_.insert(candidate, now_ms));
  if (on_created_) LG_TRY(on_created_(candidate, now_ms));
  BookingOutcome out{candidate.id, ""};
  out.status = candidate.status;
  return out;
}

Result<BookingOutcome> Service::create(const Booking& b, int64_t now_ms) {
  return transact<BookingOutcome>(uow_, [&]() { return create_in_uow(b, now_ms); });
}

Result<SeriesOutcome> Service::create_series(const Booking& tmpl, const std::vector<std::pair<int64_t, int64_t>>& intervals,
                                             bool skip_conflicts, int64_t now_ms) {
  SeriesOutcome refused_all;  // all-or-nothing: filled when the unit of work is rolled back
  auto r = transact<SeriesOutcome>(uow_, [&]() -> Result<SeriesOutcome> {
    SeriesOutcome out;
    refused_all = SeriesOutcome{};
    for (const auto& [start, end] : intervals) {
      Booking b = tmpl;
      b.id.clear();
      b.start_ms = start;
      b.end_ms = end;
      if (auto why = validate(start, end)) {
        out.refused.push_back(SeriesRefusal{start, end, "", "length", *why});
        continue;
      }
      auto one = create_in_uow(b, now_ms);
      if (!one) {
        if (is(one.error(), Errc::not_allowed)) {
          out.refused.push_back(SeriesRefusal{start, end, "", "not_qualified", one.error().reason});
          continue;
        }
        return one.error();
      }
      if (one->id.empty()) {
        out.refused.push_back(SeriesRefusal{start, end, one->conflict, one->rule,
                                            one->conflict.empty() ? one->reason : "overlaps booking " + one->conflict});
        continue;
      }
      out.created.push_back(*one);
      out.created_at.emplace_back(start, end);
    }
    if (!skip_conflicts && !out.refused.empty()) {
      refused_all.refused = out.refused;
      return domain_error(Errc::conflict, "series: " + std::to_string(out.refused.size()) + " of " +
                                              std::to_string(intervals.size()) + " occurrences cannot be booked");
    }
    return out;
  });
  if (!r && is(r.error(), Errc::conflict) && !refused_all.refused.empty()) return refused_all;
  return r;
}

Result<BookingChange> Service::cancel(const std::string& id, const std::string& reason, int64_t now_ms) {
  return transact<BookingChange>(uow_, [&]() -> Result<BookingChange> {
    auto before = load(id);
    if (!before) return before.error();
    if (auto why = can_cancel(*before)) return domain_error(Errc::conflict, *why);
    auto p = policy_in_uow(before->instrument);
    if (!p) return p.error();
    const Booking after = cancelled(*before, now_ms, reason, late_cancel(*p, *before, now_ms));
    LG_TRY(bookings_.update(after, now_ms));
    BookingChange c{*before, after, ""};
    auto promoted = promote(before->instrument, before->start_ms, before->end_ms, now_ms);
    if (!promoted) return promoted.error();
    c.promoted = std::move(*promoted);
    return c;
  });
}

Result<BookingChange> Service::move(const std::string& id, int64_t start_ms, int64_t end_ms, int64_t now_ms) {
  return transact<BookingChange>(uow_, [&]() -> Result<BookingChange> {
    auto before = load(id);
    if (!before) return before.error();
    if (auto why = can_move(*before, start_ms, end_ms)) {
      return domain_error(holds_slot(before->status) ? Errc::not_allowed : Errc::conflict, *why);
    }
    Booking after = moved(*before, start_ms, end_ms);
    auto f = facts_for(after);
    if (!f) return f.error();
    f->rules.now_ms = now_ms;
    if (blocked_) {
      auto why = blocked_(after.user, now_ms);
      if (!why) return why.error();
      f->blocked = std::move(*why);
    }
    const Admission a = admit(after, *f);
    switch (a.verdict) {
      case Admit::ok:
        break;
      case Admit::unknown_instrument:
      case Admit::unknown_user:
        return domain_error(Errc::unknown_reference, a.reason);
      case Admit::not_qualified:
        return domain_error(Errc::not_allowed, a.reason);
      case Admit::outside_rules:
        return BookingChange{*before, *before, "", a.rule, a.reason};
      case Admit::overlaps:
        return BookingChange{*before, *before, a.conflict};
    }
    // under a policy that wants approval, a moved booking waits for it again
    if (needs_approval(f->rules.policy, f->rules.external)) {
      after.status = BookingStatus::pending;
      after.hold_until_ms = hold_until(f->rules.policy, after, now_ms);
    }
    LG_TRY(bookings_.update(after, now_ms));
    BookingChange c{*before, after, ""};
    auto promoted = promote(before->instrument, before->start_ms, before->end_ms, now_ms);  // the old interval is free
    if (!promoted) return promoted.error();
    c.promoted = std::move(*promoted);
    return c;
  });
}

Result<BookingChange> Service::approve(const std::string& id, int64_t now_ms) {
  return transact<BookingChange>(uow_, [&]() -> Result<BookingChange> {
    auto before = load(id);
    if (!before) return before.error();
    if (auto why = can_decide(*before)) return domain_error(Errc::conflict, *why);
    const Booking after = approved(*before);
    LG_TRY(bookings_.update(after, now_ms));
    if (on_decided_) LG_TRY(on_decided_(after, now_ms));
    return BookingChange{*before, after, ""};
  });
}

Result<BookingChange> Service::set_staffed(const std::string& id, bool staffed, int64_t now_ms) {
  return transact<BookingChange>(uow_, [&]() -> Result<BookingChange> {
    auto before = load(id);
    if (!before) return before.error();
    if (auto why = can_staff(*before, staffed)) return domain_error(Errc::conflict, *why);
    Booking after = *before;
    after.staffed = staffed;
    LG_TRY(bookings_.update(after, now_ms));
    return BookingChange{*before, after, ""};
  });
}

Result<BookingChange> Service::refuse(const std::string& id, const std::string& reason, int64_t now_ms) {
  return transact<BookingChange>(uow_, [&]() -> Result<BookingChange> {
    auto before = load(id);
    if (!before) return before.error();
    if (auto why = can_decide(*before)) return domain_error(Errc::conflict, *why);
    const Booking after = refused(*before, now_ms, reason);
    LG_TRY(bookings_.update(after, now_ms));
    if (on_decided_) LG_TRY(on_decided_(after, now_ms));
    BookingChange c{*before, after, ""};
    auto promoted = promote(before->instrument, before->start_ms, before->end_ms, now_ms);
    if (!promoted) return promoted.error();
    c.promoted = std::move(*promoted);
    return c;
  });
}

Result<std::vector<BookingChange>> Service::expire_holds(int64_t now_ms, int32_t limit) {
  auto due = transact<std::vector<Booking>>(uow_, [&]() { return bookings_.holds_due(now_ms, limit); });
  if (!due) return due.error();
  std::vector<BookingChange> out;
  for (const Booking& b : *due) {
    auto c = transact<std::optional<BookingChange>>(uow_, [&]() -> Result<std::optional<BookingChange>> {
      auto before = load(b.id);
      if (!before) return before.error();
      // decided meanwhile (another node, or an admin a moment ago): nothing to do
      if (before->status != BookingStatus::pending || !before->hold_until_ms || *before->hold_until_ms > now_ms)
        return std::optional<BookingChange>();
      const Booking after = expired(*before, now_ms);
      LG_TRY(bookings_.update(after, now_ms));
      if (on_decided_) LG_TRY(on_decided_(after, now_ms));
      BookingChange change{*before, after, ""};
      auto promoted = promote(before->instrument, before->start_ms, before->end_ms, now_ms);
      if (!promoted) return promoted.error();
      change.promoted = std::move(*promoted);
      return std::optional<BookingChange>(std::move(change));
    });
    if (!c) return c.error();
    if (*c) out.push_back(std::move(**c));
  }
  return out;
}

Result<BookingPolicy> Service::policy(const std::string& instrument) {
  return transact<BookingPolicy>(uow_, [&]() -> Result<BookingPolicy> {
    auto inst = directory_.instrument(instrument);
    if (!inst) return inst.error();
    if (!*inst) return domain_error(Errc::not_found, "instrument: no instrument '" + instrument + "'");
    return policy_in_uow(instrument);
  });
}

Result<BookingPolicy> Service::put_policy(const BookingPolicy& p, int64_t now_ms) {
  return transact<BookingPolicy>(uow_, [&]() -> Result<BookingPolicy> {
    auto inst = directory_.instrument(p.instrument);
    if (!inst) return inst.error();
    if (!*inst) return domain_error(Errc::not_found, "instrument: no instrument '" + p.instrument + "'");
    auto before = policy_in_uow(p.instrument);
    if (!before) return before.error();
    LG_TRY(bookings_.put_policy(p, now_ms));
    return *before;
  });
}

Result<std::vector<BookingChange>> Service::add_closure(Closure& c, int64_t now_ms) {
  if (c.id.empty()) c.id = crypto::uuid7();
  return transact<std::vector<BookingChange>>(uow_, [&]() -> Result<std::vector<BookingChange>> {
    LG_TRY(bookings_.add_closure(c, now_ms));
    std::vector<BookingChange> out;
    if (c.kind != ClosureKind::maintenance) return out;
    auto hit = bookings_.overlapping(c.instrument, c.start_ms, c.end_ms);
    if (!hit) return hit.error();
    for (const Booking& b : *hit) {
      const Booking after = cancelled(b, now_ms, "maintenance" + (c.reason.empty() ? std::string() : ": " + c.reason));
      LG_TRY(bookings_.update(after, now_ms));
      if (on_decided_) LG_TRY(on_decided_(after, now_ms));
      out.push_back(BookingChange{b, after, ""});
    }
    return out;
  });
}

Result<EventPlace> Service::place(const std::string& instrument) {
  EventPlace where{instrument, ""};
  auto inst = directory_.instrument(instrument);
  if (!inst) return inst.error();
  if (!*inst) return where;
  if (!(*inst)->name.empty()) where.instrument = (*inst)->name;
  auto lab = directory_.lab((*inst)->lab);
  if (!lab) return lab.error();
  if (*lab) where.lab = (*lab)->name;
  return where;
}

Result<std::vector<WaitEntry>> Service::promote(const std::string& instrument, int64_t from_ms, int64_t to_ms,
                                                int64_t now_ms) {
  auto queue = bookings_.waiting(instrument, from_ms, to_ms);
  if (!queue) return queue.error();
  std::vector<WaitEntry> out;
  for (WaitEntry e : *queue) {
    if (e.start_ms <= now_ms) continue;  // its time has come: expire_waits() takes it off
    auto made = create_in_uow(wanted(e), now_ms);
    if (!made) {
      if (is(made.error(), Errc::not_allowed) || is(made.error(), Errc::unknown_reference)) continue;
      return made.error();
    }
    if (made->id.empty()) continue;  // still taken (by another booking), or a rule refuses it now
    e.status = WaitStatus::promoted;
    e.booking = made->id;
    e.decided_ms = now_ms;
    LG_TRY(bookings_.update_wait(e));
    if (on_promoted_) {
      auto b = load(made->id);
      if (!b) return b.error();
      LG_TRY(on_promoted_(e, *b, now_ms));
    }
    out.push_back(std::move(e));
  }
  return out;
}

Result<WaitOutcome> Service::join_waitlist(WaitEntry e, int64_t now_ms) {
  return transact<WaitOutcome>(uow_, [&]() -> Result<WaitOutcome> {
    WaitOutcome out;
    if (auto why = validate(e.start_ms, e.end_ms)) return domain_error(Errc::not_allowed, *why);
    const Booking b = wanted(e);
    auto f = facts_for(b);
    if (!f) return f.error();
    f->rules.now_ms = now_ms;
    if (blocked_) {
      auto why = blocked_(b.user, now_ms);
      if (!why) return why.error();
      f->blocked = std::move(*why);
    }
    const Admission a = admit(b, *f);
    if (a.verdict == Admit::unknown_instrument || a.verdict == Admit::unknown_user)
      return domain_error(Errc::unknown_reference, a.reason);
    if (auto why = join_refusal(a)) {
      out.refusal = *why;
      return out;
    }
    auto ahead = bookings_.waiting(e.instrument, e.start_ms, e.end_ms);
    if (!ahead) return ahead.error();
    for (const WaitEntry& w : *ahead)
      if (w.user == e.user && w.start_ms == e.start_ms && w.end_ms == e.end_ms) {
        out.refusal = "waitlist: " + e.user + " is waiting for this interval already (" + w.id + ")";
        return out;
      }
    e.id = crypto::uuid7();
    e.created_ms = now_ms;
    e.status = WaitStatus::waiting;
    LG_TRY(bookings_.add_wait(e));
    out.entry = e;
    out.position = static_cast<int32_t>(ahead->size()) + 1;
    return out;
  });
}

Result<std::pair<WaitEntry, WaitEntry>> Service::withdraw_wait(const std::string& id, int64_t now_ms) {
  return transact<std::pair<WaitEntry, WaitEntry>>(uow_, [&]() -> Result<std::pair<WaitEntry, WaitEntry>> {
    auto e = bookings_.wait_entry(id);
    if (!e) return e.error();
    if (!*e) return domain_error(Errc::not_found, "waitlist: no entry '" + id + "'");
    if ((*e)->status != WaitStatus::waiting)
      return domain_error(Errc::conflict, "waitlist: entry " + id + " is " + to_string((*e)->status) + " already");
    WaitEntry after = **e;
    after.status = WaitStatus::withdrawn;
    after.decided_ms = now_ms;
    LG_TRY(bookings_.update_wait(after));
    return std::pair{**e, after};
  });
}

Result<std::vector<WaitEntry>> Service::expire_waits(int64_t now_ms, int32_t limit) {
  return transact<std::vector<WaitEntry>>(uow_, [&]() -> Result<std::vector<WaitEntry>> {
    auto due = bookings_.waits_due(now_ms, limit);
    if (!due) return due.error();
    for (WaitEntry& e : *due) {
      e.status = WaitStatus::expired;
      e.decided_ms = now_ms;
      LG_TRY(bookings_.update_wait(e));
    }
    return std::move(*due);
  });
}

}  // namespace lg::server::booking
