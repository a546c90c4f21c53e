#include "server/conduct/service.hpp"

#include <set>

#include "labgate/common/crypto.hpp"
#include "labgate/common/log.hpp"
#include "labgate/common/time.hpp"
#include "server/core/errors.hpp"

namespace lg::server::conduct {

namespace {
constexpr int64_t kLookBackMs = 30LL * 86400 * 1000;
}

std::string Service::local(int64_t ms) const {
  auto t = time::format_local_offset(ms, tz_);
  return t ? *t : time::format_utc(ms);
}

Status Service::tell(const std::string& user, notify::Kind kind, notify::Fields fields, const std::string& dedupe,
                     int64_t now_ms) {
  if (!outbox_) return {};
  auto r = outbox_->enqueue(notify::NoticeRequest{user, kind, std::move(fields), dedupe}, now_ms);
  if (!r) return r.error();
  return {};
}

Result<std::optional<Block>> Service::block_if_due(const std::string& user, int64_t now_ms) {
  auto events = store_.of_user(user);
  if (!events) return events.error();
  const int32_t s = score(*events, now_ms, policy_);
  auto latest = store_.latest_block(user);
  if (!latest) return latest.error();
  auto block = block_for(user, s, now_ms, *latest, policy_);
  if (!block) return std::optional<Block>{};
  LG_TRY(store_.add_block(*block));
  const std::string key = "blocked:" + user + ":" + std::to_string(block->from_ms);
  LG_TRY(tell(user, notify::Kind::blocked, notify::Fields{{"reason", block->reason + " (until " + local(block->until_ms) + ")"}},
              key, now_ms));
  auto admins = store_.site_admins();
  if (!admins) return admins.error();
  for (const auto& a : *admins) {
    LG_TRY(tell(a, notify::Kind::user_blocked,
                notify::Fields{{"user", user}, {"until", local(block->until_ms)}, {"reason", block->reason}},
                key + ":" + a, now_ms));
  }
  return block;
}

Result<ScanResult> Service::scan(int64_t now_ms, int32_t limit) {
  ScanResult out;
  if (!policy_.enabled) return out;
  auto due = transact<std::vector<BookingFacts>>(uow_, [&]() { return store_.due(now_ms - kLookBackMs, now_ms, limit); });
  if (!due) return due.error();
  for (const BookingFacts& b : *due) {
    const auto found = detect(b, now_ms, policy_);
    ScanResult one;
    auto s = transact<bool>(uow_, [&]() -> Result<bool> {
      one = ScanResult{};
      bool fresh = false;
      for (Event e : found) {
        e.id = crypto::uuid7();
        auto added = store_.insert(e);
        if (!added) return added.error();
        if (*added) {
          fresh = true;
          one.recorded.push_back(e);
        }
      }
      // A no-show recorded while the terminal's sessions had not arrived yet: withdrawn.
      auto stored = store_.of_booking(b.booking);
      if (!stored) return stored.error();
      for (const Event& e : *stored) {
        if (e.kind != Kind::no_show || e.waived_ms) continue;
        const bool still = std::any_of(found.begin(), found.end(), [](const Event& f) { return f.kind == Kind::no_show; });
        if (still) continue;
        Event w = waived(e, now_ms, "system", "a session of the booking reached the server after the no-show was recorded");
        LG_TRY(store_.update(w));
        one.withdrawn.push_back(w);
      }
      if (settled(b, now_ms, policy_)) {
        LG_TRY(store_.settle(b.booking, now_ms));
        ++one.settled;
      }
      if (fresh) {
        auto block = block_if_due(b.user, now_ms);
        if (!block) return block.error();
        if (*block) one.blocks.push_back(**block);
      }
      return true;
    });
    if (!s) return s.error();
    for (auto& e : one.recorded) out.recorded.push_back(std::move(e));
    for (auto& e : one.withdrawn) out.withdrawn.push_back(std::move(e));
    for (auto& k : one.blocks) out.blocks.push_back(std::move(k));
    out.settled += one.settled;
  }
  return out;
}

Result<Waiver> Service::waive(const std::string& id, const std::string& by, const std::string& reason, int64_t now_ms) {
  return transact<Waiver>(uow_, [&]() -> Result<Waiver> {
    auto e = store_.get(id);
    if (!e) return e.error();
    if (!*e) return domain_error(Errc::not_found, "conduct event: no event '" + id + "'");
    if (auto why = waive_refusal(**e)) return domain_error(Errc::conflict, *why);
    Waiver w{**e, waived(**e, now_ms, by, reason), std::nullopt, 0};
    LG_TRY(store_.update(w.after));
    auto events = store_.of_user(w.after.user);
    if (!events) return events.error();
    w.score = score(*events, now_ms, policy_);
    auto latest = store_.latest_block(w.after.user);
    if (!latest) return latest.error();
    if (*latest && lift(**latest, w.score, now_ms, policy_)) {
      Block b = **latest;
      b.lifted_ms = now_ms;
      LG_TRY(store_.update_block(b));
      w.lifted = b;
    }
    return w;
  });
}

Result<std::vector<Block>> Service::notify_ended(int64_t now_ms, int32_t limit) {
  return transact<std::vector<Block>>(uow_, [&]() -> Result<std::vector<Block>> {
    auto ended = store_.ended_unnotified(now_ms, limit);
    if (!ended) return ended.error();
    std::vector<Block> out;
    for (Block b : *ended) {
      auto events = store_.of_user(b.user);
      if (!events) return events.error();
      const int64_t end = b.lifted_ms ? *b.lifted_ms : b.until_ms;
      const std::string s = std::to_string(score(*events, now_ms, policy_));
      const std::string key = "block_ended:" + b.user + ":" + std::to_string(b.from_ms);
      LG_TRY(tell(b.user, notify::Kind::block_ended, notify::Fields{{"end", local(end)}, {"score", s}}, key, now_ms));
      auto admins = store_.site_admins();
      if (!admins) return admins.error();
      for (const auto& a : *admins)
        LG_TRY(tell(a, notify::Kind::user_unblocked, notify::Fields{{"user", b.user}, {"end", local(end)}, {"score", s}},
                    key + ":" + a, now_ms));
      b.end_notified = true;
      LG_TRY(store_.update_block(b));
      out.push_back(std::move(b));
    }
    return out;
  });
}

Result<Credit> Service::credit(const std::string& user, int64_t now_ms) {
  return transact<Credit>(uow_, [&]() -> Result<Credit> {
    Credit c;
    c.user = user;
    auto events = store_.of_user(user);
    if (!events) return events.error();
    c.events = std::move(*events);
    c.score = score(c.events, now_ms, policy_);
    auto latest = store_.latest_block(user);
    if (!latest) return latest.error();
    if (*latest && in_force(**latest, now_ms)) c.block = **latest;
    return c;
  });
}

Result<std::optional<Block>> Service::block_in_force(const std::string& user, int64_t now_ms) {
  if (!policy_.enabled) return std::optional<Block>{};
  auto latest = store_.latest_block(user);
  if (!latest) return latest.error();
  if (*latest && in_force(**latest, now_ms)) return *latest;
  return std::optional<Block>{};
}

Result<Event> Service::event(const std::string& id) {
  auto e = store_.get(id);
  if (!e) return e.error();
  if (!*e) return domain_error(Errc::not_found, "conduct event: no event '" + id + "'");
  return **e;
}

}  // namespace lg::server::conduct
