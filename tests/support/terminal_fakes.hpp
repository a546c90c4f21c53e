// In-memory stand-ins for the terminal's outside world (relay coils, energy meter, clock, timers,
// MQTT publisher), for unit tests. Production headers hold none of these.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <iterator>
#include <map>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "drivers/io.hpp"
#include "ports.hpp"

namespace lg::test {

/// In-memory coils; can be told to fail.
class FakeCoils : public terminal::Coils {
 public:
  Status write(uint16_t coil, bool on) override {
    if (fail_writes) return Error::from(std::make_error_code(std::errc::timed_out), "fake relay: write failed");
    state[coil] = on;
    ++writes;
    if (journal) journal->push_back("coil " + std::to_string(coil) + (on ? " on" : " off"));
    return {};
  }
  Result<bool> read(uint16_t coil) override {
    if (fail_reads) return Error::from(std::make_error_code(std::errc::timed_out), "fake relay: read failed");
    auto it = state.find(coil);
    return it != state.end() && it->second;
  }
  std::map<uint16_t, bool> state;
  bool fail_writes = false;
  bool fail_reads = false;
  int writes = 0;
  /// When set, every successful write appends "coil <n> on|off" (tests check the order of I/O).
  std::vector<std::string>* journal = nullptr;
};

/// In-memory meter.
class FakeMeter : public terminal::EnergyMeter {
 public:
  Result<double> total_kwh() override {
    if (journal) journal->push_back("meter read");
    if (!kwh) return Error::from(std::make_error_code(std::errc::timed_out), "fake meter: unreadable");
    return *kwh;
  }
  Result<double> power_w() override {
    if (!kwh) return Error::from(std::make_error_code(std::errc::timed_out), "fake meter: unreadable");
    return watts;
  }
  std::optional<double> kwh = 0.0;  ///< nullopt = unreadable
  double watts = 0.0;
  /// When set, every energy read appends "meter read".
  std::vector<std::string>* journal = nullptr;
};

/// A clock the test sets: wall and monotonic time, boot id, NTP state.
class FakeClock : public terminal::Clock {
 public:
  static constexpr int64_t kT0 = 1'800'000'000'000;
  int64_t wall = kT0;
  int64_t steady = 5'000'000;
  std::string boot = "boot-1";
  bool is_synced = true;
  int64_t now_ms() override { return wall; }
  int64_t steady_ms() override { return steady; }
  std::string boot_id() override { return boot; }
  bool synced() override { return is_synced; }
  /// Both clocks move on by ms.
  void advance(int64_t ms) {
    wall += ms;
    steady += ms;
  }
};

/// Timers the test fires by hand.
class FakeScheduler : public terminal::Scheduler {
 public:
  std::vector<std::pair<int64_t, std::function<void()>>> jobs;
  void after(int64_t ms, std::function<void()> fn) override { jobs.emplace_back(ms, std::move(fn)); }
  /// Runs every job queued so far (whatever its delay).
  void run_all() {
    auto j = std::move(jobs);
    jobs.clear();
    for (auto& [ms, fn] : j) fn();
  }
};

/// A task queue the test drains by hand (to see what waits on a worker).
class QueueWorker : public terminal::Worker {
 public:
  std::vector<std::function<void()>> tasks;
  void post(std::function<void()> fn) override { tasks.push_back(std::move(fn)); }
  /// Runs queued tasks (and those they queue) until none is left.
  void drain() {
    while (!tasks.empty()) {
      auto t = std::move(tasks);
      tasks.clear();
      for (auto& fn : t) fn();
    }
  }
};

/// Records what is published.
class FakePublisher : public terminal::Publisher {
 public:
  struct Msg {
    std::string topic, payload;
    int qos;
    bool retained;
  };
  bool up = true;
  std::vector<Msg> sent;
  bool connected() const override { return up; }
  Status publish(const std::string& topic, const std::string& payload, int qos, bool retained) override {
    if (!up) return Error::invalid("not connected");
    sent.push_back({topic, payload, qos, retained});
    return {};
  }
  /// The messages published on topic, in order.
  std::vector<Msg> on(const std::string& topic) const {
    std::vector<Msg> out;
    std::copy_if(sent.begin(), sent.end(), std::back_inserter(out), [&](const Msg& m) { return m.topic == topic; });
    return out;
  }
};

}  // namespace lg::test
