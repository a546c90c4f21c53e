// Records the access side writes: stamped with the terminal clock (id, time, synced flag).
#pragma once

#include <string>

#include "labgate/common/card_uid.hpp"
#include "labgate/common/protocol.hpp"

#include "access/decision.hpp"
#include "ports.hpp"

namespace lg::terminal {

/// A new record with a fresh id, the wall time and whether the clock is synced now.
proto::Record make_record(Clock& clock, proto::RecordBody body);

/// The Access record of a decision taken for `card` on `output` of `resource`.
proto::Access access_record(const DecisionResult& d, const CardUid& card, const std::string& resource,
                            const std::string& output);

}  // namespace lg::terminal
