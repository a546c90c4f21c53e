#include <utility>  // before boost/asio.hpp (GCC 12 + Boost 1.74 + C++20)

#include "runner.hpp"

#include <csignal>
#include <filesystem>
#include <memory>
#include <thread>

#include <boost/asio.hpp>

#include "labgate/common/files.hpp"
#include "labgate/common/log.hpp"
#include "labgate/common/mqtt.hpp"

#include "agent.hpp"
#include "drivers/card_source.hpp"
#include "drivers/modbus.hpp"
#include "drivers/registry.hpp"
#include "store.hpp"

namespace asio = boost::asio;

namespace lg::terminal {

namespace {

constexpr std::string_view kLog = "terminal";

class AsioScheduler : public Scheduler {
 public:
  explicit AsioScheduler(asio::io_context& io) : io_(io) {}
  void after(int64_t ms, std::function<void()> fn) override {
    auto t = std::make_shared<asio::steady_timer>(io_, std::chrono::milliseconds(ms));
    t->async_wait([t, fn = std::move(fn)](boost::system::error_code ec) {
      if (!ec) fn();
    });
  }

 private:
  asio::io_context& io_;
};

/// Tasks on the access loop (the io_context run by run()).
class LoopWorker : public Worker {
 public:
  explicit LoopWorker(asio::io_context& io) : io_(io) {}
  void post(std::function<void()> fn) override { asio::post(io_, std::move(fn)); }

 private:
  asio::io_context& io_;
};

/// The uplink worker: one thread running its own io_context, tasks in order.
class ThreadWorker : public Worker {
 public:
  ThreadWorker() : guard_(asio::make_work_guard(io_)), thread_([this] { io_.run(); }) {}
  /// An early return (a start-up failure): what is queued is dropped, the thread ends.
  ~ThreadWorker() override {
    guard_.reset();
    io_.stop();
    if (thread_.joinable()) thread_.join();
  }
  ThreadWorker(const ThreadWorker&) = delete;
  ThreadWorker& operator=(const ThreadWorker&) = delete;
  void post(std::function<void()> fn) override { asio::post(io_, std::move(fn)); }
  /// Runs what is queued, then ends the thread.
  void stop() {
    guard_.reset();
    if (thread_.joinable()) thread_.join();
  }

 private:
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_;
  std::thread thread_;
};

class MqttPublisher : public Publisher {
 public:
  explicit MqttPublisher(mqtt::Client& c) : c_(c) {}
  bool connected() const override { return c_.connected(); }
  Status publish(const std::string& topic, const std::string& payload, int qos, bool retained) override {
    return c_.publish(topic, payload, qos, retained);
  }

 private:
  mqtt::Client& c_;
};

/// A periodic timer on the loop.
class Every {
 public:
  Every(asio::io_context& io, std::chrono::milliseconds period, std::function<void()> fn)
      : timer_(io), period_(period), fn_(std::move(fn)) {
    arm();
  }
  void cancel() {
    stopped_ = true;
    timer_.cancel();
  }

 private:
  void arm() {
    timer_.expires_after(period_);
    timer_.async_wait([this](boost::system::error_code ec) {
      if (ec || stopped_) return;
      fn_();
      arm();
    });
  }
  asio::steady_timer timer_;
  std::chrono::milliseconds period_;
  std::function<void()> fn_;
  bool stopped_ = false;
};

}  // namespace

int run(const TerminalConfig& cfg, const board::Board& board, crypto::PrivateKey key,
        crypto::PublicKey server_key) {
  asio::io_context io;

  // The data dir holds the outbox (card numbers, names) and the terminal's key: owner only.
  if (auto tightened = files::ensure_private_dir(cfg.data_dir); !tightened) {
    log::error(kLog, tightened.error().message());
    return 1;
  } else if (*tightened) {
    log::info(kLog, "restricted " + cfg.data_dir.string() + " to its owner (mode 0700)");
  }
  const std::string db_path = (cfg.data_dir / "terminal.db").string();
  auto store = Store::open(db_path);
  if (!store) {
    log::error(kLog, "cannot open " + db_path + ": " + store.error().message());
    return 1;
  }
  if (auto s = store->start_seq_at_least(cfg.seq_start); !s) {
    log::error(kLog, "cannot start the record sequence at " + std::to_string(cfg.seq_start) + ": " + s.error().message());
    return 1;
  }

  // Relay and (optionally) meter; they share one connection when they use the same link.
  ModbusEndpoint relay_ep = cfg.relay;
  auto relay_link = std::make_shared<ModbusLink>(relay_ep);
  const int relay_unit = cfg.relay_unit_id_set ? cfg.relay.unit_id : board.relay_unit_id;
  ModbusCoils coils(relay_link, relay_unit);
  std::unique_ptr<EnergyMeter> meter;
  if (cfg.meter_enabled) {
    if (!board.meter) {
      log::warn(kLog, "meter.enabled but board " + board.name + " has no meter: metering off");
    } else if (auto make = drivers::meter(board::to_string(board.meter->model)); !make) {
      log::error(kLog, std::string("no meter driver for model ") + board::to_string(board.meter->model) +
                           " (known: " + drivers::meter_names() + ")");
      return 1;
    } else {
      auto link = cfg.meter.same_link(cfg.relay) ? relay_link : std::make_shared<ModbusLink>(cfg.meter);
      const int unit = cfg.meter_unit_id_set ? cfg.meter.unit_id : board.meter->unit_id;
      meter = make(link, unit, *board.meter);
      log::info(kLog, "energy meter " + std::string(board::to_string(board.meter->model)) + " at " +
                          cfg.meter.describe() + " unit " + std::to_string(unit));
    }
  }

  const board::Output* out = board.output(cfg.output);
  AgentSettings settings;
  settings.id = cfg.id;
  settings.site = cfg.site;
  settings.resource = cfg.resource;
  settings.firmware = "labgate-terminal 0.1.0";
  settings.board = board;
  settings.output = cfg.output;
  settings.fail_mode = effective_fail_mode(cfg, *out);
  settings.heartbeat_s = cfg.heartbeat_s;
  settings.resend_s = cfg.resend_s;
  settings.auth = cfg.auth;

  SystemClock clock;
  AsioScheduler scheduler(io);
  Agent agent(settings, std::move(*store), std::move(key), std::move(server_key), coils, meter.get(), clock, scheduler);
  // Two threads: this one runs the access loop (cards, decisions, relay, commits, timers); the
  // uplink worker signs, verifies and publishes (docs/TERMINAL.md "Threads").
  LoopWorker loop(io);
  ThreadWorker uplink;
  agent.set_workers(loop, uplink);
  log::info(kLog, "terminal " + cfg.id + " site " + cfg.site + " resource " + cfg.resource + " output " + cfg.output +
                      " (" + board::to_string(out->kind) + ", coil " + std::to_string(out->coil) + ", fail " +
                      board::to_string(settings.fail_mode) + ") relay " + cfg.relay.describe());
  if (auto st = agent.start(); !st) {
    log::error(kLog, "start-up failed: " + st.error().message());
    return 1;
  }

  // MQTT: birth on connect, Last Will = the offline state with the same boot counter.
  mqtt::Options mo;
  mo.uri = cfg.mqtt_uri;
  if (cfg.mqtt_uri.rfind("ssl://", 0) == 0 || cfg.mqtt_uri.rfind("mqtts://", 0) == 0)
    mo.tls = mqtt::Tls{cfg.mqtt_ca_file.string(), cfg.mqtt_cert_file.string(), cfg.mqtt_key_file.string()};
  mo.client_id = cfg.mqtt_client_id;
  mo.keepalive_s = cfg.mqtt_keepalive_s;
  mo.will = mqtt::Will{agent.state_topic(), agent.state_payload(false), 1, true};
  auto client = mqtt::Client::create(mo);
  if (!client) {
    log::error(kLog, "mqtt: " + client.error().message());
    return 1;
  }
  MqttPublisher publisher(**client);
  agent.set_publisher(&publisher);
  (*client)->on_message([&io, &agent](mqtt::Message m) {
    asio::post(io, [&agent, m = std::move(m)] { agent.on_message(m); });
  });
  (*client)->on_connection([&io, &agent](bool up) { asio::post(io, [&agent, up] { agent.on_connection(up); }); });
  // A technician must see why the broker is not reached (a refused certificate: revoked or expired,
  // enrol the device again): each new reason once at WARN, repeats at debug.
  (*client)->on_connect_failed([uri = cfg.mqtt_uri, last = std::make_shared<std::string>()](const std::string& why) {
    if (*last == why) {
      log::debug(kLog, "MQTT: still cannot connect to " + uri + ": " + why);
      return;
    }
    *last = why;
    log::warn(kLog, "MQTT: cannot connect to " + uri + ": " + why +
                        "; retrying (deciding offline meanwhile; a refused TLS handshake means the certificate "
                        "was revoked or has expired: enrol the device again)");
  });
  (*client)->subscribe(agent.sync_topic(), 1);
  (*client)->subscribe(agent.ack_topic(), 1);
  (*client)->subscribe(agent.cmd_topic(), 1);
  (*client)->start();

  // Card source, by driver name.
  const auto make_cards = drivers::card_source(drivers::card_source_name(cfg.card.source));
  if (!make_cards) {
    log::error(kLog, "no card reader driver (known: " + drivers::card_source_names() + ")");
    uplink.stop();  // nothing may use the publisher once this returns
    (*client)->stop();
    return 1;
  }
  std::unique_ptr<CardSource> cards = make_cards(io, cfg.card);
  if (auto st = cards->start([&agent](const std::string& line, ReplyFn reply) {
        reply(agent.on_card(line).to_json());
      });
      !st) {
    log::error(kLog, st.error().message());
    uplink.stop();
    (*client)->stop();
    return 1;
  }

  Every tick(io, std::chrono::seconds(1), [&agent] { agent.tick(); });
  Every beat(io, std::chrono::seconds(cfg.heartbeat_s), [&agent] { agent.heartbeat(); });

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code ec, int sig) {
    if (ec) return;
    log::info(kLog, std::string("signal ") + (sig == SIGINT ? "SIGINT" : "SIGTERM") + ": stopping");
    cards->stop();
    tick.cancel();
    beat.cancel();
    agent.shutdown();
    io.stop();
  });

  log::info(kLog, "running");
  io.run();
  uplink.stop();  // runs what was queued (the offline state) before the client goes
  (*client)->stop();
  log::info(kLog, "stopped");
  return 0;
}

}  // namespace lg::terminal
