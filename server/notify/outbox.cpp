#include "server/notify/outbox.hpp"

#include "labgate/common/crypto.hpp"
#include "labgate/common/log.hpp"
#include "server/core/errors.hpp"
#include "server/notify/rules.hpp"
#include "server/notify/templates.hpp"

namespace lg::server::notify {

namespace {
constexpr std::string_view kLog = "notify";
}

Result<std::string> Outbox::address_of(const std::string& user, std::string* why, std::string* name) {
  auto u = directory_.user(user);
  if (!u) return u.error();
  if (!*u) return domain_error(Errc::unknown_reference, "recipient: unknown user '" + user + "'");
  if (name) *name = (*u)->name.empty() ? (*u)->id : (*u)->name;
  const std::string& mail = (*u)->email;
  if (mail.empty()) {
    *why = "no_address: user '" + user + "' has no mail address";
    return std::string();
  }
  if (auto p = address_problem(mail); !p.empty()) {
    *why = "no_address: the mail address of user '" + user + "' " + p;
    return std::string();
  }
  return mail;
}

Result<std::optional<Notice>> Outbox::enqueue(const NoticeRequest& r, int64_t now_ms) {
  if (r.dedupe_key.empty()) return Error::invalid("notice: the dedupe key is empty");
  return transact<std::optional<Notice>>(uow_, [&]() -> Result<std::optional<Notice>> {
    std::string why, name;
    auto address = address_of(r.recipient, &why, &name);
    if (!address) return address.error();
    Fields fields = r.fields;
    fields.insert_or_assign("name", name);
    fields.insert_or_assign("site", site_);
    auto text = render(r.kind, fields);
    if (!text) return text.error();
    Notice n;
    n.id = crypto::uuid7();
    n.recipient = r.recipient;
    n.address = *address;
    n.kind = r.kind;
    n.subject = std::move(text->subject);
    n.body = std::move(text->body);
    n.dedupe_key = r.dedupe_key;
    n.state = address->empty() ? State::no_address : State::pending;
    n.next_attempt_ms = now_ms;
    n.last_error = why;
    n.created_ms = now_ms;
    auto stored = store_.insert(n);
    if (!stored) return stored.error();
    if (!*stored) return std::optional<Notice>();
    return std::optional<Notice>(std::move(n));
  });
}

Result<std::pair<Notice, Notice>> Outbox::retry(const std::string& id, int64_t now_ms) {
  return transact<std::pair<Notice, Notice>>(uow_, [&]() -> Result<std::pair<Notice, Notice>> {
    auto got = store_.get(id);
    if (!got) return got.error();
    if (!*got) return domain_error(Errc::not_found, "notice: no notice '" + id + "'");
    const Notice before = **got;
    if (auto why = retry_refusal(before)) return domain_error(Errc::conflict, *why);
    std::string problem;
    auto address = address_of(before.recipient, &problem, nullptr);
    if (!address) {
      // A user removed since: nobody to send it to.
      if (is(address.error(), Errc::unknown_reference))
        return domain_error(Errc::conflict, "notice " + id + ": " + address.error().reason);
      return address.error();
    }
    if (address->empty()) return domain_error(Errc::conflict, "notice " + id + ": " + problem + ": set it first");
    auto changed = store_.requeue(id, *address, now_ms);
    if (!changed) return changed.error();
    if (!*changed) return domain_error(Errc::conflict, "notice " + id + " changed meanwhile");
    auto after = store_.get(id);
    if (!after) return after.error();
    if (!*after) return domain_error(Errc::not_found, "notice: no notice '" + id + "'");
    return std::pair<Notice, Notice>{before, **after};
  });
}

Result<Worker::Round> Worker::run_once() {
  Round round;
  const int64_t now = now_();
  const std::string claim = crypto::uuid7();
  auto due = store_.claim_due(now, s_.batch, claim, now + s_.lease_ms);
  if (!due) return due.error();
  round.claimed = static_cast<int>(due->size());
  const auto at = s_.from.find('@');
  const std::string domain = at == std::string::npos ? "labgate" : s_.from.substr(at + 1);
  for (const Notice& n : *due) {
    Mail m{s_.from, s_.from_name, n.address, n.subject, n.body, "<" + n.id + "@" + domain + ">", now_()};
    const Delivery d = mailer_.send(m);
    const int64_t t = now_();
    if (d.outcome == Outcome::sent) {
      auto ok = store_.mark_sent(n.id, claim, t);
      if (!ok) return ok.error();
      if (*ok) {
        ++round.sent;
        log::info(kLog, "notice " + n.id + " (" + to_string(n.kind) + ") to " + n.recipient + " sent");
      } else {
        log::warn(kLog, "notice " + n.id + " was sent but its claim had run out: another sender may send it again");
      }
      continue;
    }
    const AfterFailure next = after_failure(n.attempts, d.outcome, s_.retry, t);
    auto ok = store_.mark_failed(n.id, claim, next.state, next.next_attempt_ms, d.detail);
    if (!ok) return ok.error();
    if (next.state == State::failed) {
      ++round.failed;
      log::warn(kLog, "notice " + n.id + " to " + n.recipient + " failed after " + std::to_string(n.attempts) +
                          " attempt(s), given up: " + d.detail);
    } else {
      log::warn(kLog, "notice " + n.id + " to " + n.recipient + ": attempt " + std::to_string(n.attempts) +
                          " failed, next in " + std::to_string((next.next_attempt_ms - t) / 1000) + " s: " + d.detail);
    }
  }
  return round;
}

}  // namespace lg::server::notify
