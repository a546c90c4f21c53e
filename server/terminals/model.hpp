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
/// The name of the lock that one terminal's writes queue on, on every node: its evt groups
/// (usage::Service::commit_group) and its state updates. On PostgreSQL it is an advisory lock
/// taken before the transaction, so two of them never overlap and never fail each other's
/// SERIALIZABLE check on the terminal's row (a herd's birth states came in the middle of every
/// long group commit and made it fail twelve times in a row).
inline std::string lock_key(std::string_view terminal) { return "terminal:" + std::string(terminal); }

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
  /// Retired (DELETE): kept with its records; its bundle says the instrument is disabled, so it
  /// opens for admins only from its next sync (and, offline, when its grace ends).
  std::optional<int64_t> retired_ms{};
  /// Which device holds the id: 1 at the first enrolment, one more at each re-enrolment (a
  /// replaced device). Its sequence numbers start again and are told apart by the epoch.
  uint64_t epoch = 1;
  /// Revoked (labgatectl terminal revoke): its certificates are on the CRL, the broker denies it
  /// every topic and the server refuses its messages, until a new device enrols under the id.
  std::optional<int64_t> revoked_ms{};
  std::string revoke_reason;
};

/// A one-time enrolment token as stored: only the SHA-256 of the secret.
struct EnrolToken {
  std::string hash;      ///< sha256 hex of the token text
  std::string terminal;  ///< the id the device will get (its certificate's CN)
  std::string resource;  ///< the instrument or door it serves
  int64_t created_ms = 0;
  int64_t expires_ms = 0;
  std::optional<int64_t> used_ms{};
  std::string created_by;  ///< who issued it (the audit actor)
};

/// A certificate the site CA issued to a terminal.
struct CertRecord {
  uint64_t serial = 0;
  std::string terminal;
  uint64_t epoch = 0;
  int64_t issued_ms = 0;
  int64_t not_after_ms = 0;
  std::optional<int64_t> revoked_ms{};
  std::string reason;  ///< why revoked: "revoked: <who said why>", "superseded" (the device was replaced)
};

/// What an enrolment did.
struct Enrolled {
  Terminal terminal;                   ///< as stored after it (epoch, resource, key)
  bool replaced = false;               ///< the id was enrolled before: a new device, a new epoch
  /// The first sequence number the new device uses: one above the highest the server holds for
  /// the id, so that its records never collide with the earlier device's (server/terminals/rules.hpp).
  uint64_t seq_start = 1;
  std::vector<uint64_t> superseded{};  ///< the earlier device's certificates, now revoked
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
  /// No bundle has been built for the device that holds the id now (enrolled, or re-enrolled as a
  /// new device, since the last one): the bundle's card digests are keyed by the device's key, so
  /// whatever version the device reports, it needs one built for it.
  bool bundle_stale = false;
};

}  // namespace lg::server
