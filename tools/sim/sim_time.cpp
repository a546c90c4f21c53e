#include "sim_time.hpp"

namespace lg::sim {

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

int64_t Rng::between(int64_t lo, int64_t hi) {
  if (hi <= lo) return lo;
  const uint64_t span = static_cast<uint64_t>(hi - lo) + 1;
  return lo + static_cast<int64_t>(below(span));
}

bool Rng::chance(double p) {
  if (p <= 0) return false;
  if (p >= 1) return true;
  const double u = static_cast<double>(g_() >> 11) * 0x1.0p-53;
  return u < p;
}

void EventQueue::at(int64_t t, Fn fn) {
  if (t < now_) t = now_;
  q_.emplace(std::make_pair(t, next_id_++), std::move(fn));
}

void EventQueue::advance(int64_t to) {
  if (to <= now_) return;
  if (on_advance) on_advance(now_, to);
  now_ = to;
}

void EventQueue::run_until(int64_t t, const std::function<bool()>& stop) {
  while (!q_.empty()) {
    auto it = q_.begin();
    if (it->first.first > t) break;
    advance(it->first.first);
    Fn fn = std::move(it->second);
    q_.erase(it);
    fn();
    if (stop && stop()) return;
  }
  advance(t);
}

}  // namespace lg::sim
