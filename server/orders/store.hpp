// The sample orders' store: orders with their fee lines, their history (order_events) and their
// attachments' records (the files are kept by orders::Service under the data dir). It decides
// nothing: orders::Service applies the verdicts of orders::decide in one unit of work.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "labgate/common/result.hpp"
#include "server/core/paging.hpp"
#include "server/orders/model.hpp"

namespace lg::server::orders {

class Store {
 public:
  virtual ~Store() = default;
  /// Stores a new order with its fee lines; conflict if the id exists, unknown_reference when the
  /// instrument or the user is not in the directory.
  virtual Status insert(const Order& o) = 0;
  /// One order with its fee lines; nullopt when there is none with this id.
  virtual Result<std::optional<Order>> get(const std::string& id) = 0;
  /// Orders by (created_ms, id) descending (newest first), filtered (f's empty fields match any).
  virtual Result<PageOf<Order>> list(const Filter& f) = 0;
  /// Stores a changed order's state, session, reason and updated_ms (the rest never changes);
  /// not_found when the id is unknown.
  virtual Status update(const Order& o) = 0;
  /// Appends an event to the order's history; its seq must be the next one (conflict otherwise).
  virtual Status add_event(const Event& e) = 0;
  /// The order's history by seq.
  virtual Result<std::vector<Event>> events(const std::string& order) = 0;
  /// Records a stored attachment; conflict if its id exists.
  virtual Status add_attachment(const Attachment& a) = 0;
  /// The order's attachments, oldest first.
  virtual Result<std::vector<Attachment>> attachments(const std::string& order) = 0;
  /// One attachment of one order (nullopt when the id is not one of this order's).
  virtual Result<std::optional<Attachment>> attachment(const std::string& order, const std::string& id) = 0;
  /// A usage session (the usage store's table) by id; nullopt when it is not stored.
  virtual Result<std::optional<LinkedSession>> session(const std::string& id) = 0;
};

/// How the stores keep an order's lists in one text column each (backend-neutral): one entry a
/// line; a parameter as key TAB value. The texts hold no control characters (the routes refuse
/// them), so the encoding is exact.
std::string encode_names(const std::vector<std::string>& names);
std::vector<std::string> decode_names(const std::string& text);
std::string encode_params(const std::vector<Param>& params);
std::vector<Param> decode_params(const std::string& text);

}  // namespace lg::server::orders
