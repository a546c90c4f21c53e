// The server without its sockets: the areas wired together. MQTT messages in (ingest strand),
// HTTP requests in (any worker thread), bundles out (sync strand). What runs where and what is
// shared is in docs/SERVER.md ("Threads").
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "labgate/common/crypto.hpp"
#include "server/booking/service.hpp"
#include "server/conduct/service.hpp"
#include "server/ledger/service.hpp"
#include "server/settlement/service.hpp"
#include "server/config/server_config.hpp"
#include "server/core/dirty.hpp"
#include "server/core/health.hpp"
#include "server/core/metrics.hpp"
#include "server/identity/http.hpp"
#include "server/orders/service.hpp"
#include "server/notify/outbox.hpp"
#include "server/core/stores.hpp"
#include "server/sync/commands.hpp"
#include "server/sync/publisher.hpp"
#include "server/sync/service.hpp"
#include "server/terminals/provisioning.hpp"
#include "server/training/service.hpp"
#include "server/transport/http/request.hpp"
#include "server/usage/ingest.hpp"
#include "server/usage/service.hpp"

namespace lg::server {

namespace http {
class Api;
}

/// The identity routes' settings from [auth] in the server config.
identity::AuthSettings auth_settings(const AuthConfig& a);
/// The notice sender's settings from [smtp] in the server config.
notify::WorkerSettings notice_settings(const SmtpConfig& s);

class App {
 public:
  /// The stores, key, config and publisher must outlive the App. now returns UTC milliseconds.
  App(Stores stores, const crypto::PrivateKey& key, const ServerConfig& cfg, Publisher& publisher,
      std::function<int64_t()> now, std::string version);
  ~App();

  // ---- sync strand
  /// Start-up: builds every terminal's bundle (publishing what it can).
  void start();
  /// After an MQTT (re)connect: rebuild and republish every bundle (retained).
  void on_mqtt_connected();
  /// What the broker holds on a terminal's retained sync topic.
  void on_sync_topic(const std::string& terminal, const std::string& payload);
  /// Periodic: rebuild bundles (the booking window moves with time), repair held-back topics,
  /// expire pending bookings nobody decided in time.
  void tick();
  /// Rebuilds the bundles the write paths marked dirty; returns how many terminals it refreshed.
  int flush_dirty();

  /// Expires the pending bookings whose hold ran out (tick() calls it).
  void expire_booking_holds();
  /// Enqueues the training reminders due (a day before a session; once per enrolment); tick() calls it.
  void send_training_reminders();
  /// Records what bookings earned (no-shows, late arrivals, overtime, late cancellations), blocks
  /// users whose credit fell too low and tells those whose block ended; tick() calls it.
  void scan_conduct();
  /// Takes new charges in, confirms those past their review window, settles last month on the
  /// settle day (server/settlement).
  void run_settlement();
  /// Tells holders whose qualification ends (expires, or lapses unused) within two weeks, once per
  /// end (notice qualification_lapsing); tick() calls it.
  void warn_lapsing();
  // ---- ingest strand
  /// evt or state from a terminal (acks are published only after a successful commit). A
  /// message on a sync topic is passed to on_sync_topic (single-threaded callers, tests); one
  /// on a cmdres topic to CommandService::on_result.
  void on_mqtt_message(const std::string& topic, const std::string& payload);

  // ---- any thread
  /// One HTTP request (GET /metrics included).
  http::Response handle_http(const http::Request& req);

  DirtySet& dirty() { return dirty_; }
  Health& health() { return health_; }
  /// The stores the app was built on.
  Stores stores() const { return stores_; }
  /// The evt/state checks and commits (main.cpp's ingest pipeline drives it for evt).
  usage::Ingest& ingest() { return ingest_; }
  /// The metrics GET /metrics renders (lock-free updates from any thread).
  metrics::ServerMetrics& metrics() { return metrics_; }
  SyncService& sync() { return sync_; }
  /// Remote commands: sent by the HTTP routes, answers taken by on_mqtt_message (cmdres).
  CommandService& commands() { return commands_; }
  const std::string& site() const { return site_; }
  /// Sample orders (state changes, attachments).
  orders::Service& orders() { return orders_; }
  /// Training courses, sessions, enrolments and results (server/training).
  training::Service& training() { return training_; }
  /// Conduct events and credit (server/conduct).
  conduct::Service& conduct() { return conduct_; }
  /// Settlement (server/settlement): intake, confirmation, months.
  settlement::Service& settlement() { return settlement_; }
  /// The HTTP API (its router table: for docs and tests).
  const http::Api& api() const { return *api_; }

  /// Turns provisioning on (call once, before serving): the enrolment, renewal and revocation
  /// routes over the site CA p.ca (which must outlive the App), and writes the broker's files
  /// (its CRL and ACL) now.
  Status enable_provisioning(const terminals::Provisioning& p);
  /// Provisioning, when enabled.
  terminals::Enrolment* enrolment() { return enrolment_.get(); }

  /// The notification outbox: areas enqueue notices through it inside their units of work.
  notify::Outbox& outbox() { return outbox_; }
  /// Turns the notice sender on (call once, before serving); mailer must outlive the App.
  void enable_notices(notify::Mailer& mailer, const notify::WorkerSettings& s);
  /// One round of the notice sender (main.cpp runs it on a thread of its own, so a slow mail
  /// server holds up no HTTP, MQTT or bundle work): how many notices were sent; 0 when off.
  int send_notices();

 private:
  Stores stores_;
  Publisher& publisher_;
  std::function<int64_t()> now_;
  std::string site_;
  std::string time_zone_;
  DirtySet dirty_;
  Health health_;
  metrics::ServerMetrics metrics_;  // before ingest_ and api_, which keep references into it
  usage::Service usage_;
  usage::Ingest ingest_;
  std::unique_ptr<terminals::Enrolment> enrolment_;
  booking::Service booking_;
  SyncService sync_;
  CommandService commands_;
  notify::Outbox outbox_;
  std::unique_ptr<notify::Worker> notices_;
  orders::Service orders_;  // sample orders (server/orders)
  training::Service training_;  // training to qualification (server/training)
  conduct::Service conduct_;    // no-shows and credit (server/conduct)
  ledger::Service ledger_;      // accounts and the double-entry ledger (server/ledger)
  settlement::Service settlement_;  // charges to the ledger, months, statements (server/settlement)
  std::unique_ptr<http::Api> api_;
};

}  // namespace lg::server
