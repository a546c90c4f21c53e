// The terminal agent wires the parts along the path of a swipe (docs/TERMINAL.md):
//   card line -> CardUid -> decide() over the BundleCache's snapshot (acl/) -> plan_swipe() ->
//   the output's OutputSession (access/): commit, then relay -> the Uplink (uplink/) publishes.
// It owns no threads and no sockets: time, relay, meter, MQTT publishing, timers and the two task
// queues come in through small interfaces (ports.hpp), so unit tests and labgate-sim drive it
// directly and the runner (runner.cpp) wires it to Boost.Asio, libmodbus and Paho.
//
// Threads: the public methods run on the access loop (the runner's io_context thread), except
// where noted. Signing, ack and bundle verification and publishing run on the uplink worker;
// the loop only posts to it. Verified bundles come back to the loop to be applied.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "labgate/common/board.hpp"
#include "labgate/common/crypto.hpp"
#include "labgate/common/mqtt.hpp"
#include "labgate/common/protocol.hpp"
#include "labgate/common/result.hpp"

#include "access/decision.hpp"
#include "access/output_session.hpp"
#include "acl/bundle_cache.hpp"
#include "acl/commands.hpp"
#include "drivers/io.hpp"
#include "ports.hpp"
#include "store.hpp"
#include "uplink/uplink.hpp"

namespace lg::terminal {

struct AgentSettings {
  std::string id;
  std::string site;
  std::string resource;
  std::string firmware = "0.1.0";
  board::Board board;
  std::string output;  ///< the board output a swipe acts on
  board::FailMode fail_mode = board::FailMode::closed;
  int heartbeat_s = 30;
  int resend_s = 5;
  proto::Auth auth = proto::Auth::mac;  ///< how evt and state are authenticated (TerminalConfig::auth)
};

class Agent {
 public:
  /// The agent takes the opened store and keys; coils, meter (nullptr = no metering), clock
  /// and scheduler must outlive it.
  Agent(AgentSettings settings, Store store, crypto::PrivateKey key,
        std::optional<crypto::PublicKey> server_key, Coils& coils, EnergyMeter* meter, Clock& clock,
        Scheduler& scheduler);

  /// Where tasks run: `loop` is the access loop's own queue (verified bundles come back through
  /// it), `uplink` the uplink worker's. Both default to running inline (tests, labgate-sim).
  /// Set before start(); both must outlive the agent.
  void set_workers(Worker& loop, Worker& uplink);

  /// Start-up: bumps the boot counter, loads the cached ACL, recovers or closes open sessions,
  /// switches off a coil left on without a session, opens the uplink's own store connection.
  /// Fails only on storage errors.
  Status start();

  /// Sets (or clears) where records and state are published (on the uplink worker).
  void set_publisher(Publisher* p);

  /// Handles one card line from a reader; returns the reply.
  SwipeReply on_card(const std::string& raw_line);

  /// Told of broker connect (true) / loss (false). On connect: birth state and a full resend.
  void on_connection(bool connected);
  /// Handles a message on the sync, ack or cmd topic (anything else is logged and dropped): hands
  /// it to the uplink worker, which verifies it. A command (docs/PROTOCOL.md "Remote commands") is
  /// checked there (acl/commands.hpp), its id remembered in the store until it expires (a replay,
  /// also after a restart, is refused), then executed on the access loop; every command gets a
  /// cmdres, every refusal a WARN line and a count (commands_refused()).
  void on_message(const mqtt::Message& m);

  /// Every second: ends sessions past their limits, publishes new records, resends unacked.
  void tick();
  /// Every heartbeat_s: checkpoints the open session, republishes state, checks the coil.
  void heartbeat();
  /// Clean stop: checkpoints the open session (the relay is left as it is, so a restart
  /// recovers the session), records the sync time if the cache is current, and has the uplink
  /// publish the offline state.
  void shutdown();

  /// The signed state message (birth when online, Last Will when not). Signs on the caller's
  /// thread: for the Last Will at start-up, before the workers run.
  std::string state_payload(bool online);
  /// Topics.
  std::string state_topic() const;
  std::string evt_topic() const;
  std::string sync_topic() const;
  std::string ack_topic() const;
  std::string cmd_topic() const;
  std::string cmdres_topic() const;

  // Introspection (tests, logs, labgate-sim); access loop.
  uint64_t boot() const { return boot_; }
  const AclSnapshot& acl() const { return acl_.acl(); }
  std::optional<int64_t> last_sync_ms() const { return acl_.last_sync_ms(); }
  /// The open session on the swipe output.
  const std::optional<OpenSession>& session() const;
  /// The driven outputs (one OutputSession each).
  const std::vector<std::unique_ptr<OutputSession>>& outputs() const { return outputs_; }
  bool online() const { return online_; }
  /// The access loop's store connection.
  Store& store() { return store_; }
  /// Counts of rejected messages (forged/invalid acks and bundles).
  uint64_t rejected() const { return acl_.rejected() + uplink_.rejected(); }
  /// Commands refused (unsigned, bad signature, malformed, expired, not for this terminal, replayed).
  uint64_t commands_refused() const { return commands_refused_.load(); }

 private:
  OutputSession& swipe_output() { return *outputs_.front(); }
  OutputSession* output_named(const std::string& name);
  DecisionResult decide_now(const CardUid& card, int64_t now_ms, board::FailMode mode) const;
  /// Asks the uplink worker to publish what was committed.
  void request_flush();
  void request_state();
  StateFacts facts() const { return StateFacts{acl_.acl().version}; }
  /// A command that passed check_command, on the access loop: the replay check, then execution.
  void run_command(const proto::Command& c);
  /// A refused command: logged, counted, answered (any thread).
  void refuse_command(const RefusedCommand& r);
  /// Publishes a cmdres (on the uplink worker), MACed under the link's up key like evt.
  void answer_command(proto::CommandResult res);

  AgentSettings cfg_;
  Store store_;
  Coils& coils_;
  EnergyMeter* meter_;
  Clock& clock_;
  Scheduler& scheduler_;
  InlineWorker inline_;
  Worker* loop_ = &inline_;
  Worker* uplink_worker_ = &inline_;

  AccessContext ctx_;
  std::vector<std::unique_ptr<OutputSession>> outputs_;  ///< front(): the swipe output
  /// This terminal's link keys (card: the digest key of its bundle; up: its cmdres MAC), derived
  /// before the key moves into the uplink; empty without a server key.
  std::optional<proto::LinkKeys> link_;
  BundleCache acl_;
  Uplink uplink_;
  /// Where cmdres goes (the uplink worker's publisher; used on that worker only).
  Publisher* cmd_pub_ = nullptr;
  /// A resync asked that the next bundle be written again even if its version is applied.
  bool reapply_next_ = false;
  std::atomic<uint64_t> commands_refused_{0};

  uint64_t boot_ = 0;
  bool online_ = false;
  /// Connection losses seen by the loop: a bundle that arrived before the latest loss is applied
  /// but does not make the cache current (it belonged to the connection that was lost).
  uint64_t losses_ = 0;
};

}  // namespace lg::terminal
