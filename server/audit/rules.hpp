// The audit chain as pure functions: the canonical bytes of an entry, its hash, and the check
// of a chain that names the first broken entry. No database.
#pragma once

#include <string_view>
#include <utility>
#include <vector>

#include "server/identity/store.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "server/audit/model.hpp"

namespace lg::server::audit {

/// The objects whose places decide who may read an entry about (entity, entity_id): a user's
/// entries by the user, a qualification ("user/instrument") by both, a fee standard by its
/// instrument, a member ("group/user") by the group... Empty for what only site-wide readers see
/// (role grants, tokens).
std::vector<std::pair<identity::Kind, std::string>> scope_objects(std::string_view entity, std::string_view entity_id);


/// The prev_hash of entry 1: 64 zeros.
inline constexpr std::string_view kGenesis = "0000000000000000000000000000000000000000000000000000000000000000";

/// The bytes an entry's hash covers (prev_hash and hash excluded): a version tag, then seq and
/// at_ms in decimal and the text fields in fixed order (actor, source, request_id, action,
/// entity, entity_id, before, after), each written as "<decimal length>:<bytes>," so that no
/// two different entries share the same bytes.
std::string canonical(const Entry& e);

/// Lower-case hex sha256(prev_hash || canonical(e)).
std::string entry_hash(const Entry& e, std::string_view prev_hash);

/// The entry that follows a chain whose last entry is (head_seq, head_hash) (0 and kGenesis
/// for an empty chain): seq, prev_hash and hash filled in.
Entry next_entry(uint64_t head_seq, std::string_view head_hash, const Context& ctx, const Change& c, int64_t at_ms);

/// The first entry where a chain stops holding, and why.
struct Break {
  uint64_t seq = 0;  ///< the broken entry (for a missing entry: the seq that should be there)
  std::string reason;
};

/// Where a check of a chain read in pieces stands: the seq and prev_hash the next entry must have.
struct ChainState {
  uint64_t next_seq = 1;
  std::string prev_hash{kGenesis};
  uint64_t checked = 0;  ///< entries found intact so far
};

/// Checks entries (the next piece of the chain, in the order stored) against state and advances
/// it: each entry must have seq state.next_seq (no gap, no reordering), prev_hash equal to the
/// previous entry's hash, and a hash that matches its contents. The first break, or nullopt.
std::optional<Break> verify(std::span<const Entry> entries, ChainState& state);

/// verify() of a whole chain from entry 1.
std::optional<Break> verify(std::span<const Entry> entries);

}  // namespace lg::server::audit
