// The server without its sockets: MQTT messages in, HTTP requests in, publishes out.
// Everything runs on one thread (the io_context's); Paho callbacks post() here.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "labgate/common/crypto.hpp"
#include "server/config/server_config.hpp"
#include "server/http/api.hpp"
#include "server/ingest/ingest.hpp"
#include "server/store/store.hpp"
#include "server/sync/publisher.hpp"
#include "server/sync/sync_service.hpp"

namespace lg::server {

class App {
 public:
  /// All references must outlive the App. now returns UTC milliseconds.
  App(Store& store, const crypto::PrivateKey& key, const ServerConfig& cfg, Publisher& publisher,
      std::function<int64_t()> now, std::string version);

  /// Start-up: builds every terminal's bundle (publishing what it can).
  void start();
  /// One MQTT message: evt or state from a terminal (acks are published only after a
  /// successful commit), or what the broker holds on a terminal's retained sync topic.
  void on_mqtt_message(const std::string& topic, const std::string& payload);
  /// After an MQTT (re)connect: republish every stored bundle (retained).
  void on_mqtt_connected();
  /// Periodic: rebuild bundles (the booking window moves with time).
  void tick();
  /// One HTTP request.
  http::Response handle_http(const http::Request& req) { return api_.handle(req); }

  SyncService& sync() { return sync_; }

 private:
  Store& store_;
  Publisher& publisher_;
  std::function<int64_t()> now_;
  std::string site_;
  ingest::Ingest ingest_;
  SyncService sync_;
  http::Api api_;
};

}  // namespace lg::server
