#include "agent.hpp"

#include <utility>

#include "labgate/common/card_uid.hpp"
#include "labgate/common/log.hpp"
#include "labgate/common/time.hpp"

#include "access/swipe_plan.hpp"

namespace lg::terminal {

namespace {
constexpr std::string_view kLog = "agent";

UplinkSettings uplink_settings(const AgentSettings& a) {
  UplinkSettings u;
  u.id = a.id;
  u.site = a.site;
  u.resource = a.resource;
  u.firmware = a.firmware;
  u.board = a.board.name;
  u.resend_s = a.resend_s;
  u.auth = a.auth;
  return u;
}

std::optional<proto::LinkKeys> derive_link(const crypto::PrivateKey& key, const std::optional<crypto::PublicKey>& server,
                                           const AgentSettings& a) {
  if (!server) return std::nullopt;
  auto link = proto::link_keys(key, *server, a.site, a.id);
  if (!link) {
    log::error(kLog, "no link keys (no card digests, no commands): " + link.error().message());
    return std::nullopt;
  }
  return std::move(link).value();
}
}  // namespace

Agent::Agent(AgentSettings settings, Store store, crypto::PrivateKey key,
             std::optional<crypto::PublicKey> server_key, Coils& coils, EnergyMeter* meter, Clock& clock,
             Scheduler& scheduler)
    : cfg_(std::move(settings)),
      store_(std::move(store)),
      coils_(coils),
      meter_(meter),
      clock_(clock),
      scheduler_(scheduler),
      ctx_{cfg_.resource, store_, coils_, meter_, clock_, scheduler_, [this] { request_flush(); }},
      link_(derive_link(key, server_key, cfg_)),
      acl_(cfg_.id, cfg_.resource, server_key, link_ ? link_->card : std::string(), store_),
      uplink_(uplink_settings(cfg_), std::move(key), std::move(server_key), clock_) {
  if (const board::Output* out = cfg_.board.output(cfg_.output))
    outputs_.push_back(std::make_unique<OutputSession>(*out, cfg_.fail_mode, ctx_));
}

void Agent::set_workers(Worker& loop, Worker& uplink) {
  loop_ = &loop;
  uplink_worker_ = &uplink;
}

std::string Agent::state_topic() const { return uplink_.state_topic(); }
std::string Agent::evt_topic() const { return uplink_.evt_topic(); }
std::string Agent::sync_topic() const { return proto::topic(cfg_.site, cfg_.id, proto::Channel::sync); }
std::string Agent::ack_topic() const { return proto::topic(cfg_.site, cfg_.id, proto::Channel::ack); }
std::string Agent::cmd_topic() const { return proto::topic(cfg_.site, cfg_.id, proto::Channel::cmd); }
std::string Agent::cmdres_topic() const { return proto::topic(cfg_.site, cfg_.id, proto::Channel::cmdres); }

const std::optional<OpenSession>& Agent::session() const {
  static const std::optional<OpenSession> kNone;
  return outputs_.empty() ? kNone : outputs_.front()->session();
}

OutputSession* Agent::output_named(const std::string& name) {
  for (auto& o : outputs_)
    if (o->name() == name) return o.get();
  return nullptr;
}

DecisionResult Agent::decide_now(const CardUid& card, int64_t now_ms, board::FailMode mode) const {
  DecisionInput in{&acl_.acl(), online_ ? Link::online : Link::offline, acl_.last_sync_ms(), mode, now_ms, card};
  return decide(in);
}

void Agent::request_flush() {
  uplink_worker_->post([this] { uplink_.flush(); });
}

void Agent::request_state() {
  uplink_worker_->post([this, f = facts()] { uplink_.publish_state(f); });
}

void Agent::set_publisher(Publisher* p) {
  uplink_worker_->post([this, p] {
    uplink_.set_publisher(p);
    cmd_pub_ = p;
  });
}

// ---------------------------------------------------------------- start-up

Status Agent::start() {
  auto b = store_.next_boot();
  if (!b) return b.error();
  boot_ = *b;
  LG_TRY(acl_.load());
  log::info(kLog, "boot " + std::to_string(boot_) + ", acl version " + std::to_string(acl_.acl().version) +
                      (acl_.last_sync_ms() ? ", last sync " + time::format_utc(*acl_.last_sync_ms()) : ", never synced"));
  if (outputs_.empty()) return Error::invalid("output \"" + cfg_.output + "\" is not on board " + cfg_.board.name);

  auto sessions = store_.open_sessions();
  if (!sessions) return sessions.error();
  for (auto& s : *sessions) {
    OutputSession* o = output_named(s.output);
    if (!o) {
      log::warn(kLog, "open session " + s.id + " is on output \"" + s.output + "\" which this terminal no longer drives");
      close_crashed(ctx_, s, nullptr, false);
      continue;
    }
    o->recover(std::move(s), [this, o](const CardUid& card, int64_t now) { return decide_now(card, now, o->fail_mode()); });
  }
  // A latching coil that is on without a session (e.g. crash between committing a SessionEnd
  // and switching off), or a momentary output caught mid-pulse: switch it off.
  for (auto& o : outputs_) o->settle_coil_at_start();

  auto outbox = store_.reopen();
  if (!outbox) return outbox.error();
  uplink_.attach(std::move(*outbox), boot_);
  return {};
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
  OutputSession& out = swipe_output();
  const DecisionResult d = decide_now(*uid, clock_.now_ms(), out.fail_mode());
  const SwipePlan plan = plan_swipe(d, *uid, out.holder(), out.momentary());
  reply = out.act(plan, *uid);
  log::info(kLog, "swipe " + uid->str() + " user=" + (reply.user.empty() ? "-" : reply.user) + " decision=" +
                      proto::to_string(reply.decision) + " reason=" + proto::to_string(reply.reason) + " mode=" +
                      proto::to_string(plan.result.mode) + " acl=" + std::to_string(plan.result.acl_version) +
                      " action=" + reply.action + (reply.session.empty() ? "" : " session=" + reply.session) +
                      (reply.error.empty() ? "" : " error=" + reply.error));
  request_flush();  // signing and publishing happen on the uplink worker, after the reply
  return reply;
}

// ---------------------------------------------------------------- timers

void Agent::tick() {
  for (auto& o : outputs_) o->tick();
  request_flush();
}

void Agent::heartbeat() {
  for (auto& o : outputs_) o->heartbeat();
  acl_.still_current(online_, clock_.now_ms());
  request_state();
  request_flush();
}

void Agent::shutdown() {
  for (auto& o : outputs_) o->shutdown();
  // The cache was known current up to this moment: a restart into a broker outage gets the full
  // grace from the stop, not from the last heartbeat.
  acl_.still_current(online_, clock_.now_ms());
  uplink_worker_->post([this, f = facts()] { uplink_.publish_offline(f); });
}

// ---------------------------------------------------------------- MQTT

std::string Agent::state_payload(bool online) { return uplink_.state_payload(online, facts()); }

void Agent::on_connection(bool connected) {
  const bool was_online = online_;
  online_ = connected;
  log::info(kLog, connected ? "broker connected: online" : "broker connection lost: offline");
  if (!connected) ++losses_;
  acl_.on_connection(connected, was_online, clock_.now_ms());
  if (connected) uplink_worker_->post([this, f = facts()] { uplink_.on_connection(true, f); });
}

void Agent::on_message(const mqtt::Message& m) {
  if (m.topic == ack_topic()) {
    uplink_worker_->post([this, payload = m.payload] { uplink_.handle_ack(payload); });
  } else if (m.topic == sync_topic()) {
    const uint64_t losses_at_arrival = losses_;
    uplink_worker_->post([this, payload = m.payload, losses_at_arrival] {
      auto b = acl_.verify(payload);  // on the uplink worker: only the key and ids
      if (!b) return;
      loop_->post([this, b = std::move(*b), losses_at_arrival] {
        const bool reapply = std::exchange(reapply_next_, false);
        if (acl_.apply(b, losses_at_arrival == losses_, clock_.now_ms(), reapply)) request_state();
      });
    });
  } else if (m.topic == cmd_topic()) {
    uplink_worker_->post([this, payload = m.payload] {
      // On the uplink worker: the ECDSA verify must not sit in front of a swipe.
      auto checked = check_command(payload, acl_.server_key(), cfg_.id, clock_.now_ms());
      if (auto* refused = std::get_if<RefusedCommand>(&checked)) return refuse_command(*refused);
      loop_->post([this, c = std::get<proto::Command>(std::move(checked))] { run_command(c); });
    });
  } else {
    log::debug(kLog, "ignoring message on " + m.topic);
  }
}

// ---------------------------------------------------------------- remote commands

void Agent::refuse_command(const RefusedCommand& r) {
  ++commands_refused_;
  log::warn(kLog, "refused command" + (r.id.empty() ? std::string() : " " + r.id) + ": " + to_string(r.reason) + " (" +
                      r.detail + ")");
  answer_command(proto::CommandResult{cfg_.id, r.id, proto::CommandOutcome::refused, to_string(r.reason), 0});
}

void Agent::run_command(const proto::Command& c) {
  const int64_t now = clock_.now_ms();
  // Durable before acting: an id is executed at most once, also across restarts.
  auto fresh = store_.remember_command(c.id, c.expires_ms, now);
  if (!fresh) {
    log::error(kLog, "command " + c.id + " not executed, cannot remember it: " + fresh.error().message());
    answer_command(proto::CommandResult{cfg_.id, c.id, proto::CommandOutcome::failed, "storage", 0});
    return;
  }
  if (!*fresh) return refuse_command(RefusedCommand{CommandRefusal::replayed, c.id, "executed before"});
  proto::CommandResult res{cfg_.id, c.id, proto::CommandOutcome::done, "", 0};
  switch (c.kind) {
    case proto::CommandKind::resync:
      // The server publishes the bundle again right after the command: the next one that
      // arrives is verified and written again even if its version is the applied one.
      reapply_next_ = true;
      res.reason = "the next bundle is applied again (applied now: v" + std::to_string(acl_.acl().version) + ")";
      break;
    case proto::CommandKind::unlock:
    case proto::CommandKind::lock:
    case proto::CommandKind::video:
      // Served by the terminal-field-devices work; until then an authentic command says so.
      res.outcome = proto::CommandOutcome::unsupported;
      res.reason = std::string(proto::to_string(c.kind)) + " is not served by this terminal yet";
      break;
  }
  log::info(kLog, "command " + c.id + " " + proto::to_string(c.kind) + ": " + proto::to_string(res.outcome) +
                      (res.reason.empty() ? "" : " (" + res.reason + ")"));
  answer_command(std::move(res));
}

void Agent::answer_command(proto::CommandResult res) {
  uplink_worker_->post([this, res = std::move(res)]() mutable {
    res.ts_ms = clock_.now_ms();
    if (!link_) {
      log::warn(kLog, "cmdres for " + res.id + " not sent: no link key");
      return;
    }
    if (!cmd_pub_ || !cmd_pub_->connected()) {
      log::debug(kLog, "cmdres for " + res.id + " not sent: offline");
      return;
    }
    const std::string wire = proto::seal_mac(proto::encode(res), cfg_.id, link_->up);
    if (auto st = cmd_pub_->publish(cmdres_topic(), wire, 1, false); !st)
      log::warn(kLog, "cmdres not published: " + st.error().message());
  });
}

}  // namespace lg::terminal
