// The outbox as the other areas and the routes use it: enqueue a notice inside the unit of work
// of the change that causes it, send a failed one again; and the worker that mails due notices.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "labgate/common/result.hpp"
#include "server/core/unit_of_work.hpp"
#include "server/directory/store.hpp"
#include "server/notify/model.hpp"
#include "server/notify/store.hpp"

namespace lg::server::notify {

class Outbox {
 public:
  /// site: signs every notice ({site}). The stores must outlive the Outbox.
  Outbox(UnitOfWork& uow, Store& store, directory::Store& directory, std::string site)
      : uow_(uow), store_(store), directory_(directory), site_(std::move(site)) {}

  /// Records a notice to r.recipient: its address is the user's mail in the directory now (none
  /// or unusable: stored as no_address with the reason in last_error, never sent), its subject
  /// and body the template of r.kind over r.fields plus {name} (the user's name) and {site}.
  /// Runs in the caller's unit of work when one is open on this thread (the notice commits or
  /// rolls back with the change that caused it), else in one of its own. Returns the notice
  /// stored, or nullopt when r.dedupe_key was used already (nothing stored). unknown_reference
  /// for an unknown recipient; invalid for an empty dedupe key or a field the template lacks.
  Result<std::optional<Notice>> enqueue(const NoticeRequest& r, int64_t now_ms);

  /// Puts a failed or no_address notice back to pending (attempts from 0, due now), with the
  /// recipient's mail address as the directory has it now. not_found for an unknown id;
  /// conflict when it is pending or sent (retry_refusal), or when the user still has no usable
  /// address. Returns the notice before and after.
  Result<std::pair<Notice, Notice>> retry(const std::string& id, int64_t now_ms);

 private:
  /// The user's usable address, or "" with why in `why`.
  Result<std::string> address_of(const std::string& user, std::string* why, std::string* name);

  UnitOfWork& uow_;
  Store& store_;
  directory::Store& directory_;
  std::string site_;
};

/// Hands one mail to a mail server (notify/smtp.hpp: SMTP; tests: fakes).
class Mailer {
 public:
  virtual ~Mailer() = default;
  /// Sends m; bounded in time by the implementation.
  virtual Delivery send(const Mail& m) = 0;
};

struct WorkerSettings {
  std::string from;       ///< envelope sender and From: address
  std::string from_name;  ///< From: display name ("" = none)
  RetryPolicy retry{};
  int64_t batch = 20;          ///< notices claimed (and mailed one after another) per round
  int64_t lease_ms = 600'000;  ///< a claimed notice is claimed again by anyone after this (a sender that died)
};

/// Sends due notices: claim (atomic on the database, so two nodes never hold one notice), mail
/// each, record sent or the failure with its backoff. A notice is mailed at least once; twice
/// only if a sender dies between the mail server's 250 and recording it (the lease runs out).
class Worker {
 public:
  Worker(Store& store, Mailer& mailer, WorkerSettings s, std::function<int64_t()> now)
      : store_(store), mailer_(mailer), s_(std::move(s)), now_(std::move(now)) {}

  struct Round {
    int claimed = 0;
    int sent = 0;
    int failed = 0;  ///< given up this round (permanent, or out of attempts)
  };
  /// One round: claims at most batch due notices and mails them one after another.
  Result<Round> run_once();

 private:
  Store& store_;
  Mailer& mailer_;
  WorkerSettings s_;
  std::function<int64_t()> now_;
};

}  // namespace lg::server::notify
