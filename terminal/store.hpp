// The terminal's SQLite store (data_dir/terminal.db, WAL, synchronous=FULL): the outbox of
// records, the cached sync bundle, open sessions and a few meta values. One Store is one
// connection, used by one thread: the access loop has its own (commits records and session rows,
// applies bundles) and the uplink worker opens a second one on the same file (reads pending
// records, prunes acked ones). SQLite serialises the writers (busy timeout 5 s).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "labgate/common/protocol.hpp"
#include "labgate/common/result.hpp"
#include "labgate/common/sqlite.hpp"

#include "labgate/common/card_uid.hpp"

#include "access/metering.hpp"
#include "acl/snapshot.hpp"

namespace lg::terminal {

/// A session whose relay is (or should be) on, persisted so a crash or restart can recover it.
struct OpenSession {
  std::string id;        ///< uuid, also the SessionStart/SessionEnd session id
  CardUid card;
  std::string user;
  std::string resource;
  std::string output;
  std::string booking;
  uint64_t acl_version = 0;
  int64_t start_ms = 0;  ///< wall clock at start
  bool start_synced = false;  ///< the wall clock was NTP-synced when start_ms was read
  SessionClock clock;    ///< monotonic anchor + carried elapsed
  std::optional<double> meter_start_kwh;  ///< the meter's cumulative reading right after switch-on
  int64_t checkpoint_ms = 0;          ///< wall clock of the last checkpoint
  int64_t checkpoint_elapsed_ms = 0;  ///< elapsed at the last checkpoint
  bool checkpoint_synced = false;     ///< the wall clock was NTP-synced at the last checkpoint
  /// A reboot's downtime not yet counted (the clock was unsynced at recovery): the synced wall
  /// time of the checkpoint before it (metering.hpp, rebase / settle_gap).
  std::optional<int64_t> gap_from_ms;
  std::optional<int64_t> max_end_ms;  ///< switch off by then (wall ms: booking end + grace)
  std::optional<int64_t> max_duration_ms;  ///< switch off once elapsed reaches it (max_session_s)
  bool started = false;    ///< SessionStart recorded (relay confirmed on)
  bool recovered = false;  ///< survived a restart of the agent
  bool operator==(const OpenSession&) const = default;
};

/// Everything one atomic step writes: records get their seq assigned (in order) and the
/// session row is inserted/replaced or deleted in the same transaction.
struct Commit {
  std::vector<proto::Record*> records;
  const OpenSession* upsert_session = nullptr;
  std::optional<std::string> delete_session;
};

class Store {
 public:
  /// Opens (creating and migrating) the store at path with synchronous=FULL.
  static Result<Store> open(const std::string& path);

  /// Increments and returns the persisted boot counter (1 on the first start).
  Result<uint64_t> next_boot();

  /// Writes records, assigning each a seq (AUTOINCREMENT: only grows, never reused), and the
  /// session change, all in one transaction. On failure nothing is written and seqs stay 0.
  Status commit(const Commit& c);
  /// Convenience: commit one record alone.
  Status append(proto::Record& r);

  /// Unacked records in ascending seq with seq > after_seq, at most limit.
  Result<std::vector<proto::Record>> pending(uint64_t after_seq, std::size_t limit);
  /// Number of unacked records.
  Result<uint64_t> depth();
  /// The highest seq ever assigned (0 if none).
  Result<uint64_t> last_seq();
  /// Makes the next seq assigned at least `first` (a re-enrolled id continues above the earlier
  /// device's records); never lowers it.
  Status start_seq_at_least(uint64_t first);
  /// Deletes every record with seq <= seq (the server's signed ack). Returns how many.
  Result<int64_t> ack(uint64_t seq);

  /// Replaces the cached grants, bookings and policy with the bundle's in one transaction if
  /// bundle.version > applied version (or equal, when same_version: a resync command), and
  /// records now_ms as the last sync. Returns false (changing nothing) when the version is not
  /// newer. The bundle's cards are stored as it names them (digests: BundleCache converts a
  /// legacy bundle first).
  Result<bool> apply_bundle(const proto::SyncBundle& b, int64_t now_ms, bool same_version = false);
  /// Replaces the cached grants' and denials' cards (and the card form) and nothing else: the
  /// one-time conversion of a cache written before card digests.
  Status replace_acl_cards(const std::vector<proto::Grant>& grants, const std::vector<proto::Denial>& denials,
                           proto::CardForm form);
  /// The cached ACL (version 0 when never synced).
  Result<AclSnapshot> load_acl();
  /// Wall ms of the last successful sync, if any.
  Result<std::optional<int64_t>> last_sync_ms();
  /// Records a sync (e.g. a retained bundle of the applied version seen again).
  Status set_last_sync_ms(int64_t ms);

  /// All open sessions.
  Result<std::vector<OpenSession>> open_sessions();
  /// Inserts or replaces an open session row.
  Status save_session(const OpenSession& s);
  /// Updates the checkpoint of an open session (wall time, whether it was synced, elapsed).
  Status checkpoint(const std::string& id, int64_t wall_ms, bool synced, int64_t elapsed_ms);

  /// Remembers a remote command's id until expires_ms (forgetting those expired at now_ms) and
  /// returns true, or returns false if the id is remembered already (a replay). Durable before
  /// the command is executed.
  Result<bool> remember_command(const std::string& id, int64_t expires_ms, int64_t now_ms);

  /// Integer meta value.
  Result<std::optional<int64_t>> meta_int(const std::string& key);
  /// Sets an integer meta value.
  Status set_meta_int(const std::string& key, int64_t value);

  /// A second connection to the same file (for another thread).
  Result<Store> reopen() const { return open(db_.path()); }

  db::Database& database() { return db_; }

 private:
  explicit Store(db::Database db) : db_(std::move(db)) {}
  Status upsert_session_row(const OpenSession& s);
  Status insert_cards(const std::vector<proto::Grant>& grants, const std::vector<proto::Denial>& denials);
  db::Database db_;
};

}  // namespace lg::terminal
