// labgate-fleet runtime: N simulated terminals on real MQTT connections to a real broker.
//
// Each simulated terminal is the terminal's own uplink (terminal/uplink/uplink.hpp: batching up
// to 200 records, signing with the terminal's key, republishing what stays unacked after
// resend_s or a reconnect, verifying the server's signed acks and pruning) over the terminal's
// own outbox store (terminal/store.hpp) kept in memory (":memory:": no fsync, so the fleet's own
// disk never paces the benchmark), fed by Traffic (traffic.hpp). What differs from a real
// terminal: no relay, meter or card reader; records come from the traffic generator.
//
// Threads: terminals are spread over `workers` shard threads; everything a terminal does (its
// traffic, uplink, acks, sync bundles, timers) runs on its shard, so a terminal needs no locks.
// Paho's callback thread only routes messages to shards. `per_connection` terminals share one
// MQTT connection (1 = one connection per terminal, like real terminals, with a Last Will each).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "labgate/common/crypto.hpp"
#include "labgate/common/result.hpp"

#include "traffic.hpp"

namespace lg::fleet {

struct Options {
  Layout layout;
  std::string keys_dir;  ///< <id>.key per terminal; created when missing
  std::string mqtt_uri = "tcp://127.0.0.1:1883";
  std::string site = "test";
  std::string server_pub;   ///< server public key PEM file (acks and bundles are verified)
  int per_connection = 1;   ///< terminals per MQTT connection
  int workers = 2;          ///< shard threads
  int resend_s = 5;         ///< the terminal's resend_s
  int heartbeat_s = 30;     ///< state republished this often (0: only on connect)
  int keepalive_s = 30;     ///< MQTT keepalive
  int duplicate_every = 0;  ///< publish every Nth evt batch twice (a QoS 1 redelivery); 0 = never
  std::string state_file;   ///< per-terminal seq and boot carried between runs ("" = fresh)
  TrafficShape shape;
  int64_t history_ms = 0;  ///< the first record lies this far in the past (simulated time)
  uint64_t seed = 1;
};

/// Nearest-rank percentiles of a sample, in the unit it was given in.
struct Percentiles {
  std::size_t n = 0;
  double p50 = 0, p95 = 0, p99 = 0, max = 0, mean = 0;
  nlohmann::json to_json(int digits = 1) const;
};
Percentiles percentiles(std::vector<double> v);

/// CPU time of one process from /proc/<pid>/stat (utime + stime), in clock ticks; -1 if gone.
int64_t cpu_ticks(int pid);
/// Busy and total jiffies of the whole machine from /proc/stat (all CPUs).
std::pair<int64_t, int64_t> machine_jiffies();

/// Microseconds on the steady clock.
int64_t now_us();

/// Loads (or creates, in parallel, and caches in dir) the keys of terminals 0..n-1.
Result<std::vector<crypto::PrivateKey>> load_keys(const Layout& layout, const std::string& dir, int threads);

class Fleet {
 public:
  /// Loads keys and the server key, builds every terminal's store and uplink (nothing connects).
  static Result<std::unique_ptr<Fleet>> create(Options opts);
  ~Fleet();
  Fleet(const Fleet&) = delete;
  Fleet& operator=(const Fleet&) = delete;

  int terminals() const;
  int connections() const;

  /// Opens every connection at once (a herd); returns when all are up, or fails after timeout_s.
  Status connect(int timeout_s);
  /// Waits until every terminal applied a verified sync bundle from the server.
  Status wait_synced(int timeout_s);
  /// The network goes: every connection is dropped (clean disconnect). Records keep coming.
  void disconnect();

  /// Steady traffic: each terminal commits `batch` records every interval_ms and flushes, first
  /// ones spread evenly over the first interval, until steady-clock µs `until_us`.
  void start_steady(int64_t interval_ms, int batch, int64_t until_us);
  /// Commits `records` new records to each terminal's outbox (flushed at once if connected).
  void add_records(int records);
  /// While disconnected: each terminal's uplink seals its whole backlog now (the envelopes it
  /// would publish on reconnect, as the broker baseline builds its own untimed), and on the next
  /// connect the terminal publishes its birth state and those envelopes, 8 in flight, the next
  /// as acks come. The drain then measures the server, not the simulator's sealing.
  void preseal();
  /// Blocks until every record assigned so far is acked, or timeout; false on timeout. Calls
  /// every_5s (if set) every 5 s while waiting.
  bool wait_acked(int timeout_s, const std::function<void()>& every_5s = {});
  /// One line: records assigned and acked, batches published and republished, connections up.
  std::string progress() const;
  /// Records assigned and not yet acked, over all terminals.
  uint64_t unacked() const;

  /// Broker baseline: the same sealed batches as `add_records(records)` would produce, published
  /// on fleet/raw/<site>/<terminal> over the same connections (8 in flight per terminal, the
  /// terminal's flush window), to one plain QoS 1 subscriber that counts them. Returns results.
  Result<nlohmann::json> broker_baseline(int records, int timeout_s);

  /// Everything measured so far, for batches first published within [from_us, to_us]
  /// (0, 0 = all): counts, latencies, resends, rejects, sync bundles, records by kind.
  nlohmann::json results(int64_t from_us, int64_t to_us) const;
  /// Steady µs of the first evt publish and of the last ack (0 if none).
  int64_t first_publish_us() const;
  int64_t last_ack_us() const;

  /// Writes every terminal's last seq and boot to the state file (if one was given).
  Status save_state() const;
  /// Stops timers, workers and connections.
  void stop();

  struct Impl;

 private:
  explicit Fleet(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace lg::fleet
