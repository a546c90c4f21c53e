// The terminal <-> server protocol, defined once: topics, record kinds, bodies, the signed
// envelope, limits and versions. docs/PROTOCOL.md describes the same with examples;
// tests/common/protocol_test.cpp holds golden vectors.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "labgate/common/card_uid.hpp"
#include "labgate/common/result.hpp"

namespace lg::crypto {
class PrivateKey;
class PublicKey;
}  // namespace lg::crypto

namespace lg::proto {

/// Protocol version carried in every envelope ("v") and in the topic root ("lg/v1").
inline constexpr int kVersion = 1;
/// Largest payload either side accepts on any topic.
inline constexpr std::size_t kMaxPayload = 256 * 1024;
/// Most records in one evt batch.
inline constexpr std::size_t kMaxBatch = 500;
/// Longest string field (card uid, user id, reason detail...).
inline constexpr std::size_t kMaxField = 256;
/// Largest unsigned value on the wire (seq, boot, versions, depths): 2^63 - 1, so that every
/// number fits the signed 64-bit integers both stores keep. Larger values are refused.
inline constexpr uint64_t kMaxWireUnsigned = 9'223'372'036'854'775'807ULL;
/// The key id the server signs with.
inline constexpr std::string_view kServerKid = "server";

// ---------------------------------------------------------------- topics

enum class Channel { state, evt, ack, sync, cmd, cmdres };

/// "lg/v1/{site}/{terminal}/{channel}".
std::string topic(std::string_view site, std::string_view terminal, Channel channel);
/// "lg/v1/{site}/+/{channel}": what the server subscribes to.
std::string topic_filter(std::string_view site, Channel channel);

struct TopicParts {
  std::string site;
  std::string terminal;
  Channel channel;
};
/// Splits a topic; nullopt if it is not a well-formed labgate v1 topic.
std::optional<TopicParts> parse_topic(std::string_view topic);

/// Ids (site, terminal, user, resource, booking): 1..64 of [A-Za-z0-9_.:-].
bool valid_id(std::string_view id);
// Card uids: lg::CardUid (card_uid.hpp) validates and normalises them; decoded records and
// bundles hold the canonical form already.

const char* to_string(Channel c);

// ---------------------------------------------------------------- records

enum class RecordKind { access, session_start, session_end, meter_sample, alarm, video };
enum class Decision { granted, denied };
/// Why a decision came out as it did.
enum class Reason {
  qualified,        ///< granted: holds a valid qualification, no booking required
  booked,           ///< granted: qualification + a booking covering now
  admin,            ///< granted: admin card
  fail_open,        ///< granted: terminal could not decide and the output is fail-open
  swipe_out,        ///< the holder ended their session (recorded as granted)
  unknown_card,     ///< denied: card not in the terminal's grants for this resource
  not_valid_now,    ///< denied: qualification not yet valid or expired
  no_booking,       ///< denied: policy requires a booking and none covers now
  in_use,           ///< denied: another user's session is open
  cache_expired,    ///< denied: offline longer than the grace age, output fail-closed
  no_acl,           ///< denied: terminal has never received a sync bundle, fail-closed
  output_fault,     ///< denied: relay could not be switched
  card_revoked,     ///< denied: the card was reported lost or revoked (the bundle's denials)
  user_suspended,   ///< denied: the card's holder is suspended or has left (the bundle's denials)
  instrument_unavailable,  ///< denied: the resource is under maintenance, disabled or to be scrapped
  not_qualified,    ///< denied: a known card whose holder holds no qualification here (server's view)
  outside_hours,    ///< denied: the holder's level allows the staffed hours only, and now is not in them
  needs_staff,      ///< denied: a supervised holder whose booking covering now is not marked staffed
};
/// Whether the terminal was connected when deciding.
enum class Mode { online, offline };
enum class EndReason { swipe_out, booking_end, max_duration, admin, idle, crash_recovered, shutdown };

struct Access {
  std::string card;
  std::string user;       ///< "" when unknown to the terminal
  std::string resource;   ///< instrument or door id
  std::string output;     ///< board output name
  Decision decision = Decision::denied;
  Reason reason = Reason::unknown_card;
  Mode mode = Mode::online;
  uint64_t acl_version = 0;  ///< sync bundle version the decision used (0 = none)
  std::string booking;       ///< booking id that allowed it, or ""
  bool operator==(const Access&) const = default;
};

struct SessionStart {
  std::string session;  ///< uuid chosen by the terminal
  std::string card;
  std::string user;
  std::string resource;
  std::string booking;
  std::optional<int64_t> meter_wh;  ///< cumulative meter reading at start, Wh
  bool operator==(const SessionStart&) const = default;
};

struct SessionEnd {
  std::string session;
  std::string card;
  std::string user;
  std::string resource;
  std::string booking;
  int64_t start_ms = 0;     ///< UTC wall clock at start
  int64_t end_ms = 0;       ///< UTC wall clock at end
  int64_t duration_ms = 0;  ///< measured with the monotonic clock (authoritative for billing)
  std::optional<int64_t> energy_wh;  ///< from the meter's cumulative counter; empty if unknown
  EndReason end_reason = EndReason::swipe_out;
  std::vector<std::string> flags;    ///< "recovered", "clock_unsynced", "meter_reset", "meter_unavailable", "crash_closed"
  bool operator==(const SessionEnd&) const = default;
};

struct MeterSample {
  std::string resource;
  int64_t power_w = 0;
  int64_t energy_wh = 0;
  bool operator==(const MeterSample&) const = default;
};

struct Alarm {
  std::string code;    ///< "relay_fault", "meter_fault", "tamper", "outbox_full"...
  std::string detail;
  bool operator==(const Alarm&) const = default;
};

struct Video {
  std::string target;  ///< NVR / camera id
  bool ok = false;
  std::string detail;
  bool operator==(const Video&) const = default;
};

using RecordBody = std::variant<Access, SessionStart, SessionEnd, MeterSample, Alarm, Video>;

/// One record in a terminal's outbox and on the wire.
struct Record {
  uint64_t seq = 0;          ///< per-terminal, only grows, survives restarts; >= 1
  std::string id;            ///< uuid, unique across all terminals
  int64_t ts_ms = 0;         ///< UTC wall clock when it happened
  bool clock_synced = false; ///< whether the terminal's clock was NTP-synced then
  RecordBody body;
  RecordKind kind() const;
  bool operator==(const Record&) const = default;
};

// ---------------------------------------------------------------- message bodies

/// terminal -> server on evt: a batch of records in ascending seq.
struct EventBatch {
  std::string terminal;
  uint64_t boot = 0;
  std::vector<Record> records;
  bool operator==(const EventBatch&) const = default;
};

/// server -> terminal on ack: every seq <= this is committed on the server.
struct Ack {
  std::string terminal;
  uint64_t seq = 0;
  bool operator==(const Ack&) const = default;
};

/// terminal -> retained state topic: birth (online) and Last Will (offline, same boot).
struct State {
  std::string terminal;
  bool online = false;
  uint64_t boot = 0;
  std::string firmware;
  std::string board;
  std::string resource;
  uint64_t acl_version = 0;
  uint64_t outbox_depth = 0;
  bool clock_synced = false;
  int64_t ts_ms = 0;
  bool operator==(const State&) const = default;
};

/// Booking rules the terminal applies at the door.
/// What a grant lets its holder do, weakest first (the server's qualification levels): a level
/// implies every weaker one. "level" on the wire; absent = after_hours (a bundle from before).
enum class Level {
  supervised,   ///< within the staffed hours, in a booking an admin marked staffed
  independent,  ///< alone, within the staffed hours
  after_hours,  ///< alone, at any hour
};

/// [from_min, to_min) minutes of one local ISO weekday (1 = Monday .. 7 = Sunday).
struct WeekSpan {
  int32_t day = 1;
  int32_t from_min = 0;
  int32_t to_min = 1440;
  bool operator==(const WeekSpan&) const = default;
};

/// [start_ms, end_ms) in UTC.
struct Span {
  int64_t start_ms = 0;
  int64_t end_ms = 0;
  bool operator==(const Span&) const = default;
};

struct Policy {
  bool require_booking = false;
  int64_t early_start_s = 900;       ///< may start this long before a booking
  int64_t grace_after_end_s = 300;   ///< power stays on this long after booking end
  int64_t offline_grace_s = 86400;   ///< cached grants honoured this long after last sync while offline
  int64_t max_session_s = 0;         ///< 0 = unlimited when no booking bounds the session
  /// The site's IANA time zone the staffed hours are counted in ("zone"; "" when absent).
  std::string zone{};
  /// When staff are on duty ("staffed_hours", local time in `zone`). Holders below after_hours
  /// may start only then. nullopt (absent: a bundle from before levels) = at every hour.
  std::optional<std::vector<WeekSpan>> staffed_hours{};
  /// Site holidays and the instrument's blackouts ("closed"): not staffed, whatever the weekday.
  std::vector<Span> closed{};
  bool operator==(const Policy&) const = default;
};

/// How a bundle names cards ("card_digest" in its body; docs/PROTOCOL.md "Cards and users in
/// the bundle").
enum class CardForm {
  uid,              ///< legacy (no "card_digest"): the canonical card uid itself
  hmac_sha256_128,  ///< "hmac-sha256-128": card_digest() under the terminal's card key
};

/// A card allowed on this terminal's resource.
struct Grant {
  std::string card;  ///< the card's digest (CardForm::hmac_sha256_128) or, in a legacy bundle, its uid
  std::string user;  ///< the holder's pseudonym for this terminal (user_pseudonym); a directory id in a legacy bundle
  std::string category;  ///< "internal" | "external"
  bool admin = false;
  int64_t valid_from_ms = 0;
  std::optional<int64_t> valid_until_ms;  ///< empty = no expiry
  Level level = Level::after_hours;       ///< "level"; absent = after_hours
  bool operator==(const Grant&) const = default;
};

struct BookingSlot {
  std::string id;
  std::string user;  ///< the booker's pseudonym, as in the grants
  int64_t start_ms = 0;
  int64_t end_ms = 0;
  bool staffed = false;  ///< "staffed": staff will be present (a supervised holder may use it); absent = false
  bool operator==(const BookingSlot&) const = default;
};

/// A card the terminal must refuse with its own reason (card_revoked or user_suspended) rather
/// than as unknown: the lost and revoked cards and the suspended or departed holders of cards
/// that would otherwise be granted here.
struct Denial {
  std::string card;  ///< as Grant::card
  std::string user;  ///< as Grant::user
  Reason reason = Reason::card_revoked;
  bool operator==(const Denial&) const = default;
};

/// The resource's state (正常/维修/停用/待报废): anything but normal denies every card but an
/// admin's as instrument_unavailable.
enum class ResourceStatus { normal, maintenance, disabled, pending_scrap };

/// server -> terminal on sync (retained): everything the terminal needs to decide alone.
/// Applied atomically; a version not above the applied one is ignored.
struct SyncBundle {
  std::string terminal;
  uint64_t version = 0;
  int64_t issued_ms = 0;
  std::string resource;
  Policy policy;
  std::vector<Grant> grants;
  std::vector<BookingSlot> bookings;
  ResourceStatus status = ResourceStatus::normal;  ///< "status" on the wire; absent = normal
  std::vector<Denial> denials;                     ///< "denials" on the wire; absent = none
  /// What grants' and denials' `card` hold ("card_digest" on the wire; absent = uid, a bundle
  /// from a server before digests). The server always builds hmac_sha256_128.
  CardForm card_form = CardForm::hmac_sha256_128;
  bool operator==(const SyncBundle&) const = default;
};

// ---------------------------------------------------------------- card digests, pseudonyms

/// Hex characters of a card digest: 128 bits.
inline constexpr std::size_t kCardDigestHex = 32;
/// The wire name of the current card form.
inline constexpr std::string_view kCardDigestName = "hmac-sha256-128";

/// A card as a bundle names it: the first 16 bytes of HMAC-SHA-256 under the terminal's card key
/// (LinkKeys::card) of the card's canonical uid, lower-case hex (32 characters). Terminal and
/// server compute the same value; another terminal's key gives another value.
std::string card_digest(std::string_view card_key, const CardUid& card);
/// True iff s has the form of a card digest (32 lower-case hex characters).
bool valid_card_digest(std::string_view s);

/// The key a terminal's user pseudonyms are made with. Only the server can derive it: HKDF over
/// the ECDH secret of the server key with its own public key (site and terminal in the info), so
/// neither a broker reader nor a stolen terminal can test a guessed user id against a pseudonym.
Result<std::string> pseudonym_key(const crypto::PrivateKey& server_key, std::string_view site,
                                  std::string_view terminal);
/// A user's pseudonym in one terminal's bundle: "p-" and the first 16 bytes of
/// HMAC-SHA-256(pseudonym_key, user id) in lower-case hex (34 characters, a valid id). Stable
/// while the server key is, different on every terminal.
std::string user_pseudonym(std::string_view pseudonym_key, std::string_view user);
/// True iff s has the form of a pseudonym ("p-" and 32 lower-case hex characters). A directory id
/// may have that form too: only the server's table of the pseudonyms it issued decides.
bool looks_like_pseudonym(std::string_view s);

// ---------------------------------------------------------------- remote commands

/// What a command asks of a terminal.
enum class CommandKind { unlock, lock, resync, video };
/// How a terminal answered a command.
enum class CommandOutcome {
  done,         ///< executed
  refused,      ///< not executed: reason says why (unsigned, bad_signature, expired, ...)
  unsupported,  ///< authentic, but this terminal does not execute this kind (yet)
  failed,       ///< executed and failed: reason says why
};

/// Longest lifetime (expires - issued) of a command: a terminal remembers the ids it executed
/// until they expire, so this bounds what it keeps.
inline constexpr int64_t kMaxCommandLifetimeMs = 24LL * 3600 * 1000;
/// Most entries in a command's args.
inline constexpr std::size_t kMaxCommandArgs = 16;

/// server -> terminal on cmd (not retained, QoS 1), always sealed es256 by the server key.
struct Command {
  std::string id;  ///< unique (uuid); a terminal executes an id at most once
  CommandKind kind = CommandKind::resync;
  std::string terminal;
  int64_t issued_ms = 0;
  int64_t expires_ms = 0;  ///< refused (expired) from then on
  std::map<std::string, std::string> args;  ///< kind-specific, short strings
  bool operator==(const Command&) const = default;
};

/// terminal -> server on cmdres: what became of a command (sealed like evt).
struct CommandResult {
  std::string terminal;
  std::string id;  ///< the command's id; "" when it could not be read (e.g. unsigned garbage)
  CommandOutcome outcome = CommandOutcome::refused;
  std::string reason;  ///< refused: unsigned | bad_signature | malformed | expired | not_for_me | replayed;
                       ///< unsupported/failed: a short text; done: ""
  int64_t ts_ms = 0;
  bool operator==(const CommandResult&) const = default;
};

// ---------------------------------------------------------------- encode / decode
// encode_* return the body JSON text; decode_* validate every field and name the first
// problem ("records[3].seq: must be >= 1").

std::string encode(const EventBatch& m);
std::string encode(const Ack& m);
std::string encode(const State& m);
std::string encode(const SyncBundle& m);
std::string encode(const Command& m);
std::string encode(const CommandResult& m);
/// One record as JSON text (also the outbox's stored form).
std::string encode(const Record& r);

Result<EventBatch> decode_event_batch(std::string_view body);
Result<Ack> decode_ack(std::string_view body);
Result<State> decode_state(std::string_view body);
/// Refuses an unknown "card_digest" ("card_digest: unknown \"x\" (this terminal reads
/// hmac-sha256-128)") and, in hmac-sha256-128 bundles, cards that are not digests.
Result<SyncBundle> decode_sync(std::string_view body);
/// Also refuses expires <= issued and a lifetime above kMaxCommandLifetimeMs.
Result<Command> decode_command(std::string_view body);
Result<CommandResult> decode_command_result(std::string_view body);
Result<Record> decode_record(std::string_view json);

// ---------------------------------------------------------------- authenticated envelope
// Wire form on every topic: {"v":1,"kid":"<sender>","alg":"es256"|"hs256","body":"<body JSON>","sig":"<base64>"}
// es256 (also when "alg" is absent): sig = ECDSA-P256-SHA256 over the exact bytes of body, DER.
// hs256: sig = HMAC-SHA256 over the exact bytes of body under the link key of the sender's
// direction (LinkKeys below): 32 bytes. docs/PROTOCOL.md "Authentication" says which is used where.

/// How an envelope is authenticated.
enum class Auth : uint8_t {
  signature,  ///< "es256": ECDSA P-256 by the sender's key; anyone with its public key can check it
  mac,        ///< "hs256": HMAC-SHA256 under a key only the terminal and the server hold
};

struct Envelope {
  int v = kVersion;
  std::string kid;   ///< terminal id, or "server"
  Auth alg = Auth::signature;
  std::string body;  ///< JSON text of the message body
  std::string sig;   ///< DER signature or 32-byte MAC (decoded)
};

/// The two MAC keys of one terminal's link, one per direction. Both ends derive them without a
/// message exchange: HKDF-SHA256 over the ECDH secret of the terminal's key and the server's key
/// (static-static), with the site and terminal id in the info, so a key is bound to one link.
struct LinkKeys {
  std::string up;    ///< terminal -> server (evt, state, cmdres)
  std::string down;  ///< server -> terminal (ack)
  std::string card;  ///< the card digest key (card_digest): info "card"
};

/// Derives a terminal's link keys from one side's private key and the other side's public key.
Result<LinkKeys> link_keys(const crypto::PrivateKey& mine, const crypto::PublicKey& peer, std::string_view site,
                           std::string_view terminal);

/// Signs body with key and wraps it (alg es256). Fails only if signing fails.
Result<std::string> seal(std::string_view body, std::string_view kid, const crypto::PrivateKey& key);
/// MACs body with a link key and wraps it (alg hs256). Never fails.
std::string seal_mac(std::string_view body, std::string_view kid, std::string_view mac_key);
/// Parses the envelope (size limit, JSON, version, alg, fields, base64). Does not verify.
Result<Envelope> open(std::string_view wire);
/// True iff env is an es256 envelope whose sig is a valid signature over env.body by key.
bool verify(const Envelope& env, const crypto::PublicKey& key);
/// True iff env is an hs256 envelope whose sig is the MAC of env.body under mac_key.
bool verify_mac(const Envelope& env, std::string_view mac_key);
/// The wire name of an alg ("es256", "hs256").
const char* to_string(Auth a);

const char* to_string(RecordKind k);
const char* to_string(Decision d);
const char* to_string(Reason r);
const char* to_string(Mode m);
const char* to_string(EndReason r);
std::optional<Reason> reason_from(std::string_view s);
/// "supervised" | "independent" | "after_hours".
const char* to_string(Level l);
std::optional<Level> level_from(std::string_view s);
/// "normal" | "maintenance" | "disabled" | "pending_scrap".
const char* to_string(ResourceStatus s);
std::optional<ResourceStatus> resource_status_from(std::string_view s);
std::optional<EndReason> end_reason_from(std::string_view s);
/// "uid" | "hmac-sha256-128".
const char* to_string(CardForm f);
/// "unlock" | "lock" | "resync" | "video".
const char* to_string(CommandKind k);
std::optional<CommandKind> command_kind_from(std::string_view s);
/// "done" | "refused" | "unsupported" | "failed".
const char* to_string(CommandOutcome o);

}  // namespace lg::proto
