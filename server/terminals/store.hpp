// The terminals' store: enrolment, reported state, the contiguous acked seq.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "labgate/common/result.hpp"
#include "server/core/paging.hpp"
#include "server/terminals/model.hpp"

namespace lg::server::terminals {

class Store {
 public:
  virtual ~Store() = default;
  /// Enrols a terminal with its public key PEM; conflict if the id exists, unknown_reference
  /// when the resource is unknown.
  virtual Status add(const Terminal& t, int64_t now_ms) = 0;
  /// Terminals by (id), ascending.
  virtual Result<PageOf<Terminal>> list(const Page& p) = 0;
  /// Every enrolled terminal, by id.
  virtual Result<std::vector<Terminal>> all() = 0;
  /// One terminal, nullopt if not enrolled.
  virtual Result<std::optional<Terminal>> get(const std::string& id) = 0;
  /// Retires a terminal (kept, with every record it sent); not_found for an unknown id, conflict
  /// when retired already. Returns it as stored before.
  virtual Result<Terminal> retire(const std::string& id, int64_t now_ms) = 0;
  /// Applies a state message, atomically: an offline Will from an older boot is ignored.
  virtual Result<StateOutcome> apply_state(const StateUpdate& s) = 0;
  /// Records the terminal's contiguous acked seq (never lowered) and when it was last heard.
  virtual Status set_acked(const std::string& id, uint64_t acked_seq, int64_t seen_ms) = 0;
};

}  // namespace lg::server::terminals
