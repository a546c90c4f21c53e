// The sample-order rules as functions of plain values: who may move an order from which state
// to which (decide), what a new order must hold (validate), what an attachment may be
// (check_attachment, sniff). orders::Service loads the facts and applies the verdict in one unit
// of work; the routes only translate.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "server/orders/model.hpp"

namespace lg::server::orders {

/// Who is acting on an order, as far as the rules care. Both may hold (a system admin who
/// submitted their own order).
struct Actor {
  bool owner = false;  ///< holds Right::self over the order's user (the submitter)
  bool admin = false;  ///< holds Right::instrument_write over the order's instrument
};

/// What a transition looks at besides the state and the actor.
struct Facts {
  std::string reason;            ///< the reason given with the request ("" = none)
  bool session_known = false;    ///< start_testing: the session exists in the usage store
  bool session_same_instrument = false;  ///< ... and is on the order's instrument
  int64_t results = 0;           ///< result attachments stored (complete needs one)
};

/// Why a transition is refused: the caller's role (403), the order's state (409), or a missing or
/// wrong fact (422).
enum class Refusal { none, role, state, facts };

/// The verdict of decide(): the new state, or a refusal with the rule it breaks.
struct Verdict {
  std::optional<State> to;
  Refusal refusal = Refusal::none;
  std::string rule;    ///< the rule's name, e.g. "accept.admin_only" (also set on success: which rule allowed it)
  std::string reason;  ///< for people: "order rule accept.admin_only: only an instrument admin accepts an order"
  bool ok() const { return to.has_value(); }
};

/// The transition table. From a state, an action by an actor with facts gives the new state or a
/// refusal naming the rule:
/// - accept / refuse (reason required) / receive / start_testing (a known session on the same
///   instrument) / upload_result / complete (at least one result): instrument admins only, from
///   submitted / submitted / accepted / samples_received / in_testing or results_uploaded /
///   results_uploaded;
/// - confirm: the owner, from completed;
/// - cancel: the owner while submitted or accepted (reason optional); an admin until in_testing
///   (included) with a reason; nobody later.
/// The role is checked first, then the state, then the facts. submit is never a transition.
Verdict decide(State from, Action a, const Actor& who, const Facts& f);

/// True for the states nothing leaves (refused, confirmed, cancelled).
bool final_state(State s);

/// Longest free texts of an order.
inline constexpr std::size_t kMaxText = 4000;
/// Most samples, names, parameters and fee lines one order holds.
inline constexpr int64_t kMaxSamples = 1000;
inline constexpr std::size_t kMaxParams = 100;
inline constexpr std::size_t kMaxFeeLines = 50;

/// What a new order must hold; the reason names the field ("sample_names: 3 names for 2
/// samples"), nullopt if valid. Ids and texts are checked by the route's field reader.
std::optional<std::string> validate(const Order& o);

/// Who may add an attachment now: the owner or an admin while the order is not final or
/// completed (a non-result file); only an admin, in_testing or results_uploaded, for a result
/// (decide(upload_result) then moves the order). The verdict's to is the state after the upload.
Verdict attachment_verdict(State s, const Actor& who, bool result);

// ---- attachments: size and type

/// The content types an attachment may have.
inline constexpr std::string_view kAllowedTypes[] = {"application/pdf", "image/png", "image/jpeg",
                                                     "text/csv",        "text/plain", "application/zip"};

/// The type the first bytes show: application/pdf, image/png, image/jpeg, application/zip, or
/// "text" (valid UTF-8 without control characters other than tab, CR, LF; an empty file too),
/// "" when none of these.
std::string sniff(std::string_view bytes);

/// The outcome of check_attachment.
struct AttachmentCheck {
  int status = 0;            ///< 0 ok, 413 too big, 415 type not allowed or not what it says, 422 bad name
  std::string reason;
  std::string content_type;  ///< the type stored (declared, without parameters, lower case)
  std::string name;          ///< the cleaned file name
};

/// Checks an upload: size <= limit (413), a file name (422 when empty after cleaning), the
/// declared Content-Type (parameters such as charset dropped) in kAllowedTypes and the content
/// sniffed as that type (text for text/csv and text/plain) (415).
AttachmentCheck check_attachment(std::string_view declared_type, std::string_view filename, std::string_view bytes,
                                 int64_t limit);

/// A file name safe to show in a header: the last path segment, control characters, quotes,
/// backslashes and semicolons removed, at most 200 bytes (cut at a character boundary); ""
/// when nothing is left (or only dots).
std::string clean_filename(std::string_view name);

}  // namespace lg::server::orders
