// Ingest at broker speed: evt messages are verified on a pool of threads (parsing and the ECDSA
// check are most of ingest's CPU) and committed in groups by one thread (one durable commit for
// every batch that arrived meanwhile), and each group's acks are coalesced per terminal and
// published after its commit. Without sockets: main.cpp feeds it from the MQTT client and gives
// it a way to publish; tests feed it directly. On PostgreSQL several committers may run, each on
// its own connection, with every terminal's batches on one of them (its advisory lock orders it
// against other nodes); SQLite has one writer, so one committer.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "server/usage/ingest.hpp"

namespace lg::server::usage {

class Pipeline {
 public:
  struct Options {
    int verify_threads = 2;      ///< threads checking envelopes and signatures
    std::size_t max_group = 256; ///< batches committed in one unit of work at most
    int committers = 1;          ///< commit threads; a terminal's batches always go to the same one
  };
  /// What the pipeline needs from its surroundings.
  struct Hooks {
    std::function<int64_t()> now;                      ///< UTC ms
    std::function<bool(const Outgoing&)> publish;      ///< sends an ack; false when not sent now
    std::function<void(int64_t)> acks_sent;            ///< n acks were published (for the counters)
    std::function<void()> done;                        ///< one submitted message is finished (health)
  };

  Pipeline(Ingest& ingest, Options o, Hooks h);
  /// Stops (see stop()).
  ~Pipeline();
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  /// Starts the verify threads and the commit thread.
  void start();
  /// Queues one evt message (any thread; never blocks on the database).
  void submit(std::string topic, std::string payload);
  /// Finishes the group being committed and ends the threads; messages still queued are dropped
  /// unacked (their terminals send them again).
  void stop();

  /// Messages waiting to be verified or committed.
  std::size_t depth() const;
  /// Groups committed so far and the batches in them (for the figures in docs/BENCHMARKS.md).
  uint64_t groups() const;
  uint64_t batches() const;

 private:
  struct Raw {
    std::string topic;
    std::string payload;
  };
  void verify_loop();
  void commit_loop(std::size_t shard);

  Ingest& ingest_;
  Options opts_;
  Hooks hooks_;

  mutable std::mutex m_;
  std::condition_variable raw_cv_;
  std::condition_variable verified_cv_;
  std::deque<Raw> raw_;
  /// Verified batches, one queue per committer (by terminal), so each terminal's batches commit
  /// in the order they were verified.
  std::vector<std::vector<Ingest::Screened>> verified_;
  std::size_t verifying_ = 0;  ///< taken from raw_, not yet in verified_ (or finished)
  bool stopping_ = false;
  uint64_t groups_ = 0;
  uint64_t batches_ = 0;
  std::vector<std::thread> verifiers_;
  std::vector<std::thread> committers_;
};

}  // namespace lg::server::usage
