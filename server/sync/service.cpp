#include "server/sync/service.hpp"

#include "server/core/errors.hpp"

#include "labgate/common/log.hpp"
#include "labgate/common/protocol.hpp"
#include "server/sync/rules.hpp"

namespace lg::server {

namespace {
constexpr std::string_view kLog = "sync";
}

SyncService::SyncService(UnitOfWork& uow, sync::Store& store, terminals::Store& terminals, usage::Store& usage,
                         const crypto::PrivateKey& key, std::string site, Publisher& publisher, std::string zone)
    : uow_(uow),
      store_(store),
      terminals_(terminals),
      usage_(usage),
      key_(key),
      site_(std::move(site)),
      zone_(std::move(zone)),
      publisher_(publisher) {}

Result<int> SyncService::flush_dirty(DirtySet& dirty, int64_t now_ms) {
  const DirtySet::Batch b = dirty.take();
  if (b.empty()) return 0;
  auto ts = terminals_.all();
  if (!ts) {
    // Nothing rebuilt: mark again so the next flush retries.
    if (b.all) dirty.mark_all();
    for (const auto& r : b.resources) dirty.mark(r);
    for (const auto& t : b.republish) dirty.republish(t);
    return ts.error();
  }
  int n = 0;
  Status first;
  for (const auto& t : *ts) {
    const bool force = b.republish.count(t.id) > 0;
    if (!b.all && !force && b.resources.count(t.resource) == 0) continue;
    ++n;
    if (auto r = refresh(t.id, now_ms, force); !r) {
      log::error(kLog, t.id + ": " + r.error().message());
      dirty.mark(t.resource);
      if (first) first = r.error();
    }
  }
  if (!first) return first.error();
  return n;
}

Status SyncService::publish(const std::string& terminal, const std::string& payload) {
  if (payload.empty()) return {};
  auto s = publisher_.publish(proto::topic(site_, terminal, proto::Channel::sync), payload, 1, true);
  if (!s) log::debug(kLog, "bundle for " + terminal + " not published now: " + s.error().message());
  return s;
}

Result<uint64_t> SyncService::refresh(const std::string& terminal, int64_t now_ms, bool force_publish) {
  uint64_t version = 0;
  Status s = uow_.with_lock("sync:" + terminal, [&]() -> Status {
    struct Built {
      uint64_t version = 0;
      std::string payload;  ///< to publish ("" = nothing)
      bool changed = false;
      std::size_t grants = 0, bookings = 0;
    };
    auto built = transact<Built>(uow_, [&]() -> Result<Built> {
      auto t = terminals_.get(terminal);
      if (!t) return t.error();
      if (!t->has_value()) return domain_error(Errc::not_found, "terminal " + terminal + " is not enrolled");
      auto stored = store_.stored(terminal);
      if (!stored) return stored.error();
      auto inputs = store_.inputs(**t, now_ms);
      if (!inputs) return inputs.error();
      inputs->zone = zone_;
      // A retired terminal is told its instrument is disabled: it opens for admins only.
      if ((*t)->retired_ms && inputs->instrument) inputs->instrument->status = proto::ResourceStatus::disabled;
      auto keys = subject_keys(**t);
      if (!keys) return keys.error();
      std::vector<sync::Pseudonym> issued;
      proto::SyncBundle bundle = sync::make_private(sync::build(*inputs, now_ms, stored->version + 1), *keys, issued);
      const std::string hash = sync::content_hash(bundle);
      if (hash == stored->hash && !stored->payload.empty()) {
        return Built{stored->version, force_publish ? stored->payload : std::string(), false, 0, 0};
      }
      auto sealed = proto::seal(proto::encode(bundle), proto::kServerKid, key_);
      if (!sealed) return sealed.error();
      // Before the bundle can reach the terminal: every pseudonym its records may name.
      std::vector<std::pair<std::string, std::string>> pairs;
      pairs.reserve(issued.size());
      for (auto& p : issued) pairs.emplace_back(std::move(p.pseudonym), std::move(p.user));
      LG_TRY(usage_.keep_pseudonyms(terminal, pairs));
      sync::StoredSync next{bundle.version, hash, *sealed};
      LG_TRY(store_.save(terminal, next));
      return Built{bundle.version, next.payload, true, bundle.grants.size(), bundle.bookings.size()};
    });
    if (!built) return built.error();
    version = built->version;
    if (built->changed) {
      log::info(kLog, terminal + ": bundle v" + std::to_string(built->version) + " with " +
                          std::to_string(built->grants) + " grants, " + std::to_string(built->bookings) + " bookings");
    }
    (void)publish(terminal, built->payload);
    return {};
  });
  if (!s) return s.error();
  return version;
}

Result<sync::SubjectKeys> SyncService::subject_keys(const Terminal& t) {
  const std::string id = t.id + '\n' + t.public_key;
  if (auto it = keys_.find(id); it != keys_.end()) return it->second;
  auto pub = crypto::PublicKey::from_pem(t.public_key);
  if (!pub) return Error::invalid("enrolled key of " + t.id + " unusable: " + pub.error().message());
  auto link = proto::link_keys(key_, *pub, site_, t.id);
  if (!link) return link.error();
  auto pseudonyms = proto::pseudonym_key(key_, site_, t.id);
  if (!pseudonyms) return pseudonyms.error();
  return keys_.emplace(id, sync::SubjectKeys{link->card, *pseudonyms}).first->second;
}

Status SyncService::refresh_resource(const std::string& resource, int64_t now_ms) {
  auto ts = terminals_.all();
  if (!ts) return ts.error();
  Status first;
  for (const auto& t : *ts) {
    if (t.resource != resource) continue;
    if (auto r = refresh(t.id, now_ms, false); !r && first) first = r.error();
  }
  return first;
}

Status SyncService::refresh_all(int64_t now_ms, bool force_publish) {
  auto ts = terminals_.all();
  if (!ts) return ts.error();
  Status first;
  for (const auto& t : *ts) {
    if (auto r = refresh(t.id, now_ms, force_publish); !r) {
      log::error(kLog, t.id + ": " + r.error().message());
      if (first) first = r.error();
    }
  }
  return first;
}

Status SyncService::republish_all() {
  auto ts = terminals_.all();
  if (!ts) return ts.error();
  for (const auto& t : *ts) {
    auto stored = store_.stored(t.id);
    if (!stored) return stored.error();
    (void)publish(t.id, stored->payload);
  }
  return {};
}

Result<bool> SyncService::on_retained(const std::string& terminal, const std::string& payload, int64_t now_ms) {
  auto t = terminals_.get(terminal);
  if (!t) return t.error();
  if (!t->has_value()) {
    log::debug(kLog, "retained sync message for terminal " + terminal + ", which is not enrolled: ignored");
    return false;
  }
  auto stored = store_.stored(terminal);
  if (!stored) return stored.error();
  if (stored->payload.empty() || payload == stored->payload) return false;  // nothing to keep, or our own
  if (auto c = usage_.count_rejection("sync_overwritten", 1); !c) return c.error();
  RepairWindow& w = repairs_[terminal];
  if (now_ms - w.start_ms >= kRepairWindowMs || now_ms < w.start_ms) w = RepairWindow{now_ms, 0, false};
  if (w.count >= kMaxRepairsPerWindow) {
    if (!w.held_back) {
      log::error(kLog, terminal + ": its retained bundle keeps being overwritten (" +
                           std::to_string(w.count) + " repairs in " + std::to_string(kRepairWindowMs / 1000) +
                           " s; another publisher on the broker?): holding back until the next tick");
    }
    w.held_back = true;
    return false;
  }
  ++w.count;
  log::warn(kLog, terminal + ": retained bundle on the broker is " +
                      (payload.empty() ? std::string("deleted") : "not the current v" + std::to_string(stored->version)) +
                      ": publishing v" + std::to_string(stored->version) + " again");
  auto s = publish(terminal, stored->payload);
  return s.ok();
}

void SyncService::repair_held_back() {
  for (auto& [terminal, w] : repairs_) {
    if (!w.held_back) continue;
    auto stored = store_.stored(terminal);
    if (!stored) {
      log::error(kLog, terminal + ": " + stored.error().message());
      continue;
    }
    if (publish(terminal, stored->payload)) w.held_back = false;
  }
}

}  // namespace lg::server
