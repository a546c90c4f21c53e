// The uplink: everything between the terminal's outbox and the broker. It publishes committed
// records as signed EventBatches, republishes what stays unacked, verifies the server's acks and
// prunes the outbox, and reports the terminal's state (signed, retained).
//
// Threads: every method except the constructor, attach() and state_payload() before start-up
// runs on the uplink worker, a thread of its own in production (runner.cpp), so ECDSA signing
// and verification never sit in front of a swipe. It reads and prunes the outbox through its own
// SQLite connection; records reach it only after the access loop committed them (write before
// acting), and it deletes only what a verified server ack names (nothing unacked is deleted).
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>

#include "labgate/common/crypto.hpp"
#include "labgate/common/protocol.hpp"
#include "labgate/common/result.hpp"

#include "ports.hpp"
#include "store.hpp"

namespace lg::terminal {

struct UplinkSettings {
  std::string id;
  std::string site;
  std::string resource;
  std::string firmware;
  std::string board;
  int resend_s = 5;
  /// How evt and state go out: MACed under the link key (needs the server's public key; falls
  /// back to signatures without one) or signed.
  proto::Auth auth = proto::Auth::mac;
};

/// What the access loop knows and the state message reports (passed along with each request).
struct StateFacts {
  uint64_t acl_version = 0;
};

class Uplink {
 public:
  Uplink(UplinkSettings s, crypto::PrivateKey key, std::optional<crypto::PublicKey> server_key, Clock& clock);

  /// Start-up (before the worker runs): the uplink's own connection to the store and the boot
  /// counter the batches and state carry.
  void attach(Store outbox, uint64_t boot);
  /// Sets (or clears) where to publish. Call it on the worker, or while the worker is idle.
  void set_publisher(Publisher* p) { pub_ = p; }

  /// The broker connection came up (birth state, everything unacked again) or went down.
  void on_connection(bool up, const StateFacts& facts);
  /// Publishes new records (and, once resend_s passed without an ack, everything unacked).
  void flush();
  /// A message on the ack topic: verified, then the outbox is pruned up to it.
  void handle_ack(const std::string& payload);
  /// Republishes the (online) state.
  void publish_state(const StateFacts& facts);
  /// Publishes the offline state (clean stop), if connected.
  void publish_offline(const StateFacts& facts);
  /// The signed state message (birth when online, Last Will when not).
  std::string state_payload(bool online, const StateFacts& facts);

  std::string state_topic() const;
  std::string evt_topic() const;
  /// Rejected acks (any thread).
  uint64_t rejected() const { return rejected_.load(); }

 private:
  void reject(const std::string& why);
  /// Wraps body in an envelope as settings say (MAC or signature); "" if signing failed (logged).
  std::string seal(const std::string& body, std::string_view what);

  UplinkSettings cfg_;
  crypto::PrivateKey key_;
  std::optional<crypto::PublicKey> server_key_;
  std::optional<proto::LinkKeys> link_;  // derived once from our key and the server's
  Clock& clock_;
  std::optional<Store> outbox_;
  uint64_t boot_ = 0;
  Publisher* pub_ = nullptr;
  uint64_t sent_upto_ = 0;                   // highest seq published on this connection
  std::optional<int64_t> resend_deadline_;  // steady ms after which unacked records go again
  std::atomic<uint64_t> rejected_{0};
};

}  // namespace lg::terminal
