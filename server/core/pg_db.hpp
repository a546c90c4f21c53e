// The PostgreSQL backend's database: one connection per thread, every area migrated at open
// (under an advisory lock, so several nodes may start at once), and the unit of work as a
// SERIALIZABLE transaction that is run again when it loses a race to another node or thread.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "server/core/pg.hpp"
#include "server/core/schema.hpp"
#include "server/core/unit_of_work.hpp"

namespace lg::server {

/// Where the PostgreSQL backend's data lives.
struct PgOptions {
  std::string conninfo;         ///< libpq conninfo or URI
  std::string schema;           ///< tables live in this schema ("" = the role's search_path)
  std::size_t connections = 1;  ///< opened at start-up, one per thread that will use the database
};

class PgDb final : public UnitOfWork {
 public:
  /// Connects, migrates every area in order (refusing a database newer than the code) and opens
  /// the connections.
  static Result<std::unique_ptr<PgDb>> open(const PgOptions& o, std::span<const AreaSchema> areas);

  /// This thread's connection: bound on first use to one opened at start-up; a thread beyond
  /// those opens its own (and failing that, ends the process: fatal).
  pg::Conn& conn();
  /// A name for this thread's connection, unique among every node's connections on the database
  /// (counters are kept per shard so that concurrent units of work never update the same row).
  const std::string& shard();

  /// BEGIN ISOLATION LEVEL SERIALIZABLE ... COMMIT; run again (up to kAttempts) when it fails
  /// with a serialization failure or deadlock; joins an open transaction.
  Status run(const std::function<Status()>& body) override;
  /// run() under session advisory locks on keys, taken in sorted order before the transaction
  /// starts (so the transaction's snapshot sees what the previous holder committed). With keys,
  /// the transaction runs at REPEATABLE READ, not SERIALIZABLE: the locks order everything that
  /// shares a key, and the rows such work writes are guarded by their unique constraints and by
  /// row conflicts (a concurrent update of the same row fails with 40001 and runs again). SSI's
  /// predicate locks, escalated to whole tables in a group commit of thousands of rows, made
  /// unrelated writers (a bundle build, another terminal's state) cancel whole groups as pivots
  /// (docs/SCALE.md "Isolation").
  Status run_serialized(std::span<const std::string> keys, const std::function<Status()>& body) override;

  /// fn under the session advisory lock on key (released afterwards, or when the connection dies).
  Status with_lock(const std::string& key, const std::function<Status()>& fn) override;

  /// Units of work run again after losing a race (for metrics and tests).
  uint64_t retries() const { return retries_.load(std::memory_order_relaxed); }

  static constexpr int kAttempts = 12;

 private:
  struct Slot {
    std::unique_ptr<pg::Conn> conn;
    std::string shard;
  };
  explicit PgDb(PgOptions o);
  Slot& slot();
  /// One try: BEGIN at the isolation level (SERIALIZABLE or REPEATABLE READ), body, COMMIT.
  Status attempt(pg::Conn& c, std::string_view begin, const std::function<Status()>& body);

  PgOptions opts_;
  std::string node_;
  std::mutex m_;
  std::unordered_map<std::thread::id, Slot> slots_;
  std::vector<std::unique_ptr<pg::Conn>> spare_;
  int next_slot_ = 0;
  std::atomic<uint64_t> retries_{0};
};

/// Applies every area's PostgreSQL migrations above its recorded version, each step in its own
/// transaction with its version row, under an advisory lock held for the whole run.
Status migrate_areas(pg::Conn& c, std::span<const AreaSchema> areas);

}  // namespace lg::server
