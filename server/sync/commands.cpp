#include "server/sync/commands.hpp"

#include "labgate/common/json.hpp"
#include "labgate/common/log.hpp"
#include "server/core/dirty.hpp"
#include "server/core/errors.hpp"
#include "server/usage/ingest.hpp"
#include "server/usage/store.hpp"

namespace lg::server {

namespace {
constexpr std::string_view kLog = "commands";
constexpr std::size_t kMaxArgKey = 64;  // as proto::decode_command reads args
}  // namespace

proto::Command sync::make_command(std::string id, std::string terminal, proto::CommandKind kind, int64_t now_ms,
                                  int64_t ttl_ms, std::map<std::string, std::string> args) {
  proto::Command c;
  c.id = std::move(id);
  c.kind = kind;
  c.terminal = std::move(terminal);
  c.issued_ms = now_ms;
  c.expires_ms = now_ms + ttl_ms;
  c.args = std::move(args);
  return c;
}

Status sync::check_command_args(const std::map<std::string, std::string>& args) {
  if (args.size() > proto::kMaxCommandArgs)
    return Error::invalid("args: at most " + std::to_string(proto::kMaxCommandArgs) + " entries");
  for (const auto& [k, v] : args) {
    if (k.empty() || k.size() > kMaxArgKey || lg::json::has_control_chars(k))
      return Error::invalid("args: a key must be 1.." + std::to_string(kMaxArgKey) +
                            " characters without control characters");
    if (v.size() > proto::kMaxField || lg::json::has_control_chars(v))
      return Error::invalid("args." + k + ": must be a string of at most " + std::to_string(proto::kMaxField) +
                            " characters without control characters");
  }
  return {};
}

CommandService::CommandService(terminals::Store& terminals, const crypto::PrivateKey& key, std::string site,
                               Publisher& publisher, DirtySet* dirty, usage::Store* rejections)
    : terminals_(terminals),
      key_(key),
      site_(std::move(site)),
      publisher_(publisher),
      dirty_(dirty),
      rejections_(rejections) {}

Result<proto::Command> CommandService::send(const std::string& terminal, proto::CommandKind kind, int64_t now_ms,
                                            int64_t ttl_ms, std::map<std::string, std::string> args,
                                            const BeforeSend& before) {
  if (ttl_ms <= 0 || ttl_ms > proto::kMaxCommandLifetimeMs)
    return domain_error(Errc::not_allowed, "ttl: between 1 ms and 24 h");
  if (auto ok = sync::check_command_args(args); !ok) return domain_error(Errc::not_allowed, ok.error().reason);
  auto t = terminals_.get(terminal);
  if (!t) return t.error();
  if (!t->has_value()) return domain_error(Errc::not_found, "terminal: no terminal '" + terminal + "'");
  if ((*t)->revoked_ms)
    return domain_error(Errc::conflict, "terminal " + terminal +
                                            " is revoked: the broker denies it every topic, no command can reach it");
  proto::Command c = sync::make_command(crypto::uuid7(), terminal, kind, now_ms, ttl_ms, std::move(args));
  auto sealed = proto::seal(proto::encode(c), proto::kServerKid, key_);
  if (!sealed) return sealed.error();
  if (before) LG_TRY(before(c));
  if (auto s = publisher_.publish(proto::topic(site_, terminal, proto::Channel::cmd), *sealed, 1, false); !s) {
    log::warn(kLog,
              terminal + ": " + proto::to_string(kind) + " command " + c.id + " not sent: " + s.error().message());
    return domain_error(Errc::unavailable,
                        "the broker did not take the command (" + s.error().message() + "); it was not sent");
  }
  log::info(kLog, terminal + ": sent " + proto::to_string(kind) + " command " + c.id);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    last_sent_[terminal] = c;
  }
  // The terminal writes the next bundle it receives again: the sync strand publishes the stored
  // one (retained) after this command, off the request path.
  if (kind == proto::CommandKind::resync && dirty_) dirty_->republish(terminal);
  return c;
}

Error CommandService::refuse(const std::string& topic, const std::string& reason, const std::string& detail) {
  log::warn(kLog, "rejected " + reason + " on " + topic + ": " + detail);
  if (rejections_) {
    if (auto s = rejections_->count_rejection(reason, 1); !s)
      log::error(kLog, "cannot count rejection " + reason + ": " + s.error().message());
  }
  return Error::invalid(reason + ": " + detail);
}

Result<proto::CommandResult> CommandService::on_result(const std::string& topic, const std::string& payload,
                                                       int64_t now_ms) {
  if (payload.size() > proto::kMaxPayload)
    return refuse(topic, "oversize", std::to_string(payload.size()) + " bytes > " + std::to_string(proto::kMaxPayload));
  auto parts = proto::parse_topic(topic);
  if (!parts || parts->site != site_ || parts->channel != proto::Channel::cmdres)
    return refuse(topic, "bad_topic", "not a cmdres topic of site " + site_);
  auto env = proto::open(payload);
  if (!env) return refuse(topic, usage::classify_open_failure(payload), env.error().message());
  if (env->kid != parts->terminal)
    return refuse(topic, "kid_mismatch",
                  "kid '" + env->kid.substr(0, proto::kMaxField) + "' on topic of terminal '" + parts->terminal + "'");
  auto t = terminals_.get(parts->terminal);
  if (!t) return t.error();  // storage: not the message's fault, not counted
  if (!t->has_value()) return refuse(topic, "unknown_terminal", "terminal '" + parts->terminal + "' is not enrolled");
  const Terminal& term = **t;
  if (term.revoked_ms)
    return refuse(topic, "revoked_terminal",
                  "terminal '" + term.id + "' is revoked (" + term.revoke_reason.substr(0, proto::kMaxField) + ")");
  auto pub = crypto::PublicKey::from_pem(term.public_key);
  if (!pub) return refuse(topic, "bad_signature", "enrolled key of " + term.id + " unusable: " + pub.error().message());
  bool ok = false;
  if (env->alg == proto::Auth::mac) {
    auto link = proto::link_keys(key_, *pub, site_, term.id);  // one ECDH: cmdres messages are rare
    ok = link && proto::verify_mac(*env, link->up);
  } else {
    ok = proto::verify(*env, *pub);
  }
  if (!ok) return refuse(topic, "bad_signature", "cmdres of " + term.id + " does not verify with its enrolled key");
  auto res = proto::decode_command_result(env->body);
  if (!res) return refuse(topic, "bad_body", res.error().message());
  if (res->terminal != term.id)
    return refuse(topic, "terminal_mismatch", "cmdres of terminal '" + res->terminal.substr(0, proto::kMaxField) + "'");
  const std::string line = term.id + ": command " + (res->id.empty() ? "?" : res->id) + " " +
                           proto::to_string(res->outcome) + (res->reason.empty() ? "" : " (" + res->reason + ")");
  if (res->outcome == proto::CommandOutcome::refused || res->outcome == proto::CommandOutcome::failed)
    log::warn(kLog, line);
  else
    log::info(kLog, line);
  std::lock_guard<std::mutex> lock(mutex_);
  CommandAnswer a{*res, now_ms, std::nullopt};
  if (auto it = last_sent_.find(term.id); it != last_sent_.end() && it->second.id == res->id) a.kind = it->second.kind;
  last_[term.id] = std::move(a);
  return *res;
}

std::optional<CommandAnswer> CommandService::last_result(const std::string& terminal) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = last_.find(terminal);
  if (it == last_.end()) return std::nullopt;
  return it->second;
}

}  // namespace lg::server
