// Plain data the server's modules exchange: directory entries, bookings, terminals,
// usage sessions, charges and access events. No I/O, no JSON, no SQL.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lg::server {

enum class UserCategory { internal, external };
enum class InstrumentKind { instrument, door };

/// "internal" | "external".
const char* to_string(UserCategory c);
/// "instrument" | "door".
const char* to_string(InstrumentKind k);
/// Parses "internal" | "external".
std::optional<UserCategory> category_from(std::string_view s);
/// Parses "instrument" | "door".
std::optional<InstrumentKind> kind_from(std::string_view s);

struct Unit {
  std::string id;
  std::string name;
  std::string parent;  ///< "" = root
};

struct Lab {
  std::string id;
  std::string name;
  std::string unit;
};

/// Upper bounds of an instrument's access policy (seconds), checked by the API.
inline constexpr int64_t kMaxEarlyStartS = 24LL * 3600;          ///< 1 day
inline constexpr int64_t kMaxGraceAfterEndS = 24LL * 3600;       ///< 1 day
inline constexpr int64_t kMaxOfflineGraceS = 30LL * 24 * 3600;   ///< 30 days
inline constexpr int64_t kMaxSessionS = 31LL * 24 * 3600;        ///< 31 days (the longest booking)

/// An instrument or door with its access policy. The policy defaults are the protocol's
/// (proto::Policy): a terminal decides with exactly these values.
struct Instrument {
  std::string id;
  std::string name;
  std::string lab;
  InstrumentKind kind = InstrumentKind::instrument;
  std::string asset_no;
  bool require_booking = false;
  int64_t early_start_s = 900;       ///< a booked user may start this long before the booking
  int64_t grace_after_end_s = 300;   ///< a booked session is switched off this long after the booking end
  int64_t offline_grace_s = 86400;   ///< cached grants are honoured this long after the last sync, offline
  int64_t max_session_s = 0;         ///< limit of a session not bounded by a booking; 0 = none
};

/// A change of an instrument's access policy: fields left empty keep their value.
struct InstrumentPolicyPatch {
  std::optional<bool> require_booking;
  std::optional<int64_t> early_start_s;
  std::optional<int64_t> grace_after_end_s;
  std::optional<int64_t> offline_grace_s;
  std::optional<int64_t> max_session_s;
};

/// One hourly fee standard per instrument; rates in integer fen per hour.
struct FeeStandard {
  std::string instrument;
  int64_t internal_fen_per_hour = 0;
  int64_t external_fen_per_hour = 0;
  std::string currency = "CNY";
};

struct User {
  std::string id;
  std::string name;
  UserCategory category = UserCategory::internal;
  std::string unit;  ///< "" = none
  bool admin = false;
};

struct Card {
  std::string uid;  ///< normalized (upper case)
  std::string user;
  bool active = true;
};

struct Qualification {
  std::string user;
  std::string instrument;
  int64_t valid_from_ms = 0;
  std::optional<int64_t> valid_until_ms;
};

struct Booking {
  std::string id;
  std::string instrument;
  std::string user;
  int64_t start_ms = 0;
  int64_t end_ms = 0;
};

/// A terminal as enrolled plus what its last state message and the ingest told us.
struct Terminal {
  std::string id;
  std::string resource;
  std::string public_key;  ///< PEM
  bool online = false;
  uint64_t boot = 0;
  std::string firmware;
  std::string board;
  uint64_t acl_version = 0;
  uint64_t sync_version = 0;
  uint64_t outbox_depth = 0;
  bool clock_synced = false;
  uint64_t acked_seq = 0;
  std::optional<int64_t> last_seen_ms;
};

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

struct Charge {
  std::string id;
  std::string session;
  std::string instrument;
  std::string user;      ///< "" = unknown user
  std::string category;  ///< "" when the user is unknown
  int64_t rate_fen_per_hour = 0;
  int64_t duration_ms = 0;
  int64_t amount_fen = 0;
  std::string currency;
  std::vector<std::string> flags;  ///< "unknown_user", "no_fee_standard", "overflow"
  int64_t end_ms = 0;
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

}  // namespace lg::server
