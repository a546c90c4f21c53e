#include "agent.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "labgate/common/card_uid.hpp"
#include "labgate/common/log.hpp"
#include "labgate/common/time.hpp"

#include "metering.hpp"

namespace lg::terminal {

namespace {
constexpr std::string_view kLog = "agent";
constexpr std::size_t kBatchRecords = 200;
constexpr int kMaxBatchesPerFlush = 8;
}  // namespace

// ---------------------------------------------------------------- small pieces

int64_t SystemClock::now_ms() { return time::now_utc_ms(); }
int64_t SystemClock::steady_ms() { return time::steady_ms(); }
std::string SystemClock::boot_id() { return time::boot_id(); }
bool SystemClock::synced() { return time::clock_synced(); }

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

Agent::Agent(AgentSettings settings, Store store, crypto::PrivateKey key,
             std::optional<crypto::PublicKey> server_key, Coils& coils, EnergyMeter* meter, Clock& clock,
             Scheduler& scheduler)
    : cfg_(std::move(settings)),
      store_(std::move(store)),
      key_(std::move(key)),
      server_key_(std::move(server_key)),
      coils_(coils),
      meter_(meter),
      clock_(clock),
      scheduler_(scheduler) {}

std::string Agent::state_topic() const { return proto::topic(cfg_.site, cfg_.id, proto::Channel::state); }
std::string Agent::evt_topic() const { return proto::topic(cfg_.site, cfg_.id, proto::Channel::evt); }
std::string Agent::sync_topic() const { return proto::topic(cfg_.site, cfg_.id, proto::Channel::sync); }
std::string Agent::ack_topic() const { return proto::topic(cfg_.site, cfg_.id, proto::Channel::ack); }

const board::Output* Agent::output() const { return cfg_.board.output(cfg_.output); }

bool Agent::pulse_output() const {
  const auto* o = output();
  return o && o->pulse_ms > 0;
}

proto::Record Agent::make_record(proto::RecordBody body) {
  proto::Record r;
  r.id = crypto::uuid4();
  r.ts_ms = clock_.now_ms();
  r.clock_synced = clock_.synced();
  r.body = std::move(body);
  return r;
}

proto::Access Agent::access_from(const DecisionResult& d, const std::string& card) const {
  proto::Access a;
  a.card = card;
  a.user = d.user;
  a.resource = cfg_.resource;
  a.output = cfg_.output;
  a.decision = d.decision;
  a.reason = d.reason;
  a.mode = d.mode;
  a.acl_version = d.acl_version;
  a.booking = d.booking;
  return a;
}

std::optional<double> Agent::read_meter_kwh(std::string& problem) {
  if (!meter_) return std::nullopt;
  auto kwh = meter_->total_kwh();
  if (!kwh) {
    problem = kwh.error().message();
    log::warn(kLog, "meter unreadable: " + problem);
    return std::nullopt;
  }
  auto valid = valid_kwh(*kwh);
  if (!valid) problem = "meter reported an invalid total";
  return valid;
}

void Agent::relay_fault(const std::string& detail) {
  log::error(kLog, "relay fault: " + detail);
  auto rec = make_record(proto::Alarm{"relay_fault", detail.substr(0, proto::kMaxField)});
  if (auto s = store_.append(rec); !s) log::error(kLog, "cannot record alarm: " + s.error().message());
}

void Agent::record_output_fault(const DecisionResult& d, const std::string& card, const std::string& detail,
                                const std::optional<std::string>& drop_session) {
  log::error(kLog, "relay fault: " + detail);
  DecisionResult fault = d;
  fault.decision = proto::Decision::denied;
  fault.reason = proto::Reason::output_fault;
  auto denied = make_record(access_from(fault, card));
  auto alarm = make_record(proto::Alarm{"relay_fault", detail.substr(0, proto::kMaxField)});
  Commit c;
  c.records = {&denied, &alarm};
  if (drop_session) c.delete_session = *drop_session;
  if (auto st = store_.commit(c); !st) log::error(kLog, "cannot record relay fault: " + st.error().message());
}

// ---------------------------------------------------------------- start-up and recovery

Status Agent::start() {
  auto b = store_.next_boot();
  if (!b) return b.error();
  boot_ = *b;
  auto acl = store_.load_acl();
  if (!acl) return acl.error();
  acl_ = std::move(*acl);
  auto ls = store_.last_sync_ms();
  if (!ls) return ls.error();
  last_sync_ms_ = *ls;
  log::info(kLog, "boot " + std::to_string(boot_) + ", acl version " + std::to_string(acl_.version) +
                      (last_sync_ms_ ? ", last sync " + time::format_utc(*last_sync_ms_) : ", never synced"));
  if (!output()) return Error::invalid("output \"" + cfg_.output + "\" is not on board " + cfg_.board.name);

  auto sessions = store_.open_sessions();
  if (!sessions) return sessions.error();
  for (auto& s : *sessions) recover(std::move(s));

  // A latching coil that is on without a session (e.g. crash between committing a SessionEnd
  // and switching off), or a momentary output caught mid-pulse: switch it off.
  if (!open_) {
    auto on = coils_.read(output()->coil);
    if (on && *on) {
      log::warn(kLog, "coil " + std::to_string(output()->coil) + " is on without a session: switching off");
      if (auto s = coils_.write(output()->coil, false); !s) relay_fault("switch off at start: " + s.error().message());
    } else if (!on) {
      log::warn(kLog, "cannot read coil at start: " + on.error().message());
    }
  }
  return {};
}

void Agent::recover(OpenSession s) {
  const board::Output* out = cfg_.board.output(s.output);
  if (!out || s.output != cfg_.output || pulse_output() || open_) {
    log::warn(kLog, "open session " + s.id + " is on output \"" + s.output + "\" which this terminal no longer drives");
    close_crashed(s, nullptr, false);
    return;
  }
  auto coil = coils_.read(out->coil);
  bool on = true;  // unreadable relay: assume it kept its state and let the grant decide
  if (coil) {
    on = *coil;
  } else {
    relay_fault("read coil at recovery: " + coil.error().message());
  }
  const int64_t now = clock_.now_ms();

  if (!s.started) {
    // Crash between committing the grant and confirming the relay.
    if (!on) {
      auto alarm = make_record(proto::Alarm{"relay_fault", "session " + s.id + " never started (coil off at recovery)"});
      Commit c;
      c.records.push_back(&alarm);
      c.delete_session = s.id;
      if (auto st = store_.commit(c); !st) log::error(kLog, "recovery: " + st.error().message());
      log::warn(kLog, "session " + s.id + " never started; dropped");
      return;
    }
  }

  // Durations come from the monotonic clock; after a reboot the downtime is counted from wall
  // times only when both were synced (metering.hpp: rebase).
  const std::string boot_now = clock_.boot_id();
  const bool same_boot = s.clock.boot_id == boot_now;
  const bool synced_now = clock_.synced();
  const int64_t steady_now = clock_.steady_ms();
  Rebased rb = rebase(s.clock, boot_now, steady_now, WallReading{s.checkpoint_ms, s.checkpoint_synced},
                      s.checkpoint_elapsed_ms, WallReading{now, synced_now});
  if (!same_boot) {
    s.gap_from_ms = rb.gap_from_ms;  // a pending gap of an earlier boot cannot be settled any more
    if (!(s.checkpoint_synced && synced_now))
      log::warn(kLog, "session " + s.id + " recovered after a reboot with an unsynced wall clock: the downtime " +
                          (rb.gap_from_ms ? "is counted once NTP has synced" : "cannot be measured and is not billed"));
  }

  DecisionInput in{&acl_, online_ ? Link::online : Link::offline, last_sync_ms_, cfg_.fail_mode, now, s.card};
  const DecisionResult d = decide(in);
  const RecoveryVerdict v =
      recovery_verdict(d, s.max_end_ms, s.max_duration_ms, elapsed_ms(rb.clock, steady_now), now);
  if (!on || !v.keep) {
    log::warn(kLog, "session " + s.id + " of card " + s.card + " closed at recovery (" +
                        (on ? std::string("grant no longer holds: ") + proto::to_string(d.reason) : "coil off") + ")");
    close_crashed(s, out, on);
    return;
  }

  s.clock = rb.clock;
  s.recovered = true;
  s.max_end_ms = v.max_end_ms;
  s.max_duration_ms = v.max_duration_ms;
  Commit c;
  std::optional<proto::Record> start_rec;
  if (!s.started) {
    proto::SessionStart ss{s.id, s.card, s.user, s.resource, s.booking,
                           s.meter_start_kwh ? kwh_to_wh(*s.meter_start_kwh) : std::nullopt};
    start_rec = make_record(ss);
    // The record describes the start: its time and whether the clock was synced are those of
    // the moment start_ms was read, not of this recovery.
    start_rec->ts_ms = s.start_ms;
    start_rec->clock_synced = s.start_synced;
    c.records.push_back(&*start_rec);
    s.started = true;
  }
  c.upsert_session = &s;
  if (auto st = store_.commit(c); !st) log::error(kLog, "recovery: " + st.error().message());
  log::info(kLog, "recovered session " + s.id + " of " + s.user + " (" + (same_boot ? "same boot" : "after reboot") +
                      ", elapsed " + std::to_string(elapsed_ms(s.clock, clock_.steady_ms()) / 1000) + " s)");
  open_ = std::move(s);
}

void Agent::close_crashed(const OpenSession& s, const board::Output* out, bool coil_on) {
  proto::SessionEnd e;
  e.session = s.id;
  e.card = s.card;
  e.user = s.user;
  e.resource = s.resource;
  e.booking = s.booking;
  e.start_ms = s.start_ms;
  e.end_ms = std::max(s.checkpoint_ms, s.start_ms);
  e.duration_ms = std::max<int64_t>(0, s.checkpoint_elapsed_ms);
  e.end_reason = proto::EndReason::crash_recovered;
  if (meter_) {
    std::string problem;
    auto end_kwh = read_meter_kwh(problem);
    auto en = energy_between(s.meter_start_kwh, end_kwh);
    e.energy_wh = en.energy_wh;
    e.flags = en.flags;
  }
  e.flags.insert(e.flags.begin(), "crash_closed");
  if (s.recovered) e.flags.insert(e.flags.begin(), "recovered");
  if (!clock_.synced()) e.flags.emplace_back("clock_unsynced");
  auto rec = make_record(e);
  Commit c;
  c.records.push_back(&rec);
  c.delete_session = s.id;
  if (auto st = store_.commit(c); !st) {
    log::error(kLog, "cannot close crashed session " + s.id + ": " + st.error().message());
    return;
  }
  if (out && coil_on) {
    if (auto st = coils_.write(out->coil, false); !st) relay_fault("switch off at recovery: " + st.error().message());
  }
}

// ---------------------------------------------------------------- swipes

SwipeReply Agent::on_card(const std::string& raw_line) {
  SwipeReply reply;
  reply.card = raw_line.substr(0, 64);
  const auto uid = CardUid::parse(raw_line);
  if (!uid) {
    reply.error = "invalid card uid";
    log::warn(kLog, "swipe rejected: invalid card uid \"" + reply.card + "\"");
    return reply;
  }
  const std::string& card = uid->str();
  reply.card = card;
  const int64_t now = clock_.now_ms();
  DecisionInput in{&acl_, online_ ? Link::online : Link::offline, last_sync_ms_, cfg_.fail_mode, now, card};
  const DecisionResult d = decide(in);
  std::optional<std::string> holder;
  if (open_) holder = open_->card;
  const SwipePlan plan = plan_swipe(d, card, holder, pulse_output());

  auto log_decision = [&](const SwipeReply& r) {
    log::info(kLog, "swipe " + card + " user=" + (r.user.empty() ? "-" : r.user) + " decision=" +
                        proto::to_string(r.decision) + " reason=" + proto::to_string(r.reason) + " mode=" +
                        proto::to_string(plan.result.mode) + " acl=" + std::to_string(plan.result.acl_version) +
                        " action=" + r.action + (r.session.empty() ? "" : " session=" + r.session) +
                        (r.error.empty() ? "" : " error=" + r.error));
  };

  switch (plan.action) {
    case SwipeAction::start:
      reply = start_session(card, plan.result);
      break;
    case SwipeAction::pulse:
      reply = pulse(card, plan.result);
      break;
    case SwipeAction::end: {
      const std::string sid = open_->id;
      reply.decision = plan.result.decision;
      reply.reason = plan.result.reason;
      reply.user = plan.result.user;
      reply.session = sid;
      if (end_session(plan.end_reason, plan.result, card)) {
        reply.action = "end";
      } else {
        reply.error = "storage failure";
      }
      break;
    }
    case SwipeAction::deny: {
      reply.decision = plan.result.decision;
      reply.reason = plan.result.reason;
      reply.user = plan.result.user;
      auto rec = make_record(access_from(plan.result, card));
      if (auto st = store_.append(rec); !st) {
        log::error(kLog, "cannot record access: " + st.error().message());
        reply.error = "storage failure";
      }
      break;
    }
  }
  log_decision(reply);
  flush();
  return reply;
}

SwipeReply Agent::start_session(const std::string& card, const DecisionResult& d) {
  SwipeReply reply;
  reply.card = card;
  reply.user = d.user;
  const board::Output* out = output();

  const int64_t now = clock_.now_ms();
  OpenSession s;
  s.id = crypto::uuid4();
  s.card = card;
  s.user = d.user;
  s.resource = cfg_.resource;
  s.output = cfg_.output;
  s.booking = d.booking;
  s.acl_version = d.acl_version;
  s.start_ms = now;
  s.start_synced = clock_.synced();
  s.clock = SessionClock{clock_.steady_ms(), 0, clock_.boot_id()};
  s.checkpoint_ms = now;
  s.checkpoint_synced = s.start_synced;
  s.checkpoint_elapsed_ms = 0;
  s.max_end_ms = d.max_end_ms;
  s.max_duration_ms = d.max_duration_ms;

  // 1. Write before acting: the grant and the open-session row.
  auto access = make_record(access_from(d, card));
  Commit c1;
  c1.records.push_back(&access);
  c1.upsert_session = &s;
  if (auto st = store_.commit(c1); !st) {
    log::error(kLog, "cannot record grant, not switching: " + st.error().message());
    reply.decision = proto::Decision::denied;
    reply.reason = d.reason;
    reply.error = "storage failure";
    return reply;
  }

  // 2. Act.
  if (auto st = coils_.write(out->coil, true); !st) {
    record_output_fault(d, card, "switch on coil " + std::to_string(out->coil) + ": " + st.error().message(), s.id);
    reply.decision = proto::Decision::denied;
    reply.reason = proto::Reason::output_fault;
    return reply;
  }

  // 3. Confirmed on: the session has started. The starting energy is read now, after the switch,
  // so power never waits for a meter round trip (docs/TERMINAL.md: what that costs in accuracy).
  s.started = true;
  std::string problem;
  s.meter_start_kwh = read_meter_kwh(problem);
  const auto meter_start_wh = s.meter_start_kwh ? kwh_to_wh(*s.meter_start_kwh) : std::nullopt;
  auto start = make_record(proto::SessionStart{s.id, card, s.user, s.resource, s.booking, meter_start_wh});
  Commit c3;
  c3.records.push_back(&start);
  c3.upsert_session = &s;
  if (auto st = store_.commit(c3); !st) {
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

SwipeReply Agent::pulse(const std::string& card, const DecisionResult& d) {
  SwipeReply reply;
  reply.card = card;
  reply.user = d.user;
  const board::Output* out = output();
  auto access = make_record(access_from(d, card));
  if (auto st = store_.append(access); !st) {
    log::error(kLog, "cannot record grant, not switching: " + st.error().message());
    reply.reason = d.reason;
    reply.error = "storage failure";
    return reply;
  }
  if (auto st = coils_.write(out->coil, true); !st) {
    record_output_fault(d, card, "pulse: " + st.error().message(), std::nullopt);
    reply.reason = proto::Reason::output_fault;
    return reply;
  }
  const uint64_t gen = ++pulse_gen_;
  const uint16_t coil = out->coil;
  scheduler_.after(out->pulse_ms, [this, gen, coil] {
    if (gen != pulse_gen_) return;  // a later pulse extended it
    if (auto st = coils_.write(coil, false); !st) relay_fault("end of pulse: " + st.error().message());
    flush();
  });
  reply.decision = proto::Decision::granted;
  reply.reason = d.reason;
  reply.action = "pulse";
  return reply;
}

bool Agent::end_session(proto::EndReason why, const std::optional<DecisionResult>& access, const std::string& card) {
  if (!open_) return false;
  const OpenSession& s = *open_;
  proto::SessionEnd e;
  e.session = s.id;
  e.card = s.card;
  e.user = s.user;
  e.resource = s.resource;
  e.booking = s.booking;
  e.start_ms = s.start_ms;
  e.end_ms = clock_.now_ms();
  e.duration_ms = elapsed_ms(s.clock, clock_.steady_ms());
  e.end_reason = why;
  if (s.recovered) e.flags.emplace_back("recovered");
  if (meter_) {
    std::string problem;
    const auto end_kwh = read_meter_kwh(problem);
    auto en = energy_between(s.meter_start_kwh, end_kwh);
    e.energy_wh = en.energy_wh;
    for (auto& f : en.flags) e.flags.push_back(std::move(f));
  }
  if (!clock_.synced()) e.flags.emplace_back("clock_unsynced");

  std::optional<proto::Record> acc;
  if (access) acc = make_record(access_from(*access, card));
  auto end = make_record(e);
  Commit c;
  if (acc) c.records.push_back(&*acc);
  c.records.push_back(&end);
  c.delete_session = s.id;
  if (auto st = store_.commit(c); !st) {
    log::error(kLog, "cannot record session end, relay left on: " + st.error().message());
    return false;
  }
  log::info(kLog, "session " + s.id + " ended (" + proto::to_string(why) + "), " +
                      std::to_string(e.duration_ms / 1000) + " s" +
                      (e.energy_wh ? ", " + std::to_string(*e.energy_wh) + " Wh" : ""));
  const uint16_t coil = output()->coil;
  open_.reset();
  if (auto st = coils_.write(coil, false); !st) relay_fault("switch off: " + st.error().message());
  return true;
}

// ---------------------------------------------------------------- timers

void Agent::settle_clock() {
  if (!open_ || !open_->gap_from_ms || !clock_.synced()) return;
  OpenSession s = *open_;
  const int64_t gap = settle_gap(s.clock, *s.gap_from_ms, clock_.now_ms(), clock_.steady_ms());
  s.clock.elapsed_base_ms += gap;
  s.gap_from_ms.reset();
  if (auto st = store_.save_session(s); !st) {
    log::error(kLog, "cannot save the settled session clock: " + st.error().message());
    return;
  }
  log::info(kLog, "session " + s.id + ": wall clock synced, " + std::to_string(gap / 1000) +
                      " s of downtime during the reboot counted");
  open_ = std::move(s);
}

void Agent::tick() {
  settle_clock();
  if (open_) {
    const int64_t el = elapsed_ms(open_->clock, clock_.steady_ms());
    const bool duration_up = open_->max_duration_ms && el >= *open_->max_duration_ms;
    const bool end_reached = open_->max_end_ms && clock_.now_ms() >= *open_->max_end_ms;
    if (duration_up || end_reached) {
      const auto why = duration_up ? proto::EndReason::max_duration : proto::EndReason::booking_end;
      log::info(kLog, "session " + open_->id + " reached its " + (duration_up ? "max duration" : "end time") +
                          ": switching off");
      end_session(why, std::nullopt, open_->card);
    }
  }
  flush();
}

void Agent::checkpoint_open(const char* when) {
  if (!open_) return;
  const int64_t now = clock_.now_ms();
  const bool synced = clock_.synced();
  const int64_t el = elapsed_ms(open_->clock, clock_.steady_ms());
  if (auto st = store_.checkpoint(open_->id, now, synced, el); st) {
    open_->checkpoint_ms = now;
    open_->checkpoint_synced = synced;
    open_->checkpoint_elapsed_ms = el;
  } else {
    log::error(kLog, std::string("checkpoint ") + when + " failed: " + st.error().message());
  }
}

void Agent::heartbeat() {
  settle_clock();
  if (open_) {
    checkpoint_open("at heartbeat");
  } else if (!pulse_output()) {
    auto on = coils_.read(output()->coil);
    if (on && *on) {
      log::warn(kLog, "coil on without a session: switching off");
      if (auto st = coils_.write(output()->coil, false); !st) relay_fault("switch off: " + st.error().message());
    }
  }
  // Only while the connection is reported up: a bundle that came on a connection attempt which
  // then failed (no connect, so no loss, is ever reported for it) counted once, on arrival.
  if (cache_current_ && online_) confirm_sync(clock_.now_ms());
  publish_state();
  flush();
}

void Agent::confirm_sync(int64_t now_ms) {
  if (auto st = store_.set_last_sync_ms(now_ms); !st) {
    log::error(kLog, "cannot persist sync time: " + st.error().message());
    return;
  }
  last_sync_ms_ = now_ms;
}

void Agent::shutdown() {
  if (open_) {
    settle_clock();
    checkpoint_open("at shutdown");
    log::info(kLog, "stopping with session " + open_->id + " open; relay left on, a restart recovers it");
  }
  // The cache was known current up to this moment: a restart into a broker outage gets the full
  // grace from the stop, not from the last heartbeat.
  if (cache_current_ && online_) confirm_sync(clock_.now_ms());
  if (pub_ && pub_->connected()) {
    if (auto st = pub_->publish(state_topic(), state_payload(false), 1, true); !st)
      log::warn(kLog, "offline state not published: " + st.error().message());
  }
}

// ---------------------------------------------------------------- MQTT

std::string Agent::state_payload(bool online) {
  proto::State s;
  s.terminal = cfg_.id;
  s.online = online;
  s.boot = boot_;
  s.firmware = cfg_.firmware;
  s.board = cfg_.board.name;
  s.resource = cfg_.resource;
  s.acl_version = acl_.version;
  auto d = store_.depth();
  s.outbox_depth = d ? *d : 0;
  s.clock_synced = clock_.synced();
  s.ts_ms = clock_.now_ms();
  auto sealed = proto::seal(proto::encode(s), cfg_.id, key_);
  if (!sealed) {
    log::error(kLog, "cannot sign state: " + sealed.error().message());
    return {};
  }
  return *sealed;
}

void Agent::publish_state() {
  if (!pub_ || !pub_->connected()) return;
  const std::string p = state_payload(true);
  if (p.empty()) return;
  if (auto st = pub_->publish(state_topic(), p, 1, true); !st)
    log::warn(kLog, "state not published: " + st.error().message());
}

void Agent::on_connection(bool connected) {
  const bool was_online = online_;
  online_ = connected;
  log::info(kLog, connected ? "broker connected: online" : "broker connection lost: offline");
  if (!connected) {
    if (cache_current_ && was_online) confirm_sync(clock_.now_ms());  // current up to this moment
    cache_current_ = false;  // the next connection must deliver the bundle again
    return;
  }
  // A connect does not clear cache_current_: the retained bundle of this very connection may
  // already have arrived (lg::mqtt subscribes before it reports the connection). Nor does it set
  // it: a connection that has not delivered the bundle proves nothing about the cache.
  if (cache_current_) confirm_sync(clock_.now_ms());
  sent_upto_ = 0;  // everything unacked goes again on a new connection
  resend_deadline_.reset();
  publish_state();
  flush();
}

void Agent::flush() {
  if (!pub_ || !pub_->connected()) return;
  const int64_t now = clock_.steady_ms();
  if (resend_deadline_ && now >= *resend_deadline_) {
    if (sent_upto_ > 0) log::debug(kLog, "no ack within resend_s: republishing unacked records");
    sent_upto_ = 0;
    resend_deadline_.reset();
  }
  for (int i = 0; i < kMaxBatchesPerFlush; ++i) {
    auto recs = store_.pending(sent_upto_, kBatchRecords);
    if (!recs) {
      log::error(kLog, "outbox: " + recs.error().message());
      return;
    }
    if (recs->empty()) return;
    std::size_t n = recs->size();
    std::string wire;
    for (;;) {
      proto::EventBatch batch{cfg_.id, boot_, std::vector<proto::Record>(recs->begin(), recs->begin() + static_cast<std::ptrdiff_t>(n))};
      auto sealed = proto::seal(proto::encode(batch), cfg_.id, key_);
      if (!sealed) {
        log::error(kLog, "cannot sign batch: " + sealed.error().message());
        return;
      }
      wire = std::move(*sealed);
      if (wire.size() <= proto::kMaxPayload || n == 1) break;
      n /= 2;
    }
    if (auto st = pub_->publish(evt_topic(), wire, 1, false); !st) {
      log::warn(kLog, "publish failed: " + st.error().message());
      return;
    }
    const uint64_t last = (*recs)[n - 1].seq;
    log::debug(kLog, "published seq " + std::to_string((*recs)[0].seq) + ".." + std::to_string(last));
    sent_upto_ = last;
    if (!resend_deadline_) resend_deadline_ = now + int64_t{cfg_.resend_s} * 1000;
  }
}

void Agent::reject(const std::string& what, const std::string& why) {
  ++rejected_;
  log::warn(kLog, "rejected " + what + ": " + why);
}

void Agent::on_message(const mqtt::Message& m) {
  if (m.topic == ack_topic()) {
    handle_ack(m.payload);
  } else if (m.topic == sync_topic()) {
    handle_sync(m.payload);
  } else {
    log::debug(kLog, "ignoring message on " + m.topic);
  }
}

void Agent::handle_ack(const std::string& payload) {
  auto env = proto::open(payload);
  if (!env) return reject("ack", env.error().message());
  if (env->kid != proto::kServerKid) return reject("ack", "signed by \"" + env->kid + "\", not the server");
  if (!server_key_ || !proto::verify(*env, *server_key_)) return reject("ack", "bad signature (forged?)");
  auto ack = proto::decode_ack(env->body);
  if (!ack) return reject("ack", ack.error().message());
  if (ack->terminal != cfg_.id) return reject("ack", "for terminal " + ack->terminal);
  auto last = store_.last_seq();
  if (!last) return log::error(kLog, "outbox: " + last.error().message());
  if (ack->seq > *last)
    return reject("ack", "seq " + std::to_string(ack->seq) + " beyond the last assigned " + std::to_string(*last));
  auto n = store_.ack(ack->seq);
  if (!n) return log::error(kLog, "outbox prune failed: " + n.error().message());
  if (*n > 0) log::debug(kLog, "ack " + std::to_string(ack->seq) + ": pruned " + std::to_string(*n));
  sent_upto_ = std::max(sent_upto_, ack->seq);
  auto depth = store_.depth();
  if (depth && *depth == 0) {
    resend_deadline_.reset();
  } else if (*n > 0) {
    resend_deadline_ = clock_.steady_ms() + int64_t{cfg_.resend_s} * 1000;  // progress: wait again
    flush();  // a backlog drains at the pace of acks, not of the tick
  }
}

void Agent::handle_sync(const std::string& payload) {
  if (payload.empty()) return;  // retained message cleared
  auto env = proto::open(payload);
  if (!env) return reject("sync bundle", env.error().message());
  if (env->kid != proto::kServerKid) return reject("sync bundle", "signed by \"" + env->kid + "\", not the server");
  if (!server_key_ || !proto::verify(*env, *server_key_)) return reject("sync bundle", "bad signature (forged?)");
  auto b = proto::decode_sync(env->body);
  if (!b) return reject("sync bundle", b.error().message());
  if (b->terminal != cfg_.id) return reject("sync bundle", "for terminal " + b->terminal);
  if (b->resource != cfg_.resource)
    return reject("sync bundle", "for resource " + b->resource + ", this terminal controls " + cfg_.resource);
  const int64_t now = clock_.now_ms();
  if (b->version < acl_.version) {
    log::warn(kLog, "ignoring sync bundle version " + std::to_string(b->version) + " older than applied " +
                        std::to_string(acl_.version));
    return;
  }
  if (b->version == acl_.version) {
    cache_current_ = true;  // it arrived over the broker: that connection is live
    confirm_sync(now);
    log::debug(kLog, "sync bundle version " + std::to_string(b->version) + " already applied; sync time refreshed");
    return;
  }
  auto applied = store_.apply_bundle(*b, now);
  if (!applied) return log::error(kLog, "cannot apply sync bundle: " + applied.error().message());
  if (!*applied) {
    // The store already holds a newer version than memory: reload it.
    if (auto acl = store_.load_acl(); acl) acl_ = std::move(*acl);
    return;
  }
  acl_ = AclSnapshot::from_bundle(*b);
  last_sync_ms_ = now;
  cache_current_ = true;
  log::info(kLog, "applied sync bundle version " + std::to_string(b->version) + ": " +
                      std::to_string(b->grants.size()) + " grants, " + std::to_string(b->bookings.size()) +
                      " bookings");
  publish_state();
}

}  // namespace lg::terminal
