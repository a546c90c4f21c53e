// The storage interface the server's modules use. SqliteStore implements it today; a
// PostgreSQL store can implement the same later. Errors carry a StoreErrc (conflict,
// unknown reference, not found) or the backend's own code (internal failure).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <system_error>
#include <variant>
#include <vector>

#include "labgate/common/protocol.hpp"
#include "labgate/common/result.hpp"
#include "server/domain/model.hpp"
#include "server/domain/report.hpp"
#include "server/domain/sync_bundle.hpp"

namespace lg::server {

/// Error codes with a meaning for callers (HTTP maps them to 409 / 422 / 404).
enum class StoreErrc {
  conflict = 1,           ///< duplicate id, overlapping booking, card owned by someone else
  unknown_reference = 2,  ///< a referenced id does not exist (reason names the field)
  not_found = 3,
  not_allowed = 4,        ///< a rule refuses the request (booking without qualification); HTTP 422
};

/// The error category of StoreErrc.
const std::error_category& store_category();
/// Makes an error_code from a StoreErrc.
std::error_code make_error_code(StoreErrc e);
/// An Error with a StoreErrc code and a reason.
Error store_error(StoreErrc e, std::string reason);
/// True if the error carries the given StoreErrc.
bool is(const Error& e, StoreErrc code);

/// Result of a booking attempt: either a new id or the id of the booking it overlaps.
struct BookingOutcome {
  std::string id;        ///< set on success
  std::string conflict;  ///< set when the request overlaps an existing booking
};

/// What one committed evt batch did.
struct IngestOutcome {
  int64_t inserted = 0;
  int64_t duplicates = 0;
  int64_t rejected = 0;         ///< same seq with another record id, or a reused record id
  int64_t refused = 0;          ///< stored as evidence without effects (ingest::check_resource/check_duration)
  uint64_t acked_seq = 0;       ///< highest contiguous committed seq after this batch
  std::vector<std::string> alarms;  ///< human-readable descriptions of rejected records
  std::vector<std::string> charges;  ///< ids of charges created by this batch
};

/// One part of a keyset position: an integer (a time, a sequence number) or a text (an id).
using KeyPart = std::variant<int64_t, std::string>;

/// A position in a list's order: the sort key of one row, its parts in the order the list is
/// sorted by (each query below names them). Plain values, so any backend can compare them.
using PageKey = std::vector<KeyPart>;

/// Keyset paging: at most `limit` rows strictly after `after` in the list's order, or from the
/// first row when `after` is empty. A position that does not fit the list (wrong number or kinds
/// of parts) is StoreErrc::not_allowed.
struct Page {
  PageKey after;
  int64_t limit = 100;
};

/// One page of a list: its rows and, when more rows follow, the key of the last row (pass it as
/// Page::after to read on). Iterates like its rows.
template <typename T>
struct PageOf {
  std::vector<T> rows;
  PageKey next;  ///< empty: this is the last page

  bool more() const { return !next.empty(); }
  std::size_t size() const { return rows.size(); }
  bool empty() const { return rows.empty(); }
  const T& front() const { return rows.front(); }
  const T& back() const { return rows.back(); }
  const T& operator[](std::size_t i) const { return rows[i]; }
  auto begin() const { return rows.begin(); }
  auto end() const { return rows.end(); }
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

/// Terminal state as reported on the state topic.
struct StateUpdate {
  proto::State state;
  int64_t seen_ms = 0;
};

/// What applying a state message did.
struct StateOutcome {
  bool applied = false;  ///< false when ignored as stale (offline Will from an older boot)
  uint64_t sync_version = 0;
};

/// The last signed sync bundle of a terminal.
struct StoredSync {
  uint64_t version = 0;
  std::string hash;
  std::string payload;  ///< sealed wire form, republished on (re)connect
};

class Store {
 public:
  virtual ~Store() = default;

  // ---- directory (each create is all-or-nothing; bad references change nothing)
  /// Creates a unit; conflict if the id exists, unknown_reference if parent is unknown.
  virtual Status add_unit(const Unit& u, int64_t now_ms) = 0;
  /// Creates a lab under a unit.
  virtual Status add_lab(const Lab& l, int64_t now_ms) = 0;
  /// Creates an instrument or door in a lab (with its access policy).
  virtual Status add_instrument(const Instrument& i, int64_t now_ms) = 0;
  /// Changes an instrument's require_booking and policy fields (those set in p); returns the
  /// instrument as stored afterwards; not_found if the id is unknown.
  virtual Result<Instrument> update_instrument_policy(const std::string& id, const InstrumentPolicyPatch& p,
                                                      int64_t now_ms) = 0;
  /// Sets (creates or replaces) the instrument's hourly fee standard.
  virtual Status put_fee_standard(const FeeStandard& f, int64_t now_ms) = 0;
  /// Creates a user.
  virtual Status add_user(const User& u, int64_t now_ms) = 0;
  /// Assigns an (already normalized) card uid to a user; conflict if the uid has an active owner.
  virtual Status add_card(const Card& c, int64_t now_ms) = 0;
  /// Sets (creates or replaces) a user's qualification on an instrument.
  virtual Status put_qualification(const Qualification& q, int64_t now_ms) = 0;
  /// Creates a booking if it overlaps no other on the instrument (checked and inserted in one
  /// BEGIN IMMEDIATE transaction). The interval must already be validated. not_allowed (naming
  /// the user and instrument) unless the user is an admin or holds a qualification on the
  /// instrument valid for the whole booking.
  virtual Result<BookingOutcome> create_booking(const Booking& b, int64_t now_ms) = 0;
  /// Enrols a terminal with its public key PEM.
  virtual Status add_terminal(const Terminal& t, int64_t now_ms) = 0;

  // Directory lists, paged by their key: units, labs, instruments, users and terminals by (id),
  // fee standards by (instrument), cards by (uid, row number), qualifications by (user,
  // instrument), bookings by (start_ms, id); all ascending.
  virtual Result<PageOf<Unit>> units(const Page& p) = 0;
  virtual Result<PageOf<Lab>> labs(const Page& p) = 0;
  virtual Result<PageOf<Instrument>> instruments(const Page& p) = 0;
  virtual Result<PageOf<FeeStandard>> fee_standards(const Page& p) = 0;
  virtual Result<PageOf<User>> users(const Page& p) = 0;
  virtual Result<PageOf<Card>> cards(const Page& p) = 0;
  virtual Result<PageOf<Qualification>> qualifications(const Page& p) = 0;
  virtual Result<PageOf<Booking>> bookings(const Page& p) = 0;
  virtual Result<PageOf<Terminal>> terminals(const Page& p) = 0;
  /// Every enrolled terminal (the sync service walks them all), by id.
  virtual Result<std::vector<Terminal>> terminals() = 0;
  /// One terminal, nullopt if not enrolled.
  virtual Result<std::optional<Terminal>> terminal(const std::string& id) = 0;

  // ---- sync bundles
  /// Directory data for building the terminal's bundle at now_ms.
  virtual Result<sync::Inputs> sync_inputs(const Terminal& t, int64_t now_ms) = 0;
  /// The last stored bundle of a terminal (version 0 if none).
  virtual Result<StoredSync> stored_sync(const std::string& terminal) = 0;
  /// Stores a new bundle version; fails unless version is above the stored one.
  virtual Status save_sync(const std::string& terminal, const StoredSync& s) = 0;

  // ---- ingest
  /// Commits a verified evt batch in ONE BEGIN IMMEDIATE transaction: records keyed by
  /// (terminal, seq) with dedup, derived access events, sessions and charges, ingest counters,
  /// and the terminal's contiguous acked seq. Nothing is written if it fails.
  virtual Result<IngestOutcome> commit_batch(const proto::EventBatch& batch, int64_t now_ms,
                                             const std::string& default_currency) = 0;
  /// Applies a verified state message (ignores an offline Will from an older boot).
  virtual Result<StateOutcome> apply_state(const StateUpdate& s) = 0;
  /// Counts one rejected MQTT payload under reason.
  virtual Status count_rejection(const std::string& reason) = 0;
  /// Counts one published ack.
  virtual Status count_ack() = 0;
  virtual Result<Stats> stats() = 0;

  // ---- queries (paged; memory per call is bounded by the page's limit)
  /// Access events, newest first: key (ts_ms, terminal, seq), all descending.
  virtual Result<PageOf<AccessEvent>> access_events(const AccessFilter& f) = 0;
  /// Usage sessions with their charge, newest first: key (start_ms, id), both descending.
  virtual Result<PageOf<UsageSession>> sessions(const SessionFilter& f) = 0;
  /// Charges whose session ended in [from_ms, to_ms), oldest first: key (end_ms, id) ascending.
  /// (The default page is the first 100.)
  virtual Result<PageOf<Charge>> charges(int64_t from_ms, int64_t to_ms, const Page& p = {}) = 0;

  // ---- reports (aggregated by the store; memory bounded by the number of groups)
  /// Sums of the charges whose session ended in [from_ms, to_ms) per instrument or per user
  /// (`by` is GroupBy::instrument or GroupBy::user; month is invalid), each with the directory
  /// name ("" when unknown), sorted by key. Every closed session has exactly one charge (amount
  /// 0 without a fee standard), so these are the usage totals.
  virtual Result<std::vector<report::GroupSum>> usage_groups(report::GroupBy by, int64_t from_ms,
                                                             int64_t to_ms) = 0;
  /// The sums over all charges whose session ended in [from_ms, to_ms) (key and name "").
  virtual Result<report::GroupSum> usage_total(int64_t from_ms, int64_t to_ms) = 0;
};

}  // namespace lg::server

template <>
struct std::is_error_code_enum<lg::server::StoreErrc> : std::true_type {};
