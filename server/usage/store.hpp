// The usage store: records as the terminals sent them, access events, sessions, the ingest
// counters and alarms. usage::Service decides (usage/rules.hpp) and calls these inside one unit
// of work per batch; the store itself decides nothing.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "labgate/common/protocol.hpp"
#include "labgate/common/result.hpp"
#include "server/core/paging.hpp"
#include "server/usage/model.hpp"
#include "server/usage/rules.hpp"

namespace lg::server::usage {

class Store {
 public:
  virtual ~Store() = default;

  /// What is stored at the record's keys: (terminal, seq) and the record id.
  virtual Result<StoredKeys> keys(const std::string& terminal, const proto::Record& r) = 0;
  /// Stores a record under (terminal, seq); refused is "" or the refusal reason (kept as
  /// evidence without effects). A second record at the same keys is a storage error.
  virtual Status insert_record(const std::string& terminal, const proto::Record& r, int64_t now_ms,
                               std::string_view refused) = 0;
  /// A session as stored (exists = false when unknown).
  virtual Result<StoredSession> session(const std::string& id) = 0;
  /// Stores an access event.
  virtual Status insert_access(const AccessEvent& e) = 0;
  /// Stores an open session started by start_record (nothing if the id exists).
  virtual Status open_session(const UsageSession& s, const std::string& start_record) = 0;
  /// Stores a session as closed by end_record: updates the open one (exists) or inserts it.
  virtual Status close_session(const UsageSession& s, const std::string& end_record, bool exists) = 0;
  /// Stored seqs of the terminal above `after`, ascending, at most limit.
  virtual Result<std::vector<uint64_t>> seqs_above(const std::string& terminal, uint64_t after, int64_t limit) = 0;
  /// Stores a server alarm about a terminal.
  virtual Status alarm(const std::string& terminal, std::string_view code, const std::string& detail,
                       int64_t now_ms) = 0;
  /// Adds n to an ingest counter (batches, records, duplicates, acks).
  virtual Status count(std::string_view counter, int64_t n) = 0;
  /// Adds n to the rejections counted under reason.
  virtual Status count_rejection(std::string_view reason, int64_t n) = 0;
  /// The counters.
  virtual Result<Stats> stats() = 0;

  /// Access events, newest first: key (ts_ms, terminal, seq), all descending.
  virtual Result<PageOf<AccessEvent>> access_events(const AccessFilter& f) = 0;
  /// Sessions with their charge, newest first: key (start_ms, id), both descending.
  virtual Result<PageOf<UsageSession>> sessions(const SessionFilter& f) = 0;
};

}  // namespace lg::server::usage
