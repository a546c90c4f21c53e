// The usage store: records as the terminals sent them, access events, sessions, the ingest
// counters and alarms. usage::Service loads the facts of a whole group of batches with one
// prefetch, decides every record in memory (usage/rules.hpp) and writes the effects with one
// write, inside one unit of work; the store itself decides nothing. Both calls cost a fixed
// number of statements, however many records the group holds.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "labgate/common/result.hpp"
#include "server/core/paging.hpp"
#include "server/usage/model.hpp"

namespace lg::server::usage {

class Store {
 public:
  virtual ~Store() = default;

  /// Loads what the rules need about a group of batches (see Prefetched): the records stored
  /// at its keys, the sessions it names, card owners and users (read from the directory's
  /// tables), and each terminal's stored seqs above its acked seq. Reads only.
  virtual Result<Prefetched> prefetch(const PrefetchQuery& q) = 0;
  /// Applies the effects of a group: inserts its records, access events, new sessions and
  /// alarms (in order), closes the stored open sessions it closed, and adds to the counters.
  /// A record already stored at its keys, a new session that exists or a closed one that is not
  /// stored open is a storage error (the caller decided on stale facts); nothing is half written
  /// when the caller's unit of work rolls back.
  virtual Status write(const UsageEffects& e) = 0;
  /// Stored seqs of the terminal above `after`, ascending, at most limit.
  virtual Result<std::vector<uint64_t>> seqs_above(const std::string& terminal, uint64_t after, int64_t limit) = 0;
  /// Adds n to an ingest counter (batches, records, duplicates, acks).
  virtual Status count(std::string_view counter, int64_t n) = 0;
  /// Adds n to the rejections counted under reason.
  virtual Status count_rejection(std::string_view reason, int64_t n) = 0;
  /// The counters.
  virtual Result<Stats> stats() = 0;

  /// Remembers the pseudonyms a terminal's bundle names (pseudonym, directory user id), before
  /// the bundle is published; a pair already kept is left as it is. Rows are never deleted: a
  /// record buffered offline names the pseudonym of the bundle it was decided with.
  virtual Status keep_pseudonyms(const std::string& terminal,
                                 const std::vector<std::pair<std::string, std::string>>& pairs) = 0;
  /// The users of those of `pseudonyms` the terminal's bundles named (absent: never issued).
  virtual Result<std::map<std::string, std::string>> pseudonym_users(const std::string& terminal,
                                                                    const std::vector<std::string>& pseudonyms) = 0;

  /// Access events, newest first: key (ts_ms, terminal, seq), all descending.
  virtual Result<PageOf<AccessEvent>> access_events(const AccessFilter& f) = 0;
  /// Sessions with their charge, newest first: key (start_ms, id), both descending.
  virtual Result<PageOf<UsageSession>> sessions(const SessionFilter& f) = 0;
};

}  // namespace lg::server::usage
