// Keeps every terminal's signed sync bundle current: rebuild from the store, bump the version
// only when the content changed (monotonic, persisted), sign with the server key and publish
// retained at QoS 1 on lg/v1/{site}/{terminal}/sync.
#pragma once

#include <cstdint>
#include <string>

#include "labgate/common/crypto.hpp"
#include "server/store/store.hpp"
#include "server/sync/publisher.hpp"

namespace lg::server {

class SyncService {
 public:
  SyncService(Store& store, const crypto::PrivateKey& key, std::string site, Publisher& publisher);

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

 private:
  Status publish(const std::string& terminal, const std::string& payload);

  Store& store_;
  const crypto::PrivateKey& key_;
  std::string site_;
  Publisher& publisher_;
};

}  // namespace lg::server
