// Usage: access events, sessions of machine time and the ingest counters. Plain data.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/billing/model.hpp"
#include "server/core/paging.hpp"

namespace lg::server {

struct AccessEvent {
  std::string record_id;
  std::string terminal;
  uint64_t seq = 0;
  int64_t ts_ms = 0;
  std::string card;
  std::string user;            ///< "" when unknown to terminal and server
  bool user_resolved = false;  ///< true when the server filled in the user from the card
  std::string resource;
  std::string output;
  std::string decision;
  std::string reason;
  std::string mode;
  uint64_t acl_version = 0;
  std::string booking;
  bool clock_synced = false;
};

struct UsageSession {
  std::string id;
  std::string terminal;
  std::string resource;
  std::string user;
  std::string card;
  std::string booking;
  int64_t start_ms = 0;
  std::optional<int64_t> end_ms;
  std::optional<int64_t> duration_ms;
  std::optional<int64_t> energy_wh;
  std::string end_reason;
  std::vector<std::string> flags;
  bool closed = false;
  std::optional<Charge> charge;
};

/// Counters shown by GET /api/stats.
struct Stats {
  int64_t batches = 0;
  int64_t records = 0;
  int64_t duplicates = 0;
  int64_t acks = 0;
  std::map<std::string, int64_t> rejected;
};

/// What one committed evt batch did.
struct IngestOutcome {
  int64_t inserted = 0;
  int64_t duplicates = 0;
  int64_t rejected = 0;         ///< same seq with another record id, a reused record id, a second close
  int64_t refused = 0;          ///< stored as evidence without effects (usage::check_resource/check_duration)
  uint64_t acked_seq = 0;       ///< highest contiguous committed seq after this batch
  std::vector<std::string> alarms;   ///< human-readable descriptions of rejected and refused records
  std::vector<std::string> charges;  ///< ids of charges created by this batch
};

/// A session end's stored facts for the rules: close-once and the duration's clock trust.
struct StoredSession {
  bool exists = false;
  bool closed = false;
  std::string user;
  std::string end_record;
  std::optional<bool> start_synced;  ///< the stored start record's clock_synced; nullopt without one
};

/// Filters for listing sessions and access events, with the page to read.
struct SessionFilter {
  std::string instrument;  ///< "" = any
  std::string user;        ///< "" = any
  Page page;
};
struct AccessFilter {
  std::string terminal;  ///< "" = any
  std::string decision;  ///< "" = any, else "granted" | "denied"
  Page page;
};

}  // namespace lg::server
