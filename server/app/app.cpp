#include "server/app/app.hpp"

#include "labgate/common/log.hpp"
#include "labgate/common/protocol.hpp"

namespace lg::server {

namespace {
constexpr std::string_view kLog = "server";
}

App::App(Store& store, const crypto::PrivateKey& key, const ServerConfig& cfg, Publisher& publisher,
         std::function<int64_t()> now, std::string version)
    : store_(store),
      publisher_(publisher),
      now_(std::move(now)),
      site_(cfg.site),
      ingest_(store, key, cfg.site, cfg.currency),
      sync_(store, key, cfg.site, publisher),
      api_(store, &sync_, http::ApiSettings{cfg.site, std::move(version), cfg.admin_token, cfg.time_zone, cfg.currency},
           now_) {}

void App::start() {
  if (auto s = sync_.refresh_all(now_(), true); !s) log::error(kLog, "initial sync: " + s.error().message());
}

void App::on_mqtt_message(const std::string& topic, const std::string& payload) {
  auto parts = proto::parse_topic(topic);
  if (parts && parts->channel == proto::Channel::sync && parts->site == site_) {
    if (auto r = sync_.on_retained(parts->terminal, payload, now_()); !r)
      log::error(kLog, "sync topic of " + parts->terminal + ": " + r.error().message());
    return;
  }
  if (parts && parts->channel == proto::Channel::state) {
    auto r = ingest_.on_state(topic, payload, now_());
    if (r.verdict == ingest::Verdict::accepted && r.needs_resync) {
      log::info(kLog, r.terminal + " reports an older acl_version: publishing its bundle again");
      if (auto v = sync_.refresh(r.terminal, now_(), true); !v) log::error(kLog, v.error().message());
    }
    return;
  }
  // evt and everything else (malformed topics are rejected and counted there)
  auto r = ingest_.on_event(topic, payload, now_());
  if (r.verdict != ingest::Verdict::accepted || !r.ack) return;
  if (auto s = publisher_.publish(r.ack->topic, r.ack->payload, r.ack->qos, r.ack->retained); !s) {
    log::warn(kLog, "ack to " + r.terminal + " not sent (re-sent on its next batch): " + s.error().message());
    return;
  }
  if (auto s = store_.count_ack(); !s) log::error(kLog, "count ack: " + s.error().message());
}

void App::on_mqtt_connected() {
  log::info(kLog, "MQTT connected; republishing sync bundles");
  if (auto s = sync_.refresh_all(now_(), true); !s) log::error(kLog, "sync: " + s.error().message());
}

void App::tick() {
  if (auto s = sync_.refresh_all(now_(), false); !s) log::error(kLog, "periodic sync: " + s.error().message());
  sync_.repair_held_back();
}

}  // namespace lg::server
