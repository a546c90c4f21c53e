// The outbox store: notices waiting to be mailed, and what became of them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "labgate/common/result.hpp"
#include "server/core/paging.hpp"
#include "server/notify/model.hpp"

namespace lg::server::notify {

/// Which notices a list shows ("" = any).
struct NoticeFilter {
  std::string state;      ///< a State's name
  std::string recipient;  ///< a user id
};

class Store {
 public:
  virtual ~Store() = default;
  /// Stores the notice (id, dedupe key, recipient, texts, state, next_attempt_ms, created_ms as
  /// given; attempts 0). Joins the caller's unit of work. Returns false, storing nothing, when a
  /// notice with the same dedupe key exists already (so a rule that runs twice mails once).
  virtual Result<bool> insert(const Notice& n) = 0;
  /// The notice with this id, or nullopt.
  virtual Result<std::optional<Notice>> get(const std::string& id) = 0;
  /// Notices newest first (created_ms, id descending), filtered.
  virtual Result<PageOf<Notice>> list(const NoticeFilter& f, const Page& p = {}) = 0;
  /// Claims up to `limit` pending notices due at now_ms (next_attempt_ms <= now_ms), earliest
  /// first, for the sender `claim`: each gets attempts + 1, next_attempt_ms = lease_until_ms and
  /// the claim, in one unit of work that is atomic against every other claimer on the database
  /// (any node): a notice is claimed by one sender at a time, and claimed again only once its
  /// lease has run out (a sender that died). Returns them as claimed.
  virtual Result<std::vector<Notice>> claim_due(int64_t now_ms, int64_t limit, const std::string& claim,
                                                int64_t lease_until_ms) = 0;
  /// Marks a claimed notice sent at now_ms (last_error cleared). False, changing nothing, when it
  /// is no longer pending under this claim (its lease ran out and another sender claimed it).
  virtual Result<bool> mark_sent(const std::string& id, const std::string& claim, int64_t now_ms) = 0;
  /// After a failed attempt on a claimed notice: state (pending or failed), next_attempt_ms and
  /// last_error as given. False, changing nothing, when it is no longer pending under this claim.
  virtual Result<bool> mark_failed(const std::string& id, const std::string& claim, State state,
                                   int64_t next_attempt_ms, const std::string& error) = 0;
  /// A failed or no_address notice back to pending with the given address: attempts 0,
  /// next_attempt_ms = now_ms, no claim (last_error kept until the next attempt). False, changing
  /// nothing, when it is not failed or no_address (any more).
  virtual Result<bool> requeue(const std::string& id, const std::string& address, int64_t now_ms) = 0;
};

}  // namespace lg::server::notify
