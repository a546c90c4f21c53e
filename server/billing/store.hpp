// The billing store: fee standards and charges.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "labgate/common/result.hpp"
#include "server/billing/model.hpp"
#include "server/core/paging.hpp"

namespace lg::server::billing {

class Store {
 public:
  virtual ~Store() = default;
  /// Imports an already-approved hourly fee standard: sets (creates or replaces) the instrument's
  /// hourly row and, in the same write, stores a published version of it (one hour line "hour",
  /// exact time, internal price and external price for the three outside categories; steps
  /// "imported" by `who`), effective from f.effective_from_ms, else now, else (the instrument's
  /// first version) from the beginning. unknown_reference when the instrument is unknown.
  virtual Status put_fee_standard(const FeeStandard& f, int64_t now_ms, const std::string& who = "import") = 0;
  /// Fee standards by (instrument), ascending.
  virtual Result<PageOf<FeeStandard>> fee_standards(const Page& p) = 0;
  /// Retires an instrument's fee standard: it stays (listed with its retirement) and charges
  /// nothing from then on (its published versions get retired_ms); a new one set later replaces
  /// it. not_found when the instrument has none, conflict when it is retired already. Returns it
  /// as stored before.
  virtual Result<FeeStandard> retire_fee_standard(const std::string& instrument, int64_t now_ms) = 0;
  /// The fee standards of the given instruments, in one read: every asked instrument is a key,
  /// nullopt when it has none (repeats are asked once).
  virtual Result<std::map<std::string, std::optional<FeeStandard>>> fees(std::span<const std::string> instruments) = 0;
  /// Stores charges (ids set), in one write; returns the ids of those stored. At most one charge
  /// per session is ever stored: one for a session that already has a charge is not stored
  /// (a guard behind the close-once rule, not the rule itself).
  virtual Result<std::vector<std::string>> insert_charges(std::span<const Charge> charges, int64_t now_ms) = 0;
  /// Charges whose session ended in [from_ms, to_ms), by (end_ms, id) ascending.
  virtual Result<PageOf<Charge>> charges(int64_t from_ms, int64_t to_ms, const Page& p = {}) = 0;

  // ---- Fee standard versions (docs/MONEY.md). A step is stored with every change of a version.

  /// Stores a new version (id set by the caller, lines, state as given) with its first step;
  /// number = the instrument's highest + 1. unknown_reference when the instrument is unknown,
  /// conflict on a repeated id. Returns it as stored (number set).
  virtual Result<FeeVersion> create_version(const FeeVersion& v, const FeeStep& step) = 0;
  /// One version with its lines; nullopt when unknown.
  virtual Result<std::optional<FeeVersion>> version(const std::string& id) = 0;
  /// An instrument's versions with their lines, by number ascending.
  virtual Result<std::vector<FeeVersion>> versions(const std::string& instrument) = 0;
  /// A version's steps by seq ascending.
  virtual Result<std::vector<FeeStep>> steps(const std::string& version) = 0;
  /// Replaces a draft's content (currency, note, cost, night, weekend days, lines) and adds the
  /// step. not_found when unknown, conflict unless it is a draft.
  virtual Status update_draft(const FeeVersion& v, const FeeStep& step) = 0;
  /// Moves a version from state `from` to `to` (effective_from set when given) and adds the step,
  /// only if it is still in `from`: conflict otherwise (someone moved it first), not_found when unknown.
  virtual Status move(const std::string& id, FeeState from, FeeState to, std::optional<int64_t> effective_from_ms,
                      const FeeStep& step) = 0;
  /// The published versions (lines included) of the given instruments, in one read: every asked
  /// instrument is a key (an empty list when it has none). Charging picks the one in force
  /// (rules in_force) at each session's start.
  virtual Result<std::map<std::string, std::vector<FeeVersion>>> published(
      std::span<const std::string> instruments) = 0;
};

}  // namespace lg::server::billing
