#include "uplink/uplink.hpp"

#include <algorithm>

#include "labgate/common/log.hpp"
#include "labgate/common/protocol.hpp"

namespace lg::terminal {

namespace {
constexpr std::string_view kLog = "agent";
constexpr std::size_t kBatchRecords = 200;
constexpr int kMaxBatchesPerFlush = 8;
}  // namespace

Uplink::Uplink(UplinkSettings s, crypto::PrivateKey key, std::optional<crypto::PublicKey> server_key, Clock& clock)
    : cfg_(std::move(s)), key_(std::move(key)), server_key_(std::move(server_key)), clock_(clock) {
  if (server_key_) {
    auto link = proto::link_keys(key_, *server_key_, cfg_.site, cfg_.id);
    if (link) link_ = std::move(link).value();
    else log::error(kLog, "no link key (sending signed messages instead): " + link.error().message());
  }
}

std::string Uplink::seal(const std::string& body, std::string_view what) {
  if (cfg_.auth == proto::Auth::mac && link_) return proto::seal_mac(body, cfg_.id, link_->up);
  auto sealed = proto::seal(body, cfg_.id, key_);
  if (!sealed) {
    log::error(kLog, "cannot sign " + std::string(what) + ": " + sealed.error().message());
    return {};
  }
  return std::move(sealed).value();
}

void Uplink::attach(Store outbox, uint64_t boot) {
  outbox_.emplace(std::move(outbox));
  boot_ = boot;
}

std::string Uplink::state_topic() const { return proto::topic(cfg_.site, cfg_.id, proto::Channel::state); }
std::string Uplink::evt_topic() const { return proto::topic(cfg_.site, cfg_.id, proto::Channel::evt); }

std::string Uplink::state_payload(bool online, const StateFacts& facts) {
  proto::State s;
  s.terminal = cfg_.id;
  s.online = online;
  s.boot = boot_;
  s.firmware = cfg_.firmware;
  s.board = cfg_.board;
  s.resource = cfg_.resource;
  s.acl_version = facts.acl_version;
  if (outbox_) {
    auto d = outbox_->depth();
    s.outbox_depth = d ? *d : 0;
  }
  s.clock_synced = clock_.synced();
  s.ts_ms = clock_.now_ms();
  return seal(proto::encode(s), "state");
}

void Uplink::publish_state(const StateFacts& facts) {
  if (!pub_ || !pub_->connected()) return;
  const std::string p = state_payload(true, facts);
  if (p.empty()) return;
  if (auto st = pub_->publish(state_topic(), p, 1, true); !st)
    log::warn(kLog, "state not published: " + st.error().message());
}

void Uplink::publish_offline(const StateFacts& facts) {
  if (!pub_ || !pub_->connected()) return;
  if (auto st = pub_->publish(state_topic(), state_payload(false, facts), 1, true); !st)
    log::warn(kLog, "offline state not published: " + st.error().message());
}

void Uplink::on_connection(bool up, const StateFacts& facts) {
  if (!up) return;
  sent_upto_ = 0;  // everything unacked goes again on a new connection
  resend_deadline_.reset();
  publish_state(facts);
  flush();
}

void Uplink::flush() {
  if (!outbox_ || !pub_ || !pub_->connected()) return;
  const int64_t now = clock_.steady_ms();
  if (resend_deadline_ && now >= *resend_deadline_) {
    if (sent_upto_ > 0) log::debug(kLog, "no ack within resend_s: republishing unacked records");
    sent_upto_ = 0;
    resend_deadline_.reset();
  }
  for (int i = 0; i < kMaxBatchesPerFlush; ++i) {
    auto recs = outbox_->pending(sent_upto_, kBatchRecords);
    if (!recs) {
      log::error(kLog, "outbox: " + recs.error().message());
      return;
    }
    if (recs->empty()) return;
    std::size_t n = recs->size();
    std::string wire;
    for (;;) {
      proto::EventBatch batch{cfg_.id, boot_,
                              std::vector<proto::Record>(recs->begin(), recs->begin() + static_cast<std::ptrdiff_t>(n))};
      wire = seal(proto::encode(batch), "batch");
      if (wire.empty()) return;
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

void Uplink::reject(const std::string& why) {
  ++rejected_;
  log::warn(kLog, "rejected ack: " + why);
}

void Uplink::handle_ack(const std::string& payload) {
  if (!outbox_) return;
  auto env = proto::open(payload);
  if (!env) return reject(env.error().message());
  if (env->kid != proto::kServerKid) return reject("signed by \"" + env->kid + "\", not the server");
  const bool authentic = env->alg == proto::Auth::mac ? (link_ && proto::verify_mac(*env, link_->down))
                                                      : (server_key_ && proto::verify(*env, *server_key_));
  if (!authentic) return reject("bad signature or MAC (forged?)");
  auto ack = proto::decode_ack(env->body);
  if (!ack) return reject(ack.error().message());
  if (ack->terminal != cfg_.id) return reject("for terminal " + ack->terminal);
  auto last = outbox_->last_seq();
  if (!last) return log::error(kLog, "outbox: " + last.error().message());
  if (ack->seq > *last)
    return reject("seq " + std::to_string(ack->seq) + " beyond the last assigned " + std::to_string(*last));
  auto n = outbox_->ack(ack->seq);
  if (!n) return log::error(kLog, "outbox prune failed: " + n.error().message());
  if (*n > 0) log::debug(kLog, "ack " + std::to_string(ack->seq) + ": pruned " + std::to_string(*n));
  sent_upto_ = std::max(sent_upto_, ack->seq);
  auto depth = outbox_->depth();
  if (depth && *depth == 0) {
    resend_deadline_.reset();
  } else if (*n > 0) {
    resend_deadline_ = clock_.steady_ms() + int64_t{cfg_.resend_s} * 1000;  // progress: wait again
    flush();  // a backlog drains at the pace of acks, not of the tick
  }
}

}  // namespace lg::terminal
