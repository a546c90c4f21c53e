// The cached sync bundle: verifying a bundle (off the access loop), applying it (on it), and when
// the cache counts as current (docs/TERMINAL.md "Outbox, MQTT, sync").
//
// Threads: verify() needs only the server key and this terminal's ids, so it runs on the uplink
// worker (an ECDSA verify costs ~2 ms, which must not sit in front of a swipe). Everything else
// runs on the access loop, which owns the snapshot the decisions read.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>

#include "labgate/common/crypto.hpp"
#include "labgate/common/protocol.hpp"
#include "labgate/common/result.hpp"

#include "acl/snapshot.hpp"
#include "store.hpp"

namespace lg::terminal {

class BundleCache {
 public:
  /// `store` is the access loop's connection; card_key is this terminal's LinkKeys::card ("" when
  /// it has no server key: then no bundle verifies either).
  BundleCache(std::string terminal, std::string resource, std::optional<crypto::PublicKey> server_key,
              std::string card_key, Store& store);

  /// Start-up: loads the applied bundle and the last sync time. A cache written before card
  /// digests (card_form uid) is turned into digests in place first, so no uid stays on disk.
  Status load();

  /// Opens a message from the sync topic and checks it: server-signed, for this terminal and
  /// resource, cards in a form it reads (hmac-sha256-128, or the legacy uid form, which it turns
  /// into digests here: docs/PROTOCOL.md). nullopt for an empty (deleted) retained message or a
  /// rejected one (logged with the reason and counted; the applied bundle stays). Safe on any
  /// thread.
  std::optional<proto::SyncBundle> verify(const std::string& payload);

  /// Applies a verified bundle (access loop). `live` = no connection loss was seen since it
  /// arrived: only then does it make the cache current. A newer version replaces grants,
  /// bookings and policy in one transaction; the same version refreshes the sync time; an older
  /// one is ignored. reapply (a resync command): the same version is written again too. Returns
  /// true when the applied version changed or was written again.
  bool apply(const proto::SyncBundle& b, bool live, int64_t now_ms, bool reapply = false);

  /// The broker connection came up (true) or was lost (false); was_online = it was up before.
  void on_connection(bool up, bool was_online, int64_t now_ms);
  /// Heartbeat or clean stop: the cache was known current until now when it is current and the
  /// connection is reported up.
  void still_current(bool online, int64_t now_ms);

  const AclSnapshot& acl() const { return acl_; }
  /// The server's public key (bundles and commands are checked with it); empty if not configured.
  const std::optional<crypto::PublicKey>& server_key() const { return server_key_; }
  std::optional<int64_t> last_sync_ms() const { return last_sync_ms_; }
  bool current() const { return current_; }
  /// Rejected bundles (any thread).
  uint64_t rejected() const { return rejected_.load(); }

 private:
  void reject(const std::string& why);
  /// Records now as the last time the cache was known current (memory and store).
  void confirm_sync(int64_t now_ms);

  const std::string terminal_;
  const std::string resource_;
  const std::optional<crypto::PublicKey> server_key_;
  const std::string card_key_;
  Store& store_;
  AclSnapshot acl_;
  std::optional<int64_t> last_sync_ms_;
  /// The current bundle was received and verified on the live broker connection: while this
  /// holds the cache is known to be current, so every heartbeat and the moment of disconnect count
  /// as a sync (otherwise an instrument online for days with an unchanged bundle would find its
  /// cache "days old" the moment the network drops). It follows from what arrived, not from the
  /// order of callbacks: the retained bundle may be delivered before the client reports itself
  /// connected (Paho subscribes inside connect), so only a connection LOSS ends it, never a connect.
  /// Heartbeats refresh the sync time only while online: a bundle whose connection attempt
  /// failed before it was reported (no loss is reported for it either) counts on arrival, and
  /// again only once a connection is reported (normally that connection's own bundle follows).
  /// A loss reported late (after the next connection's bundle) errs on the safe side: the cache
  /// is current again with the next bundle.
  bool current_ = false;
  std::atomic<uint64_t> rejected_{0};
};

}  // namespace lg::terminal
