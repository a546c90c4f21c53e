// The "dirty resources" set: every write path (HTTP, an import, a scheduled job) marks what it
// changed; the sync service takes the set and rebuilds the affected bundles off the request
// path, coalescing many marks into one rebuild. Thread-safe.
#pragma once

#include <functional>
#include <mutex>
#include <set>
#include <string>

namespace lg::server {

class DirtySet {
 public:
  /// What changed since the last take().
  struct Batch {
    bool all = false;                 ///< users, cards or admins changed: every bundle
    std::set<std::string> resources;  ///< instruments/doors whose bundle inputs changed
    std::set<std::string> republish;  ///< terminals whose current bundle must be published again
    bool empty() const { return !all && resources.empty() && republish.empty(); }
  };

  /// Marks one resource's bundle inputs as changed.
  void mark(const std::string& resource);
  /// Marks every bundle as changed.
  void mark_all();
  /// Asks for a terminal's bundle to be published again even if unchanged (it reported an
  /// older version).
  void republish(const std::string& terminal);
  /// Takes (and clears) what was marked.
  Batch take();
  /// True when something is marked.
  bool pending() const;
  /// Called (outside the lock, on the marking thread) when the set goes from empty to non-empty,
  /// so the consumer can schedule a rebuild. Set once before use.
  void on_first_mark(std::function<void()> wake) { wake_ = std::move(wake); }

 private:
  void marked(bool was_empty);

  mutable std::mutex m_;
  Batch batch_;
  std::function<void()> wake_;
};

}  // namespace lg::server
