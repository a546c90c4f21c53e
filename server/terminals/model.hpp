// Enrolled terminals and what their state messages report. Plain data.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "labgate/common/protocol.hpp"

namespace lg::server {

/// A terminal as enrolled plus what its last state message and the ingest told us.
struct Terminal {
  std::string id;
  std::string resource;
  std::string public_key;  ///< PEM
  bool online = false;
  uint64_t boot = 0;
  std::string firmware;
  std::string board;
  uint64_t acl_version = 0;
  uint64_t sync_version = 0;
  uint64_t outbox_depth = 0;
  bool clock_synced = false;
  uint64_t acked_seq = 0;
  std::optional<int64_t> last_seen_ms;
};

/// Terminal state as reported on the state topic.
struct StateUpdate {
  proto::State state;
  int64_t seen_ms = 0;
};

/// What applying a state message did.
struct StateOutcome {
  bool applied = false;  ///< false when ignored as stale (offline Will from an older boot)
  bool changed = false;  ///< online, boot, firmware or board differ from what was stored
  uint64_t sync_version = 0;
};

}  // namespace lg::server
