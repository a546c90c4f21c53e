// Virtual time and seeded randomness for labgate-sim: one event queue that owns "now", and a
// pseudo-random stream whose draws depend only on the seed. Nothing here reads a real clock or
// an entropy source, so a seed replays the same run.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <random>
#include <utility>
#include <vector>

namespace lg::sim {

/// SplitMix64: turns one 64-bit value into a well-mixed one (seeds for derived streams).
uint64_t splitmix64(uint64_t x);

/// A seeded stream (std::mt19937_64) with the few draws the simulation needs. It uses no
/// std:: distributions (their output is implementation-defined), so the draws are the same
/// with every standard library.
class Rng {
 public:
  explicit Rng(uint64_t seed) : g_(splitmix64(seed)) {}

  /// The next raw 64-bit draw.
  uint64_t next() { return g_(); }
  /// Uniform in [0, n); 0 when n == 0.
  uint64_t below(uint64_t n) { return n == 0 ? 0 : g_() % n; }
  /// Uniform in [lo, hi] (lo when hi <= lo).
  int64_t between(int64_t lo, int64_t hi);
  /// True with probability p (never for p <= 0, always for p >= 1).
  bool chance(double p);
  /// A seed for an independent stream (so adding draws to one part of the simulation does not
  /// shift the draws of another).
  uint64_t fork() { return splitmix64(g_()); }
  /// One element of a non-empty vector.
  template <typename T>
  const T& pick(const std::vector<T>& v) {
    return v[below(v.size())];
  }

 private:
  std::mt19937_64 g_;
};

/// Virtual time in milliseconds since the start of the run, and the events due at given times.
/// Events run in (time, scheduling order); an event may schedule more events, also for "now".
class EventQueue {
 public:
  using Fn = std::function<void()>;

  /// Current virtual time (ms since the start of the run).
  int64_t now() const { return now_; }
  /// Schedules fn at virtual time t (clamped to now).
  void at(int64_t t, Fn fn);
  /// Schedules fn ms from now (negative counts as 0).
  void after(int64_t ms, Fn fn) { at(now_ + (ms > 0 ? ms : 0), std::move(fn)); }
  /// Runs every event due at or before t in order, then sets now to t. Stops early (leaving now
  /// at the time of the last event run) as soon as stop() returns true after an event.
  void run_until(int64_t t, const std::function<bool()>& stop = {});
  /// Number of events waiting.
  std::size_t size() const { return q_.size(); }

  /// Called with the new time whenever time is about to move forward (before the events due
  /// then run); the simulation uses it to integrate the meters' energy.
  std::function<void(int64_t from, int64_t to)> on_advance;

 private:
  void advance(int64_t to);
  int64_t now_ = 0;
  uint64_t next_id_ = 0;
  std::map<std::pair<int64_t, uint64_t>, Fn> q_;
};

}  // namespace lg::sim
