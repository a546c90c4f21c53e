// The bundle rule: what a terminal's sync bundle holds, built from directory data. Pure: no
// I/O, deterministic order.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "labgate/common/protocol.hpp"
#include "server/booking/model.hpp"
#include "server/directory/model.hpp"
#include "server/qualification/model.hpp"

namespace lg::server::sync {

/// Bookings from now - kBookingsBeforeMs to now + kBookingsAfterMs go into a bundle.
inline constexpr int64_t kBookingsBeforeMs = 24LL * 3600 * 1000;
inline constexpr int64_t kBookingsAfterMs = 7LL * 24 * 3600 * 1000;
/// Qualifications that expired less than this long ago still go into a bundle (with their end),
/// so the door tells a user whose training lapsed "not valid now" instead of "unknown card".
inline constexpr int64_t kRecentlyExpiredMs = 30LL * 24 * 3600 * 1000;
/// Cards reported lost or revoked less than this long ago go into a bundle as denials
/// (card_revoked), so the door names the reason; older ones are simply unknown.
inline constexpr int64_t kRecentlyEndedMs = 30LL * 24 * 3600 * 1000;

/// Everything a bundle is built from. The store may provide more than needed; the builder
/// filters (other resources, expired qualifications, inactive cards, cancelled bookings and
/// bookings outside the window).
struct Inputs {
  std::string terminal;
  std::string resource;
  std::optional<Instrument> instrument;  ///< empty if the resource is unknown (bundle has no grants)
  std::vector<User> users;
  std::vector<Card> cards;
  std::vector<Qualification> qualifications;
  std::vector<Booking> bookings;
  /// The site's IANA time zone (staffed hours and lapse months are counted in it).
  std::string zone = "UTC";
  /// The instrument's booking policy (its staffed hours and lapse_months); nullopt = defaults.
  std::optional<BookingPolicy> booking_policy{};
  /// Site holidays and the resource's closures overlapping the coming weeks.
  std::vector<Closure> closures{};
  /// user -> start of their latest session on the resource (a qualification lapses unused).
  std::map<std::string, int64_t> last_use{};
};

/// How far ahead a bundle lists closures (beyond the terminal's offline grace).
inline constexpr int64_t kClosuresAheadMs = 8LL * 24 * 3600 * 1000;
/// How far ahead the stores load closures for build() to choose from.
inline constexpr int64_t kClosuresWindowMs = 400LL * 24 * 3600 * 1000;

/// The bundle: grants = active cards of users holding a qualification for the resource that is
/// valid now, starts later, or expired less than kRecentlyExpiredMs ago (each with its window, so
/// the terminal enforces expiry itself, also offline), plus every admin user's active cards (admin = true, no validity limits); bookings on
/// the resource overlapping [now - 1 d, now + 7 d) that are active (not cancelled); the policy (require_booking, early_start_s,
/// grace_after_end_s, offline_grace_s, max_session_s) from the instrument, protocol defaults
/// when the resource is unknown.
/// Only active users' active cards are granted (a temporary card's grant ends at its end date);
/// the cards of suspended or departed users who would be granted here are denials with reason
/// user_suspended, lost and revoked cards of such users (ended within kRecentlyEndedMs) denials
/// with card_revoked, unless the uid was issued again to someone granted here. The bundle
/// carries the instrument's status (not normal: the terminal refuses all but admins).
/// Grants and denials are sorted by card, bookings by start then id. Cards are uids and users
/// directory ids here (card_form uid): make_private() gives the form that is published.
/// Levels (issue 10): each grant carries its qualification's level and ends at the earlier of its
/// end and its lapse (qualification::lapses_at with the policy's lapse_months and last_use); when a
/// grant's level is below after_hours, the policy carries the zone, the staffed hours
/// (booking::staffed_hours) and the holidays and blackouts (not maintenance) from a day back to
/// offline_grace + kClosuresAheadMs ahead as `closed`; bookings carry their staffed mark.
proto::SyncBundle build(const Inputs& in, int64_t now_ms, uint64_t version);

/// The two keys a terminal's bundle is made private with: card digests (LinkKeys::card, which the
/// terminal derives too) and user pseudonyms (proto::pseudonym_key, the server's alone).
struct SubjectKeys {
  std::string card;
  std::string pseudonym;
};

/// What the server must remember to attribute the terminal's records: every pseudonym a bundle
/// names, with the directory user it stands for.
struct Pseudonym {
  std::string pseudonym;
  std::string user;
  bool operator==(const Pseudonym&) const = default;
};

/// Turns a built bundle (cards as uids, users as directory ids) into the form that goes on the
/// wire: every card of grants and denials its keyed digest, every user of grants, denials and
/// bookings its pseudonym, card_form hmac_sha256_128; grants and denials sorted by digest (so the
/// order tells nothing about the uids). `issued` gets one entry per distinct user, sorted.
proto::SyncBundle make_private(proto::SyncBundle b, const SubjectKeys& keys, std::vector<Pseudonym>& issued);

/// Hash of the bundle's content, ignoring version and issued_ms: equal hashes mean the
/// terminal would decide identically, so no new version is needed.
std::string content_hash(const proto::SyncBundle& bundle);

}  // namespace lg::server::sync
