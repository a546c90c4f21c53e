#include "acl/bundle_cache.hpp"

#include "labgate/common/assert.hpp"
#include "labgate/common/log.hpp"
#include "labgate/common/time.hpp"

namespace lg::terminal {

namespace {
constexpr std::string_view kLog = "agent";
}  // namespace

BundleCache::BundleCache(std::string terminal, std::string resource, std::optional<crypto::PublicKey> server_key,
                         std::string card_key, Store& store)
    : terminal_(std::move(terminal)),
      resource_(std::move(resource)),
      server_key_(std::move(server_key)),
      card_key_(std::move(card_key)),
      store_(store) {}

Status BundleCache::load() {
  auto acl = store_.load_acl();
  if (!acl) return acl.error();
  acl_ = std::move(*acl);
  acl_.card_key = card_key_;
  if (acl_.version > 0 && acl_.card_form == proto::CardForm::uid) {
    if (card_key_.empty()) {
      log::warn(kLog, "cached sync bundle names cards by uid and there is no card key (no server key): left as it is");
    } else {
      // Written before card digests: the uids of every holder become digests, here and on disk.
      proto::SyncBundle b;
      b.card_form = proto::CardForm::uid;
      b.grants = std::move(acl_.grants);
      b.denials = std::move(acl_.denials);
      b = to_digest_form(std::move(b), card_key_);
      LG_TRY(store_.replace_acl_cards(b.grants, b.denials, b.card_form));
      acl_.grants = std::move(b.grants);
      acl_.denials = std::move(b.denials);
      acl_.card_form = b.card_form;
      log::info(kLog, "cached sync bundle version " + std::to_string(acl_.version) +
                          " converted from card uids to card digests");
    }
  }
  auto ls = store_.last_sync_ms();
  if (!ls) return ls.error();
  last_sync_ms_ = *ls;
  return {};
}

void BundleCache::reject(const std::string& why) {
  ++rejected_;
  log::warn(kLog, "rejected sync bundle: " + why);
}

std::optional<proto::SyncBundle> BundleCache::verify(const std::string& payload) {
  if (payload.empty()) return std::nullopt;  // retained message cleared
  auto env = proto::open(payload);
  if (!env) return reject(env.error().message()), std::nullopt;
  if (env->kid != proto::kServerKid) return reject("signed by \"" + env->kid + "\", not the server"), std::nullopt;
  if (!server_key_ || !proto::verify(*env, *server_key_)) return reject("bad signature (forged?)"), std::nullopt;
  auto b = proto::decode_sync(env->body);
  if (!b) return reject(b.error().message() + "; keeping the applied bundle"), std::nullopt;
  if (b->terminal != terminal_) return reject("for terminal " + b->terminal), std::nullopt;
  if (b->resource != resource_)
    return reject("for resource " + b->resource + ", this terminal controls " + resource_), std::nullopt;
  if (card_key_.empty()) return reject("no card key to look cards up with (no server key)"), std::nullopt;
  if (b->card_form == proto::CardForm::uid) {
    // A server from before card digests (an upgrade in progress): taken, and its uids turned
    // into digests before anything is stored (docs/PROTOCOL.md "Versions of the bundle").
    log::info(kLog, "sync bundle version " + std::to_string(b->version) +
                        " names cards by uid (a server before card digests): converting to digests");
    return to_digest_form(std::move(*b), card_key_);
  }
  return std::move(*b);
}

bool BundleCache::apply(const proto::SyncBundle& b, bool live, int64_t now, bool reapply) {
  if (b.version < acl_.version) {
    log::warn(kLog, "ignoring sync bundle version " + std::to_string(b.version) + " older than applied " +
                        std::to_string(acl_.version));
    return false;
  }
  if (b.version == acl_.version && !reapply) {
    if (live) current_ = true;  // it arrived over the broker: that connection is live
    confirm_sync(now);
    log::debug(kLog, "sync bundle version " + std::to_string(b.version) + " already applied; sync time refreshed");
    return false;
  }
  LG_ASSERT(b.card_form == proto::CardForm::hmac_sha256_128, "verify() turned the bundle into digest form");
  auto applied = store_.apply_bundle(b, now, reapply);
  if (!applied) {
    log::error(kLog, "cannot apply sync bundle: " + applied.error().message());
    return false;
  }
  if (!*applied) {
    // The store already holds a newer version than memory: reload it.
    if (auto acl = store_.load_acl(); acl) acl_ = std::move(*acl);
    return false;
  }
  acl_ = AclSnapshot::from_bundle(b, card_key_);
  last_sync_ms_ = now;
  if (live) current_ = true;
  log::info(kLog, std::string(reapply ? "re-applied" : "applied") + " sync bundle version " + std::to_string(b.version) + ": " +
                      std::to_string(b.grants.size()) + " grants, " + std::to_string(b.bookings.size()) +
                      " bookings");
  return true;
}

void BundleCache::on_connection(bool up, bool was_online, int64_t now) {
  if (!up) {
    if (current_ && was_online) confirm_sync(now);  // current up to this moment
    current_ = false;  // the next connection must deliver the bundle again
    return;
  }
  // A connect does not clear current_: the retained bundle of this very connection may already
  // have arrived (lg::mqtt subscribes before it reports the connection). Nor does it set it: a
  // connection that has not delivered the bundle proves nothing about the cache.
  if (current_) confirm_sync(now);
}

void BundleCache::still_current(bool online, int64_t now) {
  // Only while the connection is reported up: a bundle that came on a connection attempt which
  // then failed (no connect, so no loss, is ever reported for it) counted once, on arrival.
  if (current_ && online) confirm_sync(now);
}

void BundleCache::confirm_sync(int64_t now_ms) {
  if (auto st = store_.set_last_sync_ms(now_ms); !st) {
    log::error(kLog, "cannot persist sync time: " + st.error().message());
    return;
  }
  last_sync_ms_ = now_ms;
}

}  // namespace lg::terminal
