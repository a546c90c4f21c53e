// The terminal agent's logic: swipes, sessions, recovery, outbox publishing, sync and acks.
// It owns no threads and no sockets: time, relay, meter, MQTT publishing and timers come in
// through small interfaces, so unit tests drive it directly and the runner (runner.cpp) wires
// it to Boost.Asio, libmodbus and Paho. Every method runs on one thread (the event loop).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "labgate/common/board.hpp"
#include "labgate/common/crypto.hpp"
#include "labgate/common/mqtt.hpp"
#include "labgate/common/protocol.hpp"
#include "labgate/common/result.hpp"

#include "decision.hpp"
#include "relay.hpp"
#include "store.hpp"

namespace lg::terminal {

/// Wall and monotonic time, and what the kernel says about them.
class Clock {
 public:
  virtual ~Clock() = default;
  /// UTC wall clock, ms.
  virtual int64_t now_ms() = 0;
  /// Monotonic clock, ms.
  virtual int64_t steady_ms() = 0;
  /// Kernel boot id (monotonic readings are comparable only within one boot).
  virtual std::string boot_id() = 0;
  /// Whether the wall clock is NTP-synced.
  virtual bool synced() = 0;
};

/// The system clock (lg::time).
class SystemClock : public Clock {
 public:
  int64_t now_ms() override;
  int64_t steady_ms() override;
  std::string boot_id() override;
  bool synced() override;
};

/// Where the agent publishes (an lg::mqtt::Client in production).
class Publisher {
 public:
  virtual ~Publisher() = default;
  /// True while connected to the broker.
  virtual bool connected() const = 0;
  /// Queues one publish; fails at once when not connected.
  virtual Status publish(const std::string& topic, const std::string& payload, int qos, bool retained) = 0;
};

/// Runs a callback later on the agent's thread.
class Scheduler {
 public:
  virtual ~Scheduler() = default;
  /// Calls fn after ms milliseconds.
  virtual void after(int64_t ms, std::function<void()> fn) = 0;
};

struct AgentSettings {
  std::string id;
  std::string site;
  std::string resource;
  std::string firmware = "0.1.0";
  board::Board board;
  std::string output;  ///< the board output switched on grant
  board::FailMode fail_mode = board::FailMode::closed;
  int heartbeat_s = 30;
  int resend_s = 5;
};

/// The answer to one swipe, also written to the card socket as one JSON line.
struct SwipeReply {
  std::string card;
  proto::Decision decision = proto::Decision::denied;
  proto::Reason reason = proto::Reason::unknown_card;
  std::string user;
  std::string session;
  std::string action = "none";  ///< start | end | pulse | none
  std::string error;            ///< set instead of a decision when the line was unusable
  /// {"card":..,"decision":..,"reason":..,"user":..,"session":..,"action":..} or {"card":..,"error":..}.
  std::string to_json() const;
};

class Agent {
 public:
  /// The agent takes the opened store and keys; coils, meter (nullptr = no metering), clock
  /// and scheduler must outlive it.
  Agent(AgentSettings settings, Store store, crypto::PrivateKey key,
        std::optional<crypto::PublicKey> server_key, Coils& coils, EnergyMeter* meter, Clock& clock,
        Scheduler& scheduler);

  /// Start-up: bumps the boot counter, loads the cached ACL, recovers or closes open sessions,
  /// switches off a coil left on without a session. Fails only on storage errors.
  Status start();

  /// Sets (or clears) where records and state are published.
  void set_publisher(Publisher* p) { pub_ = p; }

  /// Handles one card line from a reader; returns the reply.
  SwipeReply on_card(const std::string& raw_line);

  /// Told of broker connect (true) / loss (false). On connect: birth state and a full resend.
  void on_connection(bool connected);
  /// Handles a message on the sync or ack topic (anything else is logged and dropped).
  void on_message(const mqtt::Message& m);

  /// Every second: ends sessions past their max end, publishes new records, resends unacked.
  void tick();
  /// Every heartbeat_s: checkpoints the open session, republishes state, checks the coil.
  void heartbeat();
  /// Clean stop: checkpoints the open session (the relay is left as it is, so a restart
  /// recovers the session), records the sync time if the cache is current, and publishes the
  /// offline state.
  void shutdown();

  /// The signed state message (birth when online, Last Will when not).
  std::string state_payload(bool online);
  /// Topics.
  std::string state_topic() const;
  std::string evt_topic() const;
  std::string sync_topic() const;
  std::string ack_topic() const;

  // Introspection (tests, logs).
  uint64_t boot() const { return boot_; }
  const AclSnapshot& acl() const { return acl_; }
  std::optional<int64_t> last_sync_ms() const { return last_sync_ms_; }
  const std::optional<OpenSession>& session() const { return open_; }
  bool online() const { return online_; }
  Store& store() { return store_; }
  /// Counts of rejected messages (forged/invalid acks and bundles).
  uint64_t rejected() const { return rejected_; }

 private:
  proto::Record make_record(proto::RecordBody body);
  proto::Access access_from(const DecisionResult& d, const std::string& card) const;
  /// The meter's cumulative total as read (kWh), nullopt without a meter or on a failed or
  /// invalid read (problem says why).
  std::optional<double> read_meter_kwh(std::string& problem);
  SwipeReply start_session(const std::string& card, const DecisionResult& d);
  SwipeReply pulse(const std::string& card, const DecisionResult& d);
  /// Ends the open session: Access (optional), SessionEnd and the row removal in one
  /// transaction, then the coil off. Returns false if nothing could be committed.
  bool end_session(proto::EndReason why, const std::optional<DecisionResult>& access, const std::string& card);
  void recover(OpenSession s);
  void close_crashed(const OpenSession& s, const board::Output* out, bool coil_on);
  void relay_fault(const std::string& detail);
  /// Counts a reboot's downtime left pending at recovery once the wall clock is synced.
  void settle_clock();
  /// Checkpoints the open session (wall time, synced, elapsed) in the store and in memory.
  void checkpoint_open(const char* when);
  /// After a failed switch-on: records the decision as denied output_fault plus a relay_fault
  /// alarm in one commit, dropping the open-session row written before acting (if any).
  void record_output_fault(const DecisionResult& d, const std::string& card, const std::string& detail,
                           const std::optional<std::string>& drop_session);
  const board::Output* output() const;
  bool pulse_output() const;
  void publish_state();
  void flush();
  void handle_ack(const std::string& payload);
  void handle_sync(const std::string& payload);
  void reject(const std::string& what, const std::string& why);

  AgentSettings cfg_;
  Store store_;
  crypto::PrivateKey key_;
  std::optional<crypto::PublicKey> server_key_;
  Coils& coils_;
  EnergyMeter* meter_;
  Clock& clock_;
  Scheduler& scheduler_;
  Publisher* pub_ = nullptr;

  uint64_t boot_ = 0;
  AclSnapshot acl_;
  std::optional<int64_t> last_sync_ms_;
  std::optional<OpenSession> open_;
  bool online_ = false;
  /// The current bundle was received and verified on the live broker connection: while this
  /// holds the cache is known to be current, so every heartbeat and the moment of disconnect count
  /// as a sync (otherwise an instrument online for days with an unchanged bundle would find its
  /// cache "days old" the moment the network drops). It follows from what arrived, not from the
  /// order of callbacks: the retained bundle may be delivered before the client reports itself
  /// connected (Paho subscribes inside connect), so only a connection LOSS ends it, never a connect.
  /// Heartbeats refresh the sync time only while online_: a bundle whose connection attempt
  /// failed before it was reported (no loss is reported for it either) counts on arrival, and
  /// again only once a connection is reported (normally that connection's own bundle follows).
  /// A loss reported late (after the next connection's bundle) errs on the safe side: the cache
  /// is current again with the next bundle.
  bool cache_current_ = false;
  /// Records now as the last time the cache was known current (memory and store).
  void confirm_sync(int64_t now_ms);
  uint64_t pulse_gen_ = 0;
  uint64_t rejected_ = 0;

  uint64_t sent_upto_ = 0;                    // highest seq published on this connection
  std::optional<int64_t> resend_deadline_;   // steady ms after which unacked records go again
  bool state_dirty_ = false;
};

}  // namespace lg::terminal
