// Remote commands (docs/PROTOCOL.md "Remote commands"): the server signs a command with its key
// and publishes it on lg/v1/{site}/{terminal}/cmd (QoS 1, not retained); the terminal answers on
// cmdres, which the server checks like evt (MAC under the link's up key, or the terminal's
// signature), logs and keeps (the last answer per terminal, in memory).
// Thread-safe: send() may come from an HTTP handler while on_result() runs on the MQTT thread.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "labgate/common/crypto.hpp"
#include "labgate/common/protocol.hpp"
#include "server/sync/publisher.hpp"
#include "server/terminals/store.hpp"

namespace lg::server {

class SyncService;

namespace sync {
/// How long a command is valid by default.
inline constexpr int64_t kCommandTtlMs = 5LL * 60 * 1000;

/// A command for `terminal`: issued now_ms, expiring ttl_ms later, with the given id. Pure.
proto::Command make_command(std::string id, std::string terminal, proto::CommandKind kind, int64_t now_ms,
                            int64_t ttl_ms, std::map<std::string, std::string> args = {});
}  // namespace sync

class CommandService {
 public:
  /// sync (optional): republishes the terminal's bundle after a resync command, so the terminal
  /// has a bundle to apply again. All must outlive the service.
  CommandService(terminals::Store& terminals, const crypto::PrivateKey& key, std::string site, Publisher& publisher,
                 SyncService* sync = nullptr);

  /// Signs and publishes a command of `kind` for an enrolled terminal (not_found otherwise),
  /// valid ttl_ms from now_ms (at most proto::kMaxCommandLifetimeMs). Returns what was sent.
  Result<proto::Command> send(const std::string& terminal, proto::CommandKind kind, int64_t now_ms,
                              int64_t ttl_ms = sync::kCommandTtlMs, std::map<std::string, std::string> args = {});

  /// A message on lg/v1/{site}/{terminal}/cmdres: authenticated (kid = topic terminal = body
  /// terminal, MAC or signature of the enrolled key), logged (INFO; a refusal WARN) and kept as
  /// the terminal's last result. An error says why it was not taken.
  Result<proto::CommandResult> on_result(const std::string& topic, const std::string& payload);

  /// The last result a terminal sent, if any.
  std::optional<proto::CommandResult> last_result(const std::string& terminal) const;

 private:
  terminals::Store& terminals_;
  const crypto::PrivateKey& key_;
  std::string site_;
  Publisher& publisher_;
  SyncService* sync_;
  mutable std::mutex mutex_;
  std::map<std::string, proto::CommandResult> last_;
};

}  // namespace lg::server
