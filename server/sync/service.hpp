// Keeps every terminal's signed sync bundle current: rebuild from the store, make it private
// (cards as keyed digests, users as pseudonyms kept in usage's table for ingest: sync::make_private),
// bump the version only when the content changed (monotonic, persisted), sign with the server key and publish
// retained at QoS 1 on lg/v1/{site}/{terminal}/sync. Write paths do not call it: they mark the
// DirtySet, and whoever runs the service (the sync thread) calls flush_dirty().
// Not thread-safe: one thread (the sync strand) calls it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "labgate/common/crypto.hpp"
#include "server/core/dirty.hpp"
#include "server/sync/publisher.hpp"
#include "server/core/unit_of_work.hpp"
#include "server/sync/store.hpp"
#include "server/terminals/store.hpp"
#include "server/usage/store.hpp"

namespace lg::server {

class SyncService {
 public:
  /// uow: bundles are built and saved in one unit of work, and one terminal's bundle is built,
  /// saved and published under uow.with_lock, so that several nodes sharing the database never
  /// publish an older bundle over a newer one nor lose a change between two rebuilds.
  /// zone: the site's IANA time zone (staffed hours and lapse months are counted in it).
  SyncService(UnitOfWork& uow, sync::Store& store, terminals::Store& terminals, usage::Store& usage,
              const crypto::PrivateKey& key, std::string site, Publisher& publisher, std::string zone = "UTC");

  /// Rebuilds what the dirty set names (every terminal, or those of the marked resources).
  /// Returns the number of terminals refreshed.
  Result<int> flush_dirty(DirtySet& dirty, int64_t now_ms);

  /// Rebuilds one terminal's bundle at now_ms. A changed content gets version + 1, is stored
  /// and published; an unchanged one is published again only if force_publish. Returns the
  /// terminal's current version.
  Result<uint64_t> refresh(const std::string& terminal, int64_t now_ms, bool force_publish);
  /// Refreshes every terminal whose resource is `resource`.
  Status refresh_resource(const std::string& resource, int64_t now_ms);
  /// Refreshes every enrolled terminal (start-up, user/card changes, periodic window move).
  Status refresh_all(int64_t now_ms, bool force_publish);
  /// Publishes the stored bundle of every terminal again (after an MQTT (re)connect).
  Status republish_all();

  /// What the server heard on a terminal's retained sync topic (it subscribes to the topics it
  /// owns). Anything but the stored bundle -- an empty message that deleted it, an older or a
  /// foreign payload -- is overwritten by publishing the stored bundle again, retained, and
  /// counted as the rejection "sync_overwritten" (with several nodes, one node's publish that
  /// reaches the broker after another node's newer one is repaired the same way). Repairs of one terminal are limited to
  /// kMaxRepairsPerWindow per kRepairWindowMs (two servers fighting over one broker would
  /// otherwise loop); beyond that the terminal is left to the next tick(). Returns true if a
  /// repair was published now.
  Result<bool> on_retained(const std::string& terminal, const std::string& payload, int64_t now_ms);
  /// Publishes the stored bundle of every terminal whose repair was held back by the limit.
  void repair_held_back();

  static constexpr int kMaxRepairsPerWindow = 5;
  static constexpr int64_t kRepairWindowMs = 10'000;

 private:
  Status publish(const std::string& terminal, const std::string& payload);
  /// The card and pseudonym keys of a terminal's enrolled key (derived once, then cached).
  Result<sync::SubjectKeys> subject_keys(const Terminal& t);
  std::map<std::string, sync::SubjectKeys> keys_;  ///< terminal id + '\n' + public key PEM -> keys

  struct RepairWindow {
    int64_t start_ms = 0;
    int count = 0;
    bool held_back = false;
  };
  std::map<std::string, RepairWindow> repairs_;

  UnitOfWork& uow_;
  sync::Store& store_;
  terminals::Store& terminals_;
  usage::Store& usage_;
  const crypto::PrivateKey& key_;
  std::string site_;
  std::string zone_;
  Publisher& publisher_;
};

}  // namespace lg::server
