// Usage: access events, sessions of machine time and the ingest counters. Plain data.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "server/billing/model.hpp"
#include "server/core/paging.hpp"
#include "server/directory/model.hpp"

namespace lg::server {

struct AccessEvent {
  std::string record_id;
  std::string terminal;
  uint64_t seq = 0;
  int64_t ts_ms = 0;
  std::string card;
  std::string user;            ///< "" when unknown to terminal and server
  bool user_resolved = false;  ///< true when the server filled in the user from the card
  std::string resource;
  std::string output;
  std::string decision;
  std::string reason;
  std::string mode;
  uint64_t acl_version = 0;
  std::string booking;
  bool clock_synced = false;
};

struct UsageSession {
  std::string id;
  std::string terminal;
  std::string resource;
  std::string user;
  std::string card;
  std::string booking;
  int64_t start_ms = 0;
  std::optional<int64_t> end_ms;
  std::optional<int64_t> duration_ms;
  std::optional<int64_t> energy_wh;
  std::string end_reason;
  std::vector<std::string> flags;
  bool closed = false;
  std::optional<Charge> charge;
};

/// Counters shown by GET /api/stats.
struct Stats {
  int64_t batches = 0;
  int64_t records = 0;
  int64_t duplicates = 0;
  int64_t acks = 0;
  std::map<std::string, int64_t> rejected;
};

/// What one committed evt batch did.
struct IngestOutcome {
  int64_t inserted = 0;
  int64_t duplicates = 0;
  int64_t rejected = 0;         ///< same seq with another record id, a reused record id, a second close
  int64_t refused = 0;          ///< stored as evidence without effects (usage::check_resource/check_duration)
  uint64_t acked_seq = 0;       ///< highest contiguous committed seq after this batch
  std::vector<std::string> alarms;   ///< human-readable descriptions of rejected and refused records
  std::vector<std::string> charges;  ///< ids of charges created by this batch
};

/// A session end's stored facts for the rules: close-once and the duration's clock trust.
struct StoredSession {
  bool exists = false;
  bool closed = false;
  std::string user;
  std::string end_record;
  std::optional<bool> start_synced;  ///< the stored start record's clock_synced; nullopt without one
};

/// Where a record is stored: its terminal and its seq there.
using RecordPlace = std::pair<std::string, uint64_t>;

/// A record's two keys, as asked for by a prefetch.
struct RecordKeys {
  std::string terminal;
  uint64_t seq = 0;
  std::string id;
};

/// What to load before the rules decide a group of batches (usage::Store::prefetch). Every list
/// may hold repeats and empty strings (both ignored).
struct PrefetchQuery {
  std::vector<RecordKeys> records;    ///< every record of the group
  std::vector<std::string> sessions;  ///< sessions named by its session starts and ends
  std::vector<std::string> cards;     ///< cards whose active owner may be needed
  std::vector<std::string> users;     ///< users a session or charge may name (besides those loaded)
  std::vector<RecordPlace> acked;     ///< terminals with their acked seq: the stored seqs above it
  int64_t seq_limit = 1024;           ///< at most this many stored seqs per terminal
};

/// The stored facts a prefetch loaded, keyed for lookup.
struct Prefetched {
  /// Every stored record at an asked (terminal, seq) or with an asked id: place -> id.
  std::map<RecordPlace, std::string> id_at;
  /// The same records: id -> place.
  std::unordered_map<std::string, RecordPlace> place_of;
  /// The asked sessions that are stored (an absent one is unknown).
  std::unordered_map<std::string, StoredSession> sessions;
  /// Every asked card: its active owner now, "" when none.
  std::unordered_map<std::string, std::string> card_owners;
  /// Every asked user, every user of a loaded session and every loaded card owner: the user,
  /// nullopt when unknown.
  std::unordered_map<std::string, std::optional<User>> users;
  /// Per asked terminal: its stored seqs above the asked acked seq, ascending, at most seq_limit.
  std::map<std::string, std::vector<uint64_t>> seqs_above;
};

/// A record as it is stored: its keys, what it is, and why it is kept without effects.
struct RecordRow {
  std::string terminal;
  uint64_t seq = 0;
  std::string id;
  std::string kind;
  int64_t ts_ms = 0;
  bool clock_synced = false;
  std::string body;     ///< the record as the wire encodes it
  std::string refused;  ///< "" or the refusal reason (kept as evidence without effects)
};

/// A session row to store: the session with the records that started and ended it ("" = none).
/// `session.closed` says whether it is stored open or closed.
struct SessionRow {
  UsageSession session;
  std::string start_record;
  std::string end_record;
};

/// A server alarm about a terminal.
struct AlarmRow {
  std::string terminal;
  std::string code;
  std::string detail;
};

/// What a group of batches writes to the usage store (usage::Store::write), decided in memory.
struct UsageEffects {
  int64_t now_ms = 0;                    ///< when the records were received
  std::vector<RecordRow> records;        ///< new records, none of them stored yet
  std::vector<AccessEvent> access;       ///< new access events
  std::vector<SessionRow> new_sessions;  ///< sessions not stored yet, as the group leaves them
  /// Stored open sessions closed by an end record: id, user, end fields and end_record are set.
  std::vector<SessionRow> closes;
  std::vector<AlarmRow> alarms;               ///< in the order they were raised
  std::map<std::string, int64_t> counters;    ///< ingest counter -> amount to add
  std::map<std::string, int64_t> rejections;  ///< rejection reason -> amount to add
};

/// Filters for listing sessions and access events, with the page to read.
struct SessionFilter {
  std::string instrument;  ///< "" = any
  std::string user;        ///< "" = any
  Page page;
};
struct AccessFilter {
  std::string terminal;  ///< "" = any
  std::string decision;  ///< "" = any, else "granted" | "denied"
  Page page;
};

}  // namespace lg::server
