#include "access/output_session.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "labgate/common/crypto.hpp"
#include "labgate/common/log.hpp"
#include "labgate/common/time.hpp"

#include "access/metering.hpp"
#include "access/records.hpp"
#include "access/recovery.hpp"

namespace lg::terminal {

namespace {
constexpr std::string_view kLog = "agent";
}  // namespace

std::string SwipeReply::to_json() const {
  nlohmann::json j;
  j["card"] = card;
  if (!error.empty()) {
    j["error"] = error;
    return j.dump();
  }
  j["decision"] = proto::to_string(decision);
  j["reason"] = proto::to_string(reason);
  j["user"] = user;
  j["session"] = session;
  j["action"] = action;
  return j.dump();
}

std::optional<double> read_meter_kwh(EnergyMeter* meter, std::string& problem) {
  if (!meter) return std::nullopt;
  auto kwh = meter->total_kwh();
  if (!kwh) {
    problem = kwh.error().message();
    log::warn(kLog, "meter unreadable: " + problem);
    return std::nullopt;
  }
  auto valid = valid_kwh(*kwh);
  if (!valid) problem = "meter reported an invalid total";
  return valid;
}

void record_relay_fault(AccessContext& ctx, const std::string& detail) {
  log::error(kLog, "relay fault: " + detail);
  auto rec = make_record(ctx.clock, proto::Alarm{"relay_fault", detail.substr(0, proto::kMaxField)});
  if (auto s = ctx.store.append(rec); !s) log::error(kLog, "cannot record alarm: " + s.error().message());
}

void close_crashed(AccessContext& ctx, const OpenSession& s, const board::Output* out, bool coil_on) {
  proto::SessionEnd e;
  e.session = s.id;
  e.card = s.card.str();
  e.user = s.user;
  e.resource = s.resource;
  e.booking = s.booking;
  e.start_ms = s.start_ms;
  e.end_ms = std::max(s.checkpoint_ms, s.start_ms);
  e.duration_ms = std::max<int64_t>(0, s.checkpoint_elapsed_ms);
  e.end_reason = proto::EndReason::crash_recovered;
  if (ctx.meter) {
    std::string problem;
    auto end_kwh = read_meter_kwh(ctx.meter, problem);
    auto en = energy_between(s.meter_start_kwh, end_kwh);
    e.energy_wh = en.energy_wh;
    e.flags = en.flags;
  }
  e.flags.insert(e.flags.begin(), "crash_closed");
  if (s.recovered) e.flags.insert(e.flags.begin(), "recovered");
  if (!ctx.clock.synced()) e.flags.emplace_back("clock_unsynced");
  auto rec = make_record(ctx.clock, e);
  Commit c;
  c.records.push_back(&rec);
  c.delete_session = s.id;
  if (auto st = ctx.store.commit(c); !st) {
    log::error(kLog, "cannot close crashed session " + s.id + ": " + st.error().message());
    return;
  }
  if (out && coil_on) {
    if (auto st = ctx.coils.write(out->coil, false); !st)
      record_relay_fault(ctx, "switch off at recovery: " + st.error().message());
  }
}

OutputSession::OutputSession(const board::Output& out, board::FailMode fail_mode, AccessContext& ctx)
    : out_(out), fail_mode_(fail_mode), ctx_(ctx) {}

std::optional<CardUid> OutputSession::holder() const {
  if (!open_) return std::nullopt;
  return open_->card;
}

// ---------------------------------------------------------------- start-up and recovery

void OutputSession::recover(OpenSession s, const DecideNow& decide_now) {
  if (momentary() || open_) {
    log::warn(kLog, "open session " + s.id + " is on output \"" + s.output + "\" which holds no sessions now");
    close_crashed(ctx_, s, nullptr, false);
    return;
  }
  auto coil = ctx_.coils.read(out_.coil);
  bool on = true;  // unreadable relay: assume it kept its state and let the grant decide
  if (coil) {
    on = *coil;
  } else {
    record_relay_fault(ctx_, "read coil at recovery: " + coil.error().message());
  }
  const int64_t now = ctx_.clock.now_ms();

  if (!s.started && !on) {
    // Crash between committing the grant and confirming the relay.
    auto alarm = make_record(ctx_.clock, proto::Alarm{"relay_fault", "session " + s.id + " never started (coil off at recovery)"});
    Commit c;
    c.records.push_back(&alarm);
    c.delete_session = s.id;
    if (auto st = ctx_.store.commit(c); !st) log::error(kLog, "recovery: " + st.error().message());
    log::warn(kLog, "session " + s.id + " never started; dropped");
    return;
  }

  // Durations come from the monotonic clock; after a reboot the downtime is counted from wall
  // times only when both were synced (metering.hpp: rebase).
  const std::string boot_now = ctx_.clock.boot_id();
  const bool same_boot = s.clock.boot_id == boot_now;
  const bool synced_now = ctx_.clock.synced();
  const int64_t steady_now = ctx_.clock.steady_ms();
  Rebased rb = rebase(s.clock, boot_now, steady_now, WallReading{s.checkpoint_ms, s.checkpoint_synced},
                      s.checkpoint_elapsed_ms, WallReading{now, synced_now});
  if (!same_boot) {
    s.gap_from_ms = rb.gap_from_ms;  // a pending gap of an earlier boot cannot be settled any more
    if (!(s.checkpoint_synced && synced_now))
      log::warn(kLog, "session " + s.id + " recovered after a reboot with an unsynced wall clock: the downtime " +
                          (rb.gap_from_ms ? "is counted once NTP has synced" : "cannot be measured and is not billed"));
  }

  const DecisionResult d = decide_now(s.card, now);
  const RecoveryVerdict v =
      recovery_verdict(d, s.max_end_ms, s.max_duration_ms, elapsed_ms(rb.clock, steady_now), now);
  if (!on || !v.keep) {
    log::warn(kLog, "session " + s.id + " of card " + s.card.str() + " closed at recovery (" +
                        (on ? std::string("grant no longer holds: ") + proto::to_string(d.reason) : "coil off") + ")");
    close_crashed(ctx_, s, &out_, on);
    return;
  }

  s.clock = rb.clock;
  s.recovered = true;
  s.max_end_ms = v.max_end_ms;
  s.max_duration_ms = v.max_duration_ms;
  Commit c;
  std::optional<proto::Record> start_rec;
  if (!s.started) {
    proto::SessionStart ss{s.id, s.card.str(), s.user, s.resource, s.booking,
                           s.meter_start_kwh ? kwh_to_wh(*s.meter_start_kwh) : std::nullopt};
    start_rec = make_record(ctx_.clock, ss);
    // The record describes the start: its time and whether the clock was synced are those of
    // the moment start_ms was read, not of this recovery.
    start_rec->ts_ms = s.start_ms;
    start_rec->clock_synced = s.start_synced;
    c.records.push_back(&*start_rec);
    s.started = true;
  }
  c.upsert_session = &s;
  if (auto st = ctx_.store.commit(c); !st) log::error(kLog, "recovery: " + st.error().message());
  log::info(kLog, "recovered session " + s.id + " of " + s.user + " (" + (same_boot ? "same boot" : "after reboot") +
                      ", elapsed " + std::to_string(elapsed_ms(s.clock, ctx_.clock.steady_ms()) / 1000) + " s)");
  open_ = std::move(s);
}

void OutputSession::settle_coil_at_start() {
  if (open_) return;
  auto on = ctx_.coils.read(out_.coil);
  if (on && *on) {
    log::warn(kLog, "coil " + std::to_string(out_.coil) + " is on without a session: switching off");
    if (auto s = ctx_.coils.write(out_.coil, false); !s) record_relay_fault(ctx_, "switch off at start: " + s.error().message());
  } else if (!on) {
    log::warn(kLog, "cannot read coil at start: " + on.error().message());
  }
}

// ---------------------------------------------------------------- swipes

SwipeReply OutputSession::act(const SwipePlan& plan, const CardUid& card) {
  SwipeReply reply;
  reply.card = card.str();
  switch (plan.action) {
    case SwipeAction::start:
      return start_session(card, plan.result);
    case SwipeAction::pulse:
      return pulse(card, plan.result);
    case SwipeAction::end: {
      reply.decision = plan.result.decision;
      reply.reason = plan.result.reason;
      reply.user = plan.result.user;
      reply.session = open_->id;
      if (end_session(plan.end_reason, plan.result, card)) {
        reply.action = "end";
      } else {
        reply.error = "storage failure";
      }
      return reply;
    }
    case SwipeAction::deny: {
      reply.decision = plan.result.decision;
      reply.reason = plan.result.reason;
      reply.user = plan.result.user;
      auto rec = make_record(ctx_.clock, access_record(plan.result, card, ctx_.resource, out_.name));
      if (auto st = ctx_.store.append(rec); !st) {
        log::error(kLog, "cannot record access: " + st.error().message());
        reply.error = "storage failure";
      }
      return reply;
    }
  }
  return reply;
}

void OutputSession::record_output_fault(const DecisionResult& d, const CardUid& card, const std::string& detail,
                                        const std::optional<std::string>& drop_session) {
  log::error(kLog, "relay fault: " + detail);
  DecisionResult fault = d;
  fault.decision = proto::Decision::denied;
  fault.reason = proto::Reason::output_fault;
  auto denied = make_record(ctx_.clock, access_record(fault, card, ctx_.resource, out_.name));
  auto alarm = make_record(ctx_.clock, proto::Alarm{"relay_fault", detail.substr(0, proto::kMaxField)});
  Commit c;
  c.records = {&denied, &alarm};
  if (drop_session) c.delete_session = *drop_session;
  if (auto st = ctx_.store.commit(c); !st) log::error(kLog, "cannot record relay fault: " + st.error().message());
}

SwipeReply OutputSession::start_session(const CardUid& card, const DecisionResult& d) {
  SwipeReply reply;
  reply.card = card.str();
  reply.user = d.user;

  const int64_t now = ctx_.clock.now_ms();
  OpenSession s;
  s.id = crypto::uuid7();
  s.card = card;
  s.user = d.user;
  s.resource = ctx_.resource;
  s.output = out_.name;
  s.booking = d.booking;
  s.acl_version = d.acl_version;
  s.start_ms = now;
  s.start_synced = ctx_.clock.synced();
  s.clock = SessionClock{ctx_.clock.steady_ms(), 0, ctx_.clock.boot_id()};
  s.checkpoint_ms = now;
  s.checkpoint_synced = s.start_synced;
  s.checkpoint_elapsed_ms = 0;
  s.max_end_ms = d.max_end_ms;
  s.max_duration_ms = d.max_duration_ms;

  // 1. Write before acting: the grant and the open-session row.
  auto access = make_record(ctx_.clock, access_record(d, card, ctx_.resource, out_.name));
  Commit c1;
  c1.records.push_back(&access);
  c1.upsert_session = &s;
  if (auto st = ctx_.store.commit(c1); !st) {
    log::error(kLog, "cannot record grant, not switching: " + st.error().message());
    reply.decision = proto::Decision::denied;
    reply.reason = d.reason;
    reply.error = "storage failure";
    return reply;
  }

  // 2. Act.
  if (auto st = ctx_.coils.write(out_.coil, true); !st) {
    record_output_fault(d, card, "switch on coil " + std::to_string(out_.coil) + ": " + st.error().message(), s.id);
    reply.decision = proto::Decision::denied;
    reply.reason = proto::Reason::output_fault;
    return reply;
  }

  // 3. Confirmed on: the session has started. The starting energy is read now, after the switch,
  // so power never waits for a meter round trip (docs/TERMINAL.md: what that costs in accuracy).
  s.started = true;
  std::string problem;
  s.meter_start_kwh = read_meter_kwh(ctx_.meter, problem);
  const auto meter_start_wh = s.meter_start_kwh ? kwh_to_wh(*s.meter_start_kwh) : std::nullopt;
  auto start = make_record(ctx_.clock, proto::SessionStart{s.id, card.str(), s.user, s.resource, s.booking, meter_start_wh});
  Commit c3;
  c3.records.push_back(&start);
  c3.upsert_session = &s;
  if (auto st = ctx_.store.commit(c3); !st) {
    // The row still says started=0 with the coil on: recovery would write the SessionStart.
    log::error(kLog, "cannot record session start: " + st.error().message());
  }
  open_ = s;
  reply.decision = proto::Decision::granted;
  reply.reason = d.reason;
  reply.session = s.id;
  reply.action = "start";
  if (s.max_end_ms)
    log::info(kLog, "session " + s.id + " must end by " + time::format_utc(*s.max_end_ms));
  if (s.max_duration_ms)
    log::info(kLog, "session " + s.id + " must end after " + std::to_string(*s.max_duration_ms / 1000) + " s");
  return reply;
}

SwipeReply OutputSession::pulse(const CardUid& card, const DecisionResult& d) {
  SwipeReply reply;
  reply.card = card.str();
  reply.user = d.user;
  auto access = make_record(ctx_.clock, access_record(d, card, ctx_.resource, out_.name));
  if (auto st = ctx_.store.append(access); !st) {
    log::error(kLog, "cannot record grant, not switching: " + st.error().message());
    reply.reason = d.reason;
    reply.error = "storage failure";
    return reply;
  }
  if (auto st = ctx_.coils.write(out_.coil, true); !st) {
    record_output_fault(d, card, "pulse: " + st.error().message(), std::nullopt);
    reply.reason = proto::Reason::output_fault;
    return reply;
  }
  const uint64_t gen = ++pulse_gen_;
  const uint16_t coil = out_.coil;
  ctx_.scheduler.after(out_.pulse_ms, [this, gen, coil] {
    if (gen != pulse_gen_) return;  // a later pulse extended it
    if (auto st = ctx_.coils.write(coil, false); !st) record_relay_fault(ctx_, "end of pulse: " + st.error().message());
    if (ctx_.committed) ctx_.committed();
  });
  reply.decision = proto::Decision::granted;
  reply.reason = d.reason;
  reply.action = "pulse";
  return reply;
}

bool OutputSession::end_session(proto::EndReason why, const std::optional<DecisionResult>& access, const CardUid& card) {
  if (!open_) return false;
  const OpenSession& s = *open_;
  proto::SessionEnd e;
  e.session = s.id;
  e.card = s.card.str();
  e.user = s.user;
  e.resource = s.resource;
  e.booking = s.booking;
  e.start_ms = s.start_ms;
  e.end_ms = ctx_.clock.now_ms();
  e.duration_ms = elapsed_ms(s.clock, ctx_.clock.steady_ms());
  e.end_reason = why;
  if (s.recovered) e.flags.emplace_back("recovered");
  if (ctx_.meter) {
    std::string problem;
    const auto end_kwh = read_meter_kwh(ctx_.meter, problem);
    auto en = energy_between(s.meter_start_kwh, end_kwh);
    e.energy_wh = en.energy_wh;
    for (auto& f : en.flags) e.flags.push_back(std::move(f));
  }
  if (!ctx_.clock.synced()) e.flags.emplace_back("clock_unsynced");

  std::optional<proto::Record> acc;
  if (access) acc = make_record(ctx_.clock, access_record(*access, card, ctx_.resource, out_.name));
  auto end = make_record(ctx_.clock, e);
  Commit c;
  if (acc) c.records.push_back(&*acc);
  c.records.push_back(&end);
  c.delete_session = s.id;
  if (auto st = ctx_.store.commit(c); !st) {
    log::error(kLog, "cannot record session end, relay left on: " + st.error().message());
    return false;
  }
  log::info(kLog, "session " + s.id + " ended (" + proto::to_string(why) + "), " +
                      std::to_string(e.duration_ms / 1000) + " s" +
                      (e.energy_wh ? ", " + std::to_string(*e.energy_wh) + " Wh" : ""));
  open_.reset();
  if (auto st = ctx_.coils.write(out_.coil, false); !st) record_relay_fault(ctx_, "switch off: " + st.error().message());
  return true;
}

// ---------------------------------------------------------------- timers

void OutputSession::settle_clock() {
  if (!open_ || !open_->gap_from_ms || !ctx_.clock.synced()) return;
  OpenSession s = *open_;
  const int64_t gap = settle_gap(s.clock, *s.gap_from_ms, ctx_.clock.now_ms(), ctx_.clock.steady_ms());
  s.clock.elapsed_base_ms += gap;
  s.gap_from_ms.reset();
  if (auto st = ctx_.store.save_session(s); !st) {
    log::error(kLog, "cannot save the settled session clock: " + st.error().message());
    return;
  }
  log::info(kLog, "session " + s.id + ": wall clock synced, " + std::to_string(gap / 1000) +
                      " s of downtime during the reboot counted");
  open_ = std::move(s);
}

void OutputSession::tick() {
  settle_clock();
  if (!open_) return;
  const int64_t el = elapsed_ms(open_->clock, ctx_.clock.steady_ms());
  const bool duration_up = open_->max_duration_ms && el >= *open_->max_duration_ms;
  const bool end_reached = open_->max_end_ms && ctx_.clock.now_ms() >= *open_->max_end_ms;
  if (!duration_up && !end_reached) return;
  const auto why = duration_up ? proto::EndReason::max_duration : proto::EndReason::booking_end;
  log::info(kLog, "session " + open_->id + " reached its " + (duration_up ? "max duration" : "end time") +
                      ": switching off");
  const CardUid card = open_->card;
  end_session(why, std::nullopt, card);
}

void OutputSession::checkpoint(const char* when) {
  if (!open_) return;
  const int64_t now = ctx_.clock.now_ms();
  const bool synced = ctx_.clock.synced();
  const int64_t el = elapsed_ms(open_->clock, ctx_.clock.steady_ms());
  if (auto st = ctx_.store.checkpoint(open_->id, now, synced, el); st) {
    open_->checkpoint_ms = now;
    open_->checkpoint_synced = synced;
    open_->checkpoint_elapsed_ms = el;
  } else {
    log::error(kLog, std::string("checkpoint ") + when + " failed: " + st.error().message());
  }
}

void OutputSession::heartbeat() {
  settle_clock();
  if (open_) {
    checkpoint("at heartbeat");
  } else if (!momentary()) {
    auto on = ctx_.coils.read(out_.coil);
    if (on && *on) {
      log::warn(kLog, "coil on without a session: switching off");
      if (auto st = ctx_.coils.write(out_.coil, false); !st) record_relay_fault(ctx_, "switch off: " + st.error().message());
    }
  }
}

void OutputSession::shutdown() {
  if (!open_) return;
  settle_clock();
  checkpoint("at shutdown");
  log::info(kLog, "stopping with session " + open_->id + " open; relay left on, a restart recovers it");
}

}  // namespace lg::terminal
