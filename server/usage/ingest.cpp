#include "server/usage/ingest.hpp"

#include <algorithm>
#include <chrono>

#include <nlohmann/json.hpp>

#include "labgate/common/log.hpp"

namespace lg::server::usage {

namespace {
constexpr std::string_view kLog = "ingest";

/// Runs f() and adds its duration to h (when there is one).
template <typename F>
auto timed(metrics::Histogram* h, F&& f) {
  const auto start = std::chrono::steady_clock::now();
  auto out = f();
  if (h) h->observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return out;
}
}  // namespace

std::string classify_open_failure(const std::string& payload) {
  auto j = nlohmann::json::parse(payload, nullptr, /*allow_exceptions=*/false);
  if (j.is_object()) {
    auto v = j.find("v");
    if (v != j.end() && v->is_number() && !(v->is_number_integer() && v->get<int64_t>() == proto::kVersion)) {
      return "bad_version";
    }
  }
  return "malformed";
}

Ingest::Ingest(Service& service, Store& usage, terminals::Store& terminals, const crypto::PrivateKey& key,
               std::string site, metrics::ServerMetrics* metrics)
    : service_(service), usage_(usage), terminals_(terminals), key_(key), site_(std::move(site)) {
  if (metrics) {
    batch_seconds_ = &metrics->db_seconds.with({"commit_batch"});
    state_seconds_ = &metrics->db_seconds.with({"apply_state"});
    failures_ = &metrics->ingest_failures;
  }
}

void Ingest::reject(const std::string& topic, const std::string& reason, const std::string& detail) {
  log::warn(kLog, "rejected " + reason + " on " + topic + ": " + detail);
  if (auto s = usage_.count_rejection(reason, 1); !s) {
    log::error(kLog, "cannot count rejection " + reason + ": " + s.error().message());
  }
}

std::optional<Ingest::Authentic> Ingest::authenticate(const std::string& topic, const std::string& payload,
                                                      proto::Channel channel, std::string& reason,
                                                      std::string& detail) {
  if (payload.size() > proto::kMaxPayload) {
    reason = "oversize";
    detail = std::to_string(payload.size()) + " bytes > " + std::to_string(proto::kMaxPayload);
    return std::nullopt;
  }
  auto parts = proto::parse_topic(topic);
  if (!parts || parts->site != site_ || parts->channel != channel) {
    reason = "bad_topic";
    detail = "not a " + std::string(proto::to_string(channel)) + " topic of site " + site_;
    return std::nullopt;
  }
  auto env = proto::open(payload);
  if (!env) {
    reason = classify_open_failure(payload);
    detail = env.error().message();
    return std::nullopt;
  }
  if (env->kid != parts->terminal) {
    reason = "kid_mismatch";
    detail = "kid '" + env->kid.substr(0, proto::kMaxField) + "' on topic of terminal '" + parts->terminal + "'";
    return std::nullopt;
  }
  auto t = terminals_.get(parts->terminal);
  if (!t) {
    reason = "storage";
    detail = t.error().message();
    return std::nullopt;
  }
  if (!t->has_value()) {
    reason = "unknown_terminal";
    detail = "terminal '" + parts->terminal + "' is not enrolled";
    return std::nullopt;
  }
  const Terminal& term = **t;
  if (term.revoked_ms) {  // revoked: its messages are refused and counted, whatever they say
    reason = "revoked_terminal";
    detail = "terminal '" + term.id + "' is revoked (" + term.revoke_reason.substr(0, proto::kMaxField) + ")";
    return std::nullopt;
  }
  // Parsed keys per thread (the verify pool runs several): a key object is never shared between
  // threads, so its lazily built tables need no lock. PEM -> key.
  thread_local std::map<std::string, crypto::PublicKey> keys;
  auto it = keys.find(term.public_key);
  if (it == keys.end()) {
    auto k = crypto::PublicKey::from_pem(term.public_key);
    if (!k) {
      reason = "bad_signature";
      detail = "enrolled key of " + term.id + " unusable: " + k.error().message();
      return std::nullopt;
    }
    it = keys.emplace(term.public_key, std::move(k).value()).first;
  }
  std::string down_key;
  if (env->alg == proto::Auth::mac) {
    auto link = link_keys(term, it->second);
    if (!link) {
      reason = "bad_signature";
      detail = "no link key for " + term.id + ": " + link.error().message();
      return std::nullopt;
    }
    if (!proto::verify_mac(*env, link->up)) {
      reason = "bad_signature";
      detail = "MAC does not verify with the link key of " + term.id;
      return std::nullopt;
    }
    down_key = link->down;
  } else if (!proto::verify(*env, it->second)) {
    reason = "bad_signature";
    detail = "signature does not verify with the enrolled key of " + term.id;
    return std::nullopt;
  }
  return Authentic{std::move(parts).value(), std::move(env).value(), term, std::move(down_key)};
}

Status Ingest::attribute_pseudonyms(proto::EventBatch& batch) {
  auto user_of = [](proto::Record& r) -> std::string* {
    if (auto* a = std::get_if<proto::Access>(&r.body)) return &a->user;
    if (auto* st = std::get_if<proto::SessionStart>(&r.body)) return &st->user;
    if (auto* e = std::get_if<proto::SessionEnd>(&r.body)) return &e->user;
    return nullptr;
  };
  const std::string prefix = batch.terminal + '\n';
  std::vector<std::string> missing;
  {
    std::lock_guard<std::mutex> lock(pseudonyms_mutex_);
    for (auto& r : batch.records) {
      const std::string* u = user_of(r);
      if (u == nullptr || !proto::looks_like_pseudonym(*u)) continue;
      if (!pseudonyms_.count(prefix + *u)) missing.push_back(*u);
    }
  }
  if (!missing.empty()) {
    std::sort(missing.begin(), missing.end());
    missing.erase(std::unique(missing.begin(), missing.end()), missing.end());
    auto found = usage_.pseudonym_users(batch.terminal, missing);
    if (!found) return found.error();
    std::lock_guard<std::mutex> lock(pseudonyms_mutex_);
    for (auto& [p, user] : *found) pseudonyms_.emplace(prefix + p, std::move(user));  // never changes once issued
  }
  std::lock_guard<std::mutex> lock(pseudonyms_mutex_);
  for (auto& r : batch.records) {
    std::string* u = user_of(r);
    if (u == nullptr || !proto::looks_like_pseudonym(*u)) continue;
    // Not issued to this terminal: a directory id of that form (or a forged name), kept as sent.
    if (auto it = pseudonyms_.find(prefix + *u); it != pseudonyms_.end()) *u = it->second;
  }
  return {};
}

Result<proto::LinkKeys> Ingest::link_keys(const Terminal& t, const crypto::PublicKey& pub) {
  const std::string id = t.id + '\n' + t.public_key;
  {
    std::lock_guard<std::mutex> lock(links_mutex_);
    if (auto it = links_.find(id); it != links_.end()) return it->second;
  }
  auto keys = proto::link_keys(key_, pub, site_, t.id);  // one ECDH per enrolled key, outside the lock
  if (!keys) return keys.error();
  std::lock_guard<std::mutex> lock(links_mutex_);
  return links_.emplace(id, std::move(keys).value()).first->second;
}

template <typename Body, typename Res>
std::optional<std::pair<Ingest::Authentic, Body>> Ingest::screen(const std::string& topic, const std::string& payload,
                                                                 proto::Channel channel,
                                                                 Result<Body> (*decode)(std::string_view), Res& res) {
  std::string reason;
  std::string detail;
  auto a = authenticate(topic, payload, channel, reason, detail);
  if (!a) {
    if (reason == "storage") {
      log::error(kLog, std::string(proto::to_string(channel)) + " on " + topic + ": " + detail);
      res.verdict = Verdict::failed;
      res.reason = detail;
      if (failures_) failures_->inc();
    } else {
      reject(topic, reason, detail);
      res.reason = reason;
    }
    return std::nullopt;
  }
  res.terminal = a->terminal.id;
  auto body = decode(a->env.body);
  if (!body) {
    reject(topic, "bad_body", body.error().message());
    res.reason = "bad_body";
    return std::nullopt;
  }
  if (body->terminal != a->terminal.id) {
    reject(topic, "terminal_mismatch",
           std::string(proto::to_string(channel)) + " of terminal '" + body->terminal.substr(0, proto::kMaxField) + "'");
    res.reason = "terminal_mismatch";
    return std::nullopt;
  }
  return std::make_pair(std::move(*a), std::move(body).value());
}

std::variant<Ingest::Screened, EventResult> Ingest::screen_event(const std::string& topic, const std::string& payload) {
  EventResult res;
  auto screened = screen(topic, payload, proto::Channel::evt, &proto::decode_event_batch, res);
  if (!screened) return res;
  if (auto s = attribute_pseudonyms(screened->second); !s) {
    log::error(kLog, "evt on " + topic + ": pseudonyms not resolved, no ack: " + s.error().message());
    res.verdict = Verdict::failed;
    res.reason = s.error().message();
    if (failures_) failures_->inc();
    return res;
  }
  return Screened{topic, std::move(screened->second), std::move(screened->first.down_key)};
}

std::vector<EventResult> Ingest::commit_group(const std::vector<Screened>& group, int64_t now_ms) {
  std::vector<const proto::EventBatch*> batches;
  batches.reserve(group.size());
  for (const auto& g : group) batches.push_back(&g.batch);
  auto outs = timed(batch_seconds_, [&] { return service_.commit_group(batches, now_ms); });
  std::vector<EventResult> results(group.size());
  std::map<std::string, std::size_t> last;  // terminal -> index of its last committed batch here
  // The ack answers in kind: MACed when the terminal's last batch here came MACed, else signed.
  for (std::size_t i = 0; i < group.size(); ++i) {
    const proto::EventBatch& batch = group[i].batch;
    EventResult& res = results[i];
    res.terminal = batch.terminal;
    auto& out = outs[i];
    if (!out) {
      log::error(kLog, "commit of " + std::to_string(batch.records.size()) + " records from " + batch.terminal +
                           " failed, no ack: " + out.error().message());
      res.verdict = Verdict::failed;
      res.reason = out.error().message();
      if (failures_) failures_->inc();
      continue;
    }
    for (const auto& alarm : out->alarms) log::error(kLog, "terminal " + batch.terminal + ": " + alarm);
    log::debug(kLog, batch.terminal + ": " + std::to_string(out->inserted) + " new, " +
                         std::to_string(out->duplicates) + " duplicate, acked " + std::to_string(out->acked_seq));
    res.verdict = Verdict::accepted;
    res.outcome = *out;
    if (out->acked_seq >= 1) last[batch.terminal] = i;
  }
  // One ack per terminal and group, for the highest seq acked (acked seqs only grow).
  for (const auto& [terminal, i] : last) {
    uint64_t acked = 0;
    for (const auto& r : results) {
      if (r.terminal == terminal && r.outcome) acked = std::max(acked, r.outcome->acked_seq);
    }
    const std::string body = proto::encode(proto::Ack{terminal, acked});
    std::string wire;
    if (!group[i].ack_key.empty()) {
      wire = proto::seal_mac(body, proto::kServerKid, group[i].ack_key);
    } else {
      auto sealed = proto::seal(body, proto::kServerKid, key_);
      if (!sealed) {
        log::error(kLog, "cannot sign ack for " + terminal + ": " + sealed.error().message());
        continue;
      }
      wire = std::move(sealed).value();
    }
    results[i].ack = Outgoing{proto::topic(site_, terminal, proto::Channel::ack), std::move(wire), 1, false};
  }
  return results;
}

EventResult Ingest::on_event(const std::string& topic, const std::string& payload, int64_t now_ms) {
  auto screened = screen_event(topic, payload);
  if (auto* rejected = std::get_if<EventResult>(&screened)) return std::move(*rejected);
  std::vector<Screened> one;
  one.push_back(std::get<Screened>(std::move(screened)));
  return std::move(commit_group(one, now_ms).front());
}

StateResult Ingest::on_state(const std::string& topic, const std::string& payload, int64_t now_ms) {
  StateResult res;
  auto screened = screen(topic, payload, proto::Channel::state, &proto::decode_state, res);
  if (!screened) return res;
  const Authentic* a = &screened->first;
  const proto::State* st = &screened->second;
  auto out = timed(state_seconds_, [&] { return terminals_.apply_state(StateUpdate{*st, now_ms}); });
  if (!out) {
    log::error(kLog, "state of " + a->terminal.id + " not stored: " + out.error().message());
    res.verdict = Verdict::failed;
    if (failures_) failures_->inc();
    res.reason = out.error().message();
    return res;
  }
  res.verdict = Verdict::accepted;
  res.applied = out->applied;
  res.changed = out->changed;
  if (!out->applied) {
    log::info(kLog, a->terminal.id + ": ignored stale offline state of boot " + std::to_string(st->boot));
    return res;
  }
  // A heartbeat is routine (debug); a terminal coming, going or restarting is news (info).
  const std::string line = a->terminal.id + (st->online ? " online" : " offline") + " boot " +
                           std::to_string(st->boot) + " acl " + std::to_string(st->acl_version) + " outbox " +
                           std::to_string(st->outbox_depth);
  if (out->changed) log::info(kLog, line);
  else log::debug(kLog, line);
  // Behind the current bundle, or holding one built for another device under the id (a replaced
  // device applies the retained bundle of the one before it, whose cards it cannot look up).
  res.needs_resync = st->online && (st->acl_version < out->sync_version || out->bundle_stale);
  return res;
}

}  // namespace lg::server::usage
