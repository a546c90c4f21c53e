// Remote commands (docs/PROTOCOL.md "Remote commands"): the server signs a command with its key
// and publishes it on lg/v1/{site}/{terminal}/cmd (QoS 1, not retained); the terminal answers on
// cmdres, which the server checks like evt (topic, kid, enrolled and not revoked, MAC under the
// link's up key or the terminal's signature, body), logs and keeps (the last answer per terminal,
// in memory). A refused cmdres is counted by reason with ingest's rejections (/api/stats).
// Thread-safe: send() comes from HTTP workers while on_result() runs on the ingest strand.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "labgate/common/crypto.hpp"
#include "labgate/common/protocol.hpp"
#include "server/sync/publisher.hpp"
#include "server/terminals/store.hpp"

namespace lg::server {

class DirtySet;
namespace usage {
class Store;
}

namespace sync {
/// How long a command is valid by default.
inline constexpr int64_t kCommandTtlMs = 5LL * 60 * 1000;

/// A command for `terminal`: issued now_ms, expiring ttl_ms later, with the given id. Pure.
proto::Command make_command(std::string id, std::string terminal, proto::CommandKind kind, int64_t now_ms,
                            int64_t ttl_ms, std::map<std::string, std::string> args = {});

/// Checks a command's args as a terminal will decode them (proto::decode_command): at most
/// proto::kMaxCommandArgs entries, keys 1..64 characters, values at most proto::kMaxField, no
/// control characters. The error names the first bad entry ("args.k: ..."). Pure.
Status check_command_args(const std::map<std::string, std::string>& args);
}  // namespace sync

/// A command's last answer from a terminal, as the server received it.
struct CommandAnswer {
  proto::CommandResult result;
  int64_t received_ms = 0;                 ///< server clock (UTC) when the cmdres was taken
  std::optional<proto::CommandKind> kind;  ///< the command's kind when this server sent that id
};

class CommandService {
 public:
  /// dirty (optional): a resync marks the terminal's bundle for republishing there, so the sync
  /// strand publishes it after the command. rejections (optional): where refused cmdres messages
  /// are counted by reason (usage::Store::count_rejection). All must outlive the service.
  CommandService(terminals::Store& terminals, const crypto::PrivateKey& key, std::string site, Publisher& publisher,
                 DirtySet* dirty = nullptr, usage::Store* rejections = nullptr);

  /// Runs with the signed command just before it is published; an error stops the send (the
  /// HTTP route writes the command's audit entry here: written before acting).
  using BeforeSend = std::function<Status(const proto::Command&)>;

  /// Signs and publishes a command of `kind` for an enrolled terminal, valid ttl_ms from now_ms.
  /// Errors (core/errors.hpp): not_found for a terminal that is not enrolled, conflict for a
  /// revoked one, not_allowed for a ttl outside 1 ms..24 h or bad args, unavailable when the
  /// broker does not take it; whatever `before` returns. Returns what was sent.
  Result<proto::Command> send(const std::string& terminal, proto::CommandKind kind, int64_t now_ms,
                              int64_t ttl_ms = sync::kCommandTtlMs, std::map<std::string, std::string> args = {},
                              const BeforeSend& before = {});

  /// A message on lg/v1/{site}/{terminal}/cmdres, received at now_ms: authenticated (kid = topic
  /// terminal = body terminal, enrolled and not revoked, MAC or signature of the enrolled key),
  /// logged (INFO; an answer other than done or unsupported WARN) and kept as the terminal's last
  /// answer. A refusal is logged (WARN), counted under its reason (oversize, bad_topic,
  /// malformed, bad_version, kid_mismatch, unknown_terminal, revoked_terminal, bad_signature,
  /// bad_body, terminal_mismatch) and returned as an error starting with that reason.
  Result<proto::CommandResult> on_result(const std::string& topic, const std::string& payload, int64_t now_ms = 0);

  /// The last answer a terminal sent since this server started, if any.
  std::optional<CommandAnswer> last_result(const std::string& terminal) const;

 private:
  /// Logs and counts a refused cmdres; the error to return.
  Error refuse(const std::string& topic, const std::string& reason, const std::string& detail);

  terminals::Store& terminals_;
  const crypto::PrivateKey& key_;
  std::string site_;
  Publisher& publisher_;
  DirtySet* dirty_;
  usage::Store* rejections_;
  mutable std::mutex mutex_;
  std::map<std::string, CommandAnswer> last_;        ///< terminal -> its last answer
  std::map<std::string, proto::Command> last_sent_;  ///< terminal -> the last command sent to it
};

}  // namespace lg::server
