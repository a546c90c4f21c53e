#include "server/notify/rules.hpp"

#include <array>
#include <limits>

namespace lg::server::notify {

namespace {

template <typename E>
struct Names {
  E value;
  const char* name;
};

constexpr std::array<Names<Kind>, 18> kKinds{{
    {Kind::booking_confirmed, "booking_confirmed"},
    {Kind::booking_pending, "booking_pending"},
    {Kind::booking_approved, "booking_approved"},
    {Kind::booking_refused, "booking_refused"},
    {Kind::waitlist_promoted, "waitlist_promoted"},
    {Kind::booking_cancelled_maintenance, "booking_cancelled_maintenance"},
    {Kind::training_reminder, "training_reminder"},
    {Kind::training_enrolled, "training_enrolled"},
    {Kind::training_waitlist_promoted, "training_waitlist_promoted"},
    {Kind::training_passed, "training_passed"},
    {Kind::training_cancelled, "training_cancelled"},
    {Kind::qualification_lapsing, "qualification_lapsing"},
    {Kind::order_state, "order_state"},
    {Kind::blocked, "blocked"},
    {Kind::block_ended, "block_ended"},
    {Kind::user_blocked, "user_blocked"},
    {Kind::user_unblocked, "user_unblocked"},
    {Kind::other, "other"},
}};

constexpr std::array<Names<State>, 4> kStates{{
    {State::pending, "pending"},
    {State::sent, "sent"},
    {State::failed, "failed"},
    {State::no_address, "no_address"},
}};

template <typename E, std::size_t N>
const char* name_of(const std::array<Names<E>, N>& table, E v) {
  for (const auto& n : table)
    if (n.value == v) return n.name;
  return "";
}

template <typename E, std::size_t N>
std::optional<E> value_of(const std::array<Names<E>, N>& table, std::string_view s) {
  for (const auto& n : table)
    if (s == n.name) return n.value;
  return std::nullopt;
}

}  // namespace

const char* to_string(Kind k) { return name_of(kKinds, k); }
std::optional<Kind> kind_from_string(std::string_view s) { return value_of(kKinds, s); }
const char* to_string(State s) { return name_of(kStates, s); }
std::optional<State> state_from_string(std::string_view s) { return value_of(kStates, s); }

int64_t backoff_ms(int64_t attempts, const RetryPolicy& p) {
  const int64_t cap = p.max_delay_ms < 0 ? 0 : p.max_delay_ms;
  int64_t d = p.base_ms < 0 ? 0 : p.base_ms;
  for (int64_t i = 1; i < attempts && d < cap; ++i) {
    if (d > std::numeric_limits<int64_t>::max() / 2) return cap;
    d *= 2;
  }
  return d < cap ? d : cap;
}

AfterFailure after_failure(int64_t attempts, Outcome outcome, const RetryPolicy& p, int64_t now_ms) {
  switch (outcome) {
    case Outcome::sent:  // not a failure: nothing to schedule
      return AfterFailure{State::sent, now_ms};
    case Outcome::permanent:
      return AfterFailure{State::failed, now_ms};
    case Outcome::transient:
      break;
  }
  if (attempts >= p.max_attempts) return AfterFailure{State::failed, now_ms};
  return AfterFailure{State::pending, now_ms + backoff_ms(attempts, p)};
}

std::optional<std::string> retry_refusal(const Notice& n) {
  switch (n.state) {
    case State::failed:
    case State::no_address:
      return std::nullopt;
    case State::pending:
      return "notice " + n.id + " is pending: the worker sends it (attempt " + std::to_string(n.attempts + 1) + ")";
    case State::sent:
      return "notice " + n.id + " was sent already";
  }
  return "notice " + n.id + " cannot be retried";
}

std::string address_problem(std::string_view text) {
  if (text.empty()) return "is empty";
  if (text.size() > 254) return "is longer than 254 characters";
  const auto at = text.find('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == text.size() || text.find('@', at + 1) != std::string_view::npos)
    return "must be local@domain";
  for (const char ch : text) {
    const auto u = static_cast<unsigned char>(ch);
    if (u <= 0x20 || u == 0x7f) return "must not contain spaces or control characters";
    if (ch == '<' || ch == '>' || ch == ',' || ch == '"' || ch == '(' || ch == ')' || ch == ';' || ch == '\\')
      return "must not contain <>,\"();\\";
  }
  return "";
}

std::string booking_confirmed_key(const std::string& booking_id) { return "booking_confirmed:" + booking_id; }

}  // namespace lg::server::notify
