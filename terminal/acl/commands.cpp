#include "acl/commands.hpp"

namespace lg::terminal {

const char* to_string(CommandRefusal r) {
  switch (r) {
    case CommandRefusal::unsigned_: return "unsigned";
    case CommandRefusal::bad_signature: return "bad_signature";
    case CommandRefusal::malformed: return "malformed";
    case CommandRefusal::expired: return "expired";
    case CommandRefusal::not_for_me: return "not_for_me";
    case CommandRefusal::replayed: return "replayed";
  }
  return "?";
}

namespace {
/// The id of an unverified body, for the refusal's answer only ("" when there is none).
std::string id_of(std::string_view body) {
  auto c = proto::decode_command(body);
  return c ? c->id : std::string();
}
}  // namespace

std::variant<proto::Command, RefusedCommand> check_command(const std::string& payload,
                                                           const std::optional<crypto::PublicKey>& server_key,
                                                           const std::string& terminal, int64_t now_ms) {
  auto env = proto::open(payload);
  if (!env) return RefusedCommand{CommandRefusal::unsigned_, "", "not a signed envelope: " + env.error().message()};
  if (env->alg != proto::Auth::signature)
    return RefusedCommand{CommandRefusal::unsigned_, id_of(env->body),
                          std::string("alg ") + proto::to_string(env->alg) + ": commands must be es256 by the server"};
  if (env->kid != proto::kServerKid)
    return RefusedCommand{CommandRefusal::bad_signature, id_of(env->body), "signed by \"" + env->kid + "\""};
  if (!server_key || !proto::verify(*env, *server_key))
    return RefusedCommand{CommandRefusal::bad_signature, id_of(env->body), "signature does not verify with server.pub"};
  auto cmd = proto::decode_command(env->body);
  if (!cmd) return RefusedCommand{CommandRefusal::malformed, "", cmd.error().message()};
  if (cmd->terminal != terminal)
    return RefusedCommand{CommandRefusal::not_for_me, cmd->id, "for terminal " + cmd->terminal};
  if (now_ms >= cmd->expires_ms) return RefusedCommand{CommandRefusal::expired, cmd->id, "expired"};
  return std::move(*cmd);
}

}  // namespace lg::terminal
