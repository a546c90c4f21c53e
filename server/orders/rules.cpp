#include "server/orders/rules.hpp"

#include <algorithm>
#include <cctype>

#include "labgate/common/csv.hpp"

namespace lg::server::orders {

namespace {

template <typename E>
struct Names {
  E value;
  const char* name;
};

constexpr Names<State> kStates[] = {{State::submitted, "submitted"},
                                    {State::accepted, "accepted"},
                                    {State::refused, "refused"},
                                    {State::samples_received, "samples_received"},
                                    {State::in_testing, "in_testing"},
                                    {State::results_uploaded, "results_uploaded"},
                                    {State::completed, "completed"},
                                    {State::confirmed, "confirmed"},
                                    {State::cancelled, "cancelled"}};
constexpr Names<Action> kActions[] = {{Action::submit, "submit"},
                                      {Action::accept, "accept"},
                                      {Action::refuse, "refuse"},
                                      {Action::receive, "receive"},
                                      {Action::start_testing, "start_testing"},
                                      {Action::upload_result, "upload_result"},
                                      {Action::complete, "complete"},
                                      {Action::confirm, "confirm"},
                                      {Action::cancel, "cancel"}};
constexpr Names<SampleForm> kForms[] = {{SampleForm::solid, "solid"}, {SampleForm::liquid, "liquid"},
                                        {SampleForm::powder, "powder"}, {SampleForm::gas, "gas"},
                                        {SampleForm::film, "film"},     {SampleForm::other, "other"}};
constexpr Names<Delivery> kDeliveries[] = {
    {Delivery::in_person, "in_person"}, {Delivery::courier, "courier"}, {Delivery::internal_mail, "internal_mail"}};

template <typename E, std::size_t N>
const char* name_of(const Names<E> (&table)[N], E v) {
  for (const auto& n : table)
    if (n.value == v) return n.name;
  return "?";
}

template <typename E, std::size_t N>
std::optional<E> value_of(const Names<E> (&table)[N], std::string_view s) {
  for (const auto& n : table)
    if (s == n.name) return n.value;
  return std::nullopt;
}

Verdict allow(State to, std::string rule) { return Verdict{to, Refusal::none, std::move(rule), ""}; }

Verdict refuse(Refusal why, std::string rule, const std::string& text) {
  return Verdict{std::nullopt, why, rule, "order rule " + rule + ": " + text};
}

std::string in_state(State s) { return std::string(" (the order is ") + to_string(s) + ")"; }

/// An admin-only step from exactly one state (or two) to `to`.
Verdict admin_step(State from, const Actor& who, std::string_view action, std::initializer_list<State> froms, State to,
                   const char* what) {
  const std::string name(action);
  if (!who.admin) return refuse(Refusal::role, name + ".admin_only", std::string("only an instrument admin ") + what);
  if (std::find(froms.begin(), froms.end(), from) == froms.end()) {
    std::string list;
    for (State s : froms) list += (list.empty() ? "" : " or ") + std::string(to_string(s));
    return refuse(Refusal::state, name + ".from_" + to_string(*froms.begin()),
                  std::string("an order is ") + what + " only when " + list + in_state(from));
  }
  return allow(to, name + ".by_admin");
}

}  // namespace

const char* to_string(State s) { return name_of(kStates, s); }
const char* to_string(Action a) { return name_of(kActions, a); }
const char* to_string(SampleForm f) { return name_of(kForms, f); }
const char* to_string(Delivery d) { return name_of(kDeliveries, d); }
std::optional<State> state_from(std::string_view s) { return value_of(kStates, s); }
std::optional<Action> action_from(std::string_view s) { return value_of(kActions, s); }
std::optional<SampleForm> sample_form_from(std::string_view s) { return value_of(kForms, s); }
std::optional<Delivery> delivery_from(std::string_view s) { return value_of(kDeliveries, s); }

bool final_state(State s) {
  switch (s) {
    case State::refused:
    case State::confirmed:
    case State::cancelled:
      return true;
    case State::submitted:
    case State::accepted:
    case State::samples_received:
    case State::in_testing:
    case State::results_uploaded:
    case State::completed:
      return false;
  }
  return false;
}

Verdict decide(State from, Action a, const Actor& who, const Facts& f) {
  switch (a) {
    case Action::submit:
      return refuse(Refusal::state, "submit.not_a_transition", "an order is submitted once, when it is created");
    case Action::accept:
      return admin_step(from, who, "accept", {State::submitted}, State::accepted, "accepts an order");
    case Action::refuse: {
      Verdict v = admin_step(from, who, "refuse", {State::submitted}, State::refused, "refuses an order");
      if (v.ok() && f.reason.empty())
        return refuse(Refusal::facts, "refuse.reason_required", "a refusal gives its reason");
      return v;
    }
    case Action::receive:
      return admin_step(from, who, "receive", {State::accepted}, State::samples_received,
                        "records the samples as received");
    case Action::start_testing: {
      Verdict v = admin_step(from, who, "start_testing", {State::samples_received}, State::in_testing,
                             "starts testing (links the usage session)");
      if (!v.ok()) return v;
      if (!f.session_known)
        return refuse(Refusal::facts, "start_testing.session_known", "the session is not in the usage records");
      if (!f.session_same_instrument)
        return refuse(Refusal::facts, "start_testing.same_instrument",
                      "the session was on another instrument than the order's");
      return v;
    }
    case Action::upload_result:
      return admin_step(from, who, "upload_result", {State::in_testing, State::results_uploaded},
                        State::results_uploaded, "uploads results");
    case Action::complete: {
      Verdict v = admin_step(from, who, "complete", {State::results_uploaded}, State::completed, "completes an order");
      if (v.ok() && f.results < 1)
        return refuse(Refusal::facts, "complete.result_required", "an order is completed with at least one result");
      return v;
    }
    case Action::confirm:
      if (!who.owner) return refuse(Refusal::role, "confirm.owner_only", "only the submitter confirms an order");
      if (from != State::completed)
        return refuse(Refusal::state, "confirm.from_completed",
                      "an order is confirmed only when completed" + in_state(from));
      return allow(State::confirmed, "confirm.by_owner");
    case Action::cancel: {
      if (!who.owner && !who.admin)
        return refuse(Refusal::role, "cancel.owner_or_admin", "only the submitter or an instrument admin cancels an order");
      const bool early = from == State::submitted || from == State::accepted;
      if (who.owner && early) return allow(State::cancelled, "cancel.by_owner");
      const bool admin_may = early || from == State::samples_received || from == State::in_testing;
      if (who.admin && admin_may) {
        if (f.reason.empty())
          return refuse(Refusal::facts, "cancel.admin_reason_required", "an admin cancelling an order gives the reason");
        return allow(State::cancelled, "cancel.by_admin");
      }
      if (!admin_may)
        return refuse(Refusal::state, "cancel.not_after_testing",
                      "an order cannot be cancelled once refused, cancelled or past testing" + in_state(from));
      return refuse(Refusal::state, "cancel.owner_until_accepted",
                    "the submitter cancels only while the order is submitted or accepted; ask an instrument admin" +
                        in_state(from));
    }
  }
  return refuse(Refusal::state, "unknown_action", "unknown action");
}

std::optional<std::string> validate(const Order& o) {
  if (o.sample_count < 1 || o.sample_count > kMaxSamples)
    return "sample_count: must be in 1.." + std::to_string(kMaxSamples);
  if (static_cast<int64_t>(o.sample_names.size()) > o.sample_count)
    return "sample_names: " + std::to_string(o.sample_names.size()) + " names for " + std::to_string(o.sample_count) +
           " samples";
  for (const auto& n : o.sample_names)
    if (n.empty()) return "sample_names: a name must not be empty";
  if (o.tests.empty()) return "tests: must say which tests are requested";
  if (o.parameters.size() > kMaxParams) return "parameters: at most " + std::to_string(kMaxParams);
  for (std::size_t i = 0; i < o.parameters.size(); ++i) {
    if (o.parameters[i].key.empty()) return "parameters: a key must not be empty";
    for (std::size_t j = 0; j < i; ++j)
      if (o.parameters[j].key == o.parameters[i].key) return "parameters: key '" + o.parameters[i].key + "' twice";
  }
  if (o.account.empty()) return "account: must name the account to charge";
  if (o.fee_lines.size() > kMaxFeeLines) return "fee_lines: at most " + std::to_string(kMaxFeeLines);
  for (const auto& l : o.fee_lines) {
    if (l.code.empty()) return "fee_lines: a line needs its code";
    if (l.quantity < 1) return "fee_lines: quantity of " + l.code + " must be at least 1";
  }
  return std::nullopt;
}

Verdict attachment_verdict(State s, const Actor& who, bool result) {
  if (result) return decide(s, Action::upload_result, who, Facts{});
  if (!who.owner && !who.admin)
    return refuse(Refusal::role, "attach.owner_or_admin", "only the submitter or an instrument admin adds files");
  if (final_state(s) || s == State::completed)
    return refuse(Refusal::state, "attach.open_orders", "files are added only to open orders" + in_state(s));
  return allow(s, who.admin ? "attach.by_admin" : "attach.by_owner");
}

std::string sniff(std::string_view b) {
  auto starts = [&](std::string_view magic) { return b.substr(0, magic.size()) == magic; };
  if (starts("%PDF-")) return "application/pdf";
  if (starts(std::string_view("\x89PNG\r\n\x1a\n", 8))) return "image/png";
  if (starts("\xFF\xD8\xFF")) return "image/jpeg";
  if (starts(std::string_view("PK\x03\x04", 4)) || starts(std::string_view("PK\x05\x06", 4))) return "application/zip";
  if (!csv::valid_utf8(b)) return "";
  for (unsigned char c : b) {
    if ((c < 0x20 && c != '\t' && c != '\r' && c != '\n') || c == 0x7f) return "";
  }
  return "text";
}

std::string clean_filename(std::string_view name) {
  const auto slash = name.find_last_of("/\\");
  if (slash != std::string_view::npos) name = name.substr(slash + 1);
  std::string out;
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f || c == '"' || c == ';' || c == '\\') continue;
    out.push_back(static_cast<char>(c));
  }
  if (out.size() > 200) {
    std::size_t cut = 200;
    while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;  // not inside a character
    out.resize(cut);
  }
  if (!csv::valid_utf8(out)) return "";
  if (out.find_first_not_of('.') == std::string::npos) return "";
  return out;
}

AttachmentCheck check_attachment(std::string_view declared_type, std::string_view filename, std::string_view bytes,
                                 int64_t limit) {
  AttachmentCheck c;
  if (static_cast<int64_t>(bytes.size()) > limit) {
    c.status = 413;
    c.reason = "attachment larger than orders.attachment_limit (" + std::to_string(bytes.size()) + " > " +
               std::to_string(limit) + " bytes)";
    return c;
  }
  c.name = clean_filename(filename);
  if (c.name.empty()) {
    c.status = 422;
    c.reason = "invalid query: name: the file name (?name=) is missing or has nothing printable";
    return c;
  }
  std::string type(declared_type.substr(0, declared_type.find(';')));
  while (!type.empty() && type.back() == ' ') type.pop_back();
  while (!type.empty() && type.front() == ' ') type.erase(type.begin());
  for (auto& ch : type) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  std::string allowed;
  bool known = false;
  for (auto t : kAllowedTypes) {
    allowed += (allowed.empty() ? "" : ", ") + std::string(t);
    known = known || type == t;
  }
  if (!known) {
    c.status = 415;
    c.reason = "attachment type '" + type + "' is not allowed (allowed: " + allowed + ")";
    return c;
  }
  const std::string seen = sniff(bytes);
  const bool text_type = type == "text/csv" || type == "text/plain";
  if ((text_type && seen != "text") || (!text_type && seen != type)) {
    c.status = 415;
    c.reason = "attachment content is not " + type + " (it looks like " + (seen.empty() ? "none of the allowed types" : seen) + ")";
    return c;
  }
  c.content_type = type;
  return c;
}

}  // namespace lg::server::orders
