// The sync store: each terminal's last signed bundle, and the directory facts a bundle is
// built from.
#pragma once

#include <cstdint>
#include <string>

#include "labgate/common/result.hpp"
#include "server/sync/rules.hpp"
#include "server/terminals/model.hpp"

namespace lg::server::sync {

/// The last signed sync bundle of a terminal.
struct StoredSync {
  uint64_t version = 0;
  std::string hash;
  std::string payload;  ///< sealed wire form, republished on (re)connect
};

class Store {
 public:
  virtual ~Store() = default;
  /// Directory data for building the terminal's bundle at now_ms (read in one snapshot).
  virtual Result<Inputs> inputs(const Terminal& t, int64_t now_ms) = 0;
  /// The last stored bundle of a terminal (version 0 if none); not_found if not enrolled.
  virtual Result<StoredSync> stored(const std::string& terminal) = 0;
  /// Stores a new bundle version; conflict unless version is above the stored one (two
  /// writers racing: the later version wins, never a rollback).
  virtual Status save(const std::string& terminal, const StoredSync& s) = 0;
};

}  // namespace lg::server::sync
