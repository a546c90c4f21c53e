// The sample orders' use cases, each one unit of work: load the order and the facts, let
// orders::decide (rules.hpp) give the verdict, store the new state with its history line. Every
// change of state goes through Service::apply and then Service::state_changed, the one place a
// notice about an order is to be hooked (see there). Attachments' bytes are files under
// <data_dir>/attachments/<order>/<attachment>, both names generated here.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/config/server_config.hpp"
#include "server/core/unit_of_work.hpp"
#include "server/orders/rules.hpp"
#include "server/orders/store.hpp"

namespace lg::server::orders {

struct Settings {
  std::filesystem::path data_dir;  ///< the server's data dir ("" = attachments refused: 503)
  /// Largest attachment ([orders] attachment_limit). The HTTP listener's http.body_limit bounds
  /// every request body too (a larger upload gets the listener's 413 first).
  int64_t attachment_limit = kDefaultOrderAttachmentLimit;
};

/// What a request brings to a transition.
struct Input {
  std::string reason;   ///< refuse / cancel
  std::string session;  ///< start_testing: the usage session to link
};

/// The outcome of a change: the change made, or the verdict that refused it (nothing written).
struct Outcome {
  std::optional<Change> change;
  Verdict verdict;
};

/// An attachment's bytes written to disk before its record (Service::keep_file).
struct StoredFile {
  std::string id;
  std::string sha256;
  int64_t size = 0;
};

/// An attachment recorded, and the change of state a result made (or the refusal).
struct Attached {
  std::optional<Attachment> attachment;
  std::optional<Change> change;  ///< set when a result moved the order
  Verdict verdict;               ///< a refusal: nothing recorded
};

class Service {
 public:
  Service(UnitOfWork& uow, Store& store, Settings settings) : uow_(uow), store_(store), settings_(std::move(settings)) {}

  /// Submits o (fields validated by validate(); id, state and times set here) for its user.
  /// unknown_reference for an unknown instrument or user, not_allowed (422) for an invalid field.
  Result<Change> submit(Order o, const std::string& actor, int64_t now_ms);

  /// Does action a (not submit, not upload_result: see attach) to order id as who: not_found for
  /// an unknown id; a refused verdict writes nothing.
  Result<Outcome> act(const std::string& id, Action a, const Actor& who, const Input& in, const std::string& actor,
                      int64_t now_ms);

  /// Writes bytes to a new file of order o (o as loaded: its id is one the server made); the
  /// caller then records it with attach() or removes it with discard_file(). unavailable when no
  /// data dir is set.
  Result<StoredFile> keep_file(const Order& o, std::string_view bytes);
  /// Removes a file keep_file() wrote whose record was not stored (best effort).
  void discard_file(const std::string& order, const std::string& id);

  /// Records file f of order id (checked by check_attachment: c) in one unit of work, when
  /// attachment_verdict allows it now; a result moves the order (in_testing -> results_uploaded).
  Result<Attached> attach(const std::string& id, const StoredFile& f, const AttachmentCheck& c, bool result,
                          const Actor& who, const std::string& actor, int64_t now_ms);

  /// The stored bytes of attachment att (read from under the data dir only).
  Result<std::string> read_file(const Attachment& att);

  Result<std::optional<Order>> get(const std::string& id) { return store_.get(id); }
  Result<PageOf<Order>> list(const Filter& f) { return store_.list(f); }
  Result<std::vector<Event>> events(const std::string& id) { return store_.events(id); }
  Result<std::vector<Attachment>> attachments(const std::string& id) { return store_.attachments(id); }
  Result<std::optional<Attachment>> attachment(const std::string& order, const std::string& id) {
    return store_.attachment(order, id);
  }
  const Settings& settings() const { return settings_; }
  /// Called by state_changed for every change of an order's state, inside its unit of work (the
  /// app enqueues the owner's order_state notice there): a failure rolls the change back.
  void on_changed(std::function<Status(const Change&)> f) { on_changed_ = std::move(f); }

 private:
  /// The order with this id, or not_found.
  Result<Order> load(const std::string& id);
  /// Stores before moved to state `to` (with the linked session and, when refused or cancelled,
  /// the reason) and its history line; calls state_changed. Inside the caller's unit of work.
  Result<Change> apply(const Order& before, State to, Action a, const std::string& reason, const std::string& session,
                       const std::string& actor, int64_t now_ms);
  /// THE hook for notices: called once for every change of an order's state (submission
  /// included), inside the unit of work that makes it, after the order and its history line are
  /// written. A notification outbox adds its row here (through a store, in the same unit of work,
  /// so the notice is committed with the change or not at all); no sockets here: a unit of work
  /// may run twice on PostgreSQL. It logs and calls on_changed.
  Status state_changed(const Change& c);
  /// <data_dir>/attachments/<order>/<id>, after checking both are names the server makes.
  Result<std::filesystem::path> file_path(const std::string& order, const std::string& id) const;

  UnitOfWork& uow_;
  Store& store_;
  Settings settings_;
  std::function<Status(const Change&)> on_changed_;
};

}  // namespace lg::server::orders
