// What the terminal's parts get from the outside world, as small interfaces: clocks, timers,
// task queues (the threads things run on) and the MQTT publisher. Production implementations are
// in runner.cpp (Asio, Paho) and ports.cpp (the system clock); unit tests and labgate-sim inject
// their own (tests/support/terminal_fakes.hpp, tools/sim/world.cpp), which is what keeps every
// part drivable without a process and the simulation deterministic.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "labgate/common/result.hpp"

namespace lg::terminal {

/// Wall and monotonic time, and what the kernel says about them. Implementations must be safe to
/// call from any thread (the access loop and the uplink worker both read it).
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

/// Runs a callback later on the access loop (the agent's thread).
class Scheduler {
 public:
  virtual ~Scheduler() = default;
  /// Calls fn after ms milliseconds.
  virtual void after(int64_t ms, std::function<void()> fn) = 0;
};

/// A queue of tasks run one at a time, in order, on one thread. post() may be called from any
/// thread. The agent has two: its own loop and the uplink worker (signing, verifying, publishing).
class Worker {
 public:
  virtual ~Worker() = default;
  /// Queues fn.
  virtual void post(std::function<void()> fn) = 0;
};

/// Runs every task at once on the caller's thread: unit tests and labgate-sim, where everything
/// is one thread and the order of events must be the order of calls.
class InlineWorker final : public Worker {
 public:
  void post(std::function<void()> fn) override { fn(); }
};

/// Where records and state are published (an lg::mqtt::Client in production). Used from the
/// uplink worker only.
class Publisher {
 public:
  virtual ~Publisher() = default;
  /// True while connected to the broker.
  virtual bool connected() const = 0;
  /// Queues one publish; fails at once when not connected.
  virtual Status publish(const std::string& topic, const std::string& payload, int qos, bool retained) = 0;
};

}  // namespace lg::terminal
