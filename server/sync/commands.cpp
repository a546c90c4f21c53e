#include "server/sync/commands.hpp"

#include "labgate/common/log.hpp"
#include "server/core/errors.hpp"
#include "server/sync/service.hpp"

namespace lg::server {

namespace {
constexpr std::string_view kLog = "commands";
}

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

CommandService::CommandService(terminals::Store& terminals, const crypto::PrivateKey& key, std::string site,
                               Publisher& publisher, SyncService* sync)
    : terminals_(terminals), key_(key), site_(std::move(site)), publisher_(publisher), sync_(sync) {}

Result<proto::Command> CommandService::send(const std::string& terminal, proto::CommandKind kind, int64_t now_ms,
                                            int64_t ttl_ms, std::map<std::string, std::string> args) {
  if (ttl_ms <= 0 || ttl_ms > proto::kMaxCommandLifetimeMs)
    return Error::invalid("ttl: between 1 ms and 24 h");
  auto t = terminals_.get(terminal);
  if (!t) return t.error();
  if (!t->has_value()) return domain_error(Errc::not_found, "terminal " + terminal + " is not enrolled");
  proto::Command c = sync::make_command(crypto::uuid7(), terminal, kind, now_ms, ttl_ms, std::move(args));
  auto sealed = proto::seal(proto::encode(c), proto::kServerKid, key_);
  if (!sealed) return sealed.error();
  LG_TRY(publisher_.publish(proto::topic(site_, terminal, proto::Channel::cmd), *sealed, 1, false));
  log::info(kLog, terminal + ": sent " + proto::to_string(kind) + " command " + c.id);
  if (kind == proto::CommandKind::resync && sync_) {
    // The terminal writes the next bundle again: publish it (retained, the stored one).
    if (auto v = sync_->refresh(terminal, now_ms, true); !v)
      log::warn(kLog, terminal + ": bundle not republished after resync: " + v.error().message());
  }
  return c;
}

Result<proto::CommandResult> CommandService::on_result(const std::string& topic, const std::string& payload) {
  auto parts = proto::parse_topic(topic);
  if (!parts || parts->site != site_ || parts->channel != proto::Channel::cmdres)
    return Error::invalid("not a cmdres topic of site " + site_);
  auto env = proto::open(payload);
  if (!env) return env.error();
  if (env->kid != parts->terminal) return Error::invalid("kid '" + env->kid + "' on topic of " + parts->terminal);
  auto t = terminals_.get(parts->terminal);
  if (!t) return t.error();
  if (!t->has_value()) return Error::invalid("terminal " + parts->terminal + " is not enrolled");
  auto pub = crypto::PublicKey::from_pem((*t)->public_key);
  if (!pub) return pub.error();
  bool ok = false;
  if (env->alg == proto::Auth::mac) {
    auto link = proto::link_keys(key_, *pub, site_, parts->terminal);
    ok = link && proto::verify_mac(*env, link->up);
  } else {
    ok = proto::verify(*env, *pub);
  }
  if (!ok) return Error::invalid("cmdres of " + parts->terminal + " does not verify");
  auto res = proto::decode_command_result(env->body);
  if (!res) return res.error();
  if (res->terminal != parts->terminal) return Error::invalid("cmdres of terminal " + res->terminal);
  const std::string line = parts->terminal + ": command " + (res->id.empty() ? "?" : res->id) + " " +
                           proto::to_string(res->outcome) + (res->reason.empty() ? "" : " (" + res->reason + ")");
  if (res->outcome == proto::CommandOutcome::refused || res->outcome == proto::CommandOutcome::failed)
    log::warn(kLog, line);
  else
    log::info(kLog, line);
  std::lock_guard<std::mutex> lock(mutex_);
  last_[parts->terminal] = *res;
  return *res;
}

std::optional<proto::CommandResult> CommandService::last_result(const std::string& terminal) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = last_.find(terminal);
  if (it == last_.end()) return std::nullopt;
  return it->second;
}

}  // namespace lg::server
