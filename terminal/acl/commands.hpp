// Remote commands (docs/PROTOCOL.md "Remote commands"): checking a message from the terminal's
// cmd topic. Pure: the server key, this terminal's id and the time come in as parameters; the
// replay check (ids executed, kept in the store until they expire) is the agent's.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>

#include "labgate/common/crypto.hpp"
#include "labgate/common/protocol.hpp"

namespace lg::terminal {

/// Why a command is refused before anything is executed (the cmdres reason).
enum class CommandRefusal { unsigned_, bad_signature, malformed, expired, not_for_me, replayed };

/// The reason as cmdres and the logs spell it: "unsigned", "bad_signature", "malformed",
/// "expired", "not_for_me", "replayed".
const char* to_string(CommandRefusal r);

/// A refused command: why, what could be read of its id ("" if nothing), and a detail for the log.
struct RefusedCommand {
  CommandRefusal reason = CommandRefusal::malformed;
  std::string id;
  std::string detail;
};

/// Checks a cmd payload: an es256 envelope (anything else: unsigned) from kid "server" whose
/// signature verifies with server_key (else bad_signature), a valid cmd body (malformed), for
/// `terminal` (not_for_me), not expired at now_ms (expired). Replays are not checked here.
std::variant<proto::Command, RefusedCommand> check_command(const std::string& payload,
                                                           const std::optional<crypto::PublicKey>& server_key,
                                                           const std::string& terminal, int64_t now_ms);

}  // namespace lg::terminal
