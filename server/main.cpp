// labgate-server: HTTP API (Beast), MQTT ingest (Paho via lg::mqtt), SQLite store.
// Threads (docs/SERVER.md, "Threads"): the HTTP sockets on one io thread with handlers on a
// worker pool; MQTT ingest on its own strand (one thread); bundle rebuilds and publishes on the
// sync strand (one thread); signals on the main thread. Each thread has its own SQLite
// connection (WAL: a long read never blocks ingest).
#include <utility>  // must precede boost/asio.hpp with GCC 12 + C++20 + Boost 1.74

#include <arpa/inet.h>
#include <fcntl.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <CLI/CLI.hpp>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <atomic>
#include <thread>
#include <vector>

#include "labgate/common/crypto.hpp"
#include "labgate/common/files.hpp"
#include "labgate/common/log.hpp"
#include "labgate/common/mqtt.hpp"
#include "server/terminals/provisioning.hpp"
#include "labgate/common/pki.hpp"
#include "labgate/common/protocol.hpp"
#include "labgate/common/time.hpp"
#include "server/config/server_config.hpp"
#include "server/core/app.hpp"
#include "server/core/backend.hpp"
#include "server/notify/smtp.hpp"
#include "server/usage/pipeline.hpp"
#include "server/transport/http/http_server.hpp"

#ifndef LABGATE_VERSION
#define LABGATE_VERSION "0.0.0"
#endif

namespace net = boost::asio;
namespace fs = std::filesystem;

namespace {

constexpr std::string_view kLog = "server";

/// Writes text to path atomically (temp file + rename).
lg::Status write_file_atomic(const fs::path& path, const std::string& text) {
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return lg::Error::invalid("cannot write " + tmp.string());
    out << text;
    out.flush();
    if (!out) return lg::Error::invalid("cannot write " + tmp.string());
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return lg::Error::from(ec, "cannot rename " + tmp.string() + " to " + path.string());
  return {};
}

/// Publishes through the shared MQTT client.
/// Publishes through the server's MQTT client. When the client's buffer is full (a herd's acks
/// come faster than the broker takes them) the caller waits for room, up to kPublishWaitMs:
/// an ack is never dropped for lack of buffer, the commit thread slows down instead.
class MqttPublisher final : public lg::server::Publisher {
 public:
  static constexpr int kPublishWaitMs = 10'000;
  explicit MqttPublisher(lg::mqtt::Client& c) : client_(c) {}
  lg::Status publish(const std::string& topic, const std::string& payload, int qos, bool retained) override {
    return client_.publish_when_room(topic, payload, qos, retained, kPublishWaitMs);
  }

 private:
  lg::mqtt::Client& client_;
};

int fatal(const std::string& what) {
  lg::log::error(kLog, what);
  return 1;
}

/// --make-self-signed DIR: a throwaway CA (its key is not kept) and a server certificate it
/// signs for hosts, through lg::pki (Mbed TLS). Writes DIR/ca.pem (what clients trust: curl
/// --cacert, Python's cafile, a browser's import), DIR/cert.pem (the server's certificate, then the
/// CA's) and DIR/key.pem (mode 0600). For a demo or a lab test; a campus uses its own CA's.
int make_self_signed(const fs::path& dir, std::vector<std::string> hosts) {
  constexpr int64_t kDays = 397;
  constexpr int64_t kDayMs = 24LL * 3600 * 1000;
  if (hosts.empty()) {
    hosts = {"localhost", "127.0.0.1"};
    char name[256] = {};
    if (::gethostname(name, sizeof name - 1) == 0 && name[0] != '\0' && std::string(name) != "localhost") {
      hosts.emplace_back(name);
    }
  }
  auto die = [](const std::string& what) {
    std::fprintf(stderr, "labgate-server: --make-self-signed: %s\n", lg::log::escape(what).c_str());
    return 1;
  };
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return die("cannot create " + dir.string() + ": " + ec.message());
  auto ca_key = lg::crypto::PrivateKey::generate();
  auto key = lg::crypto::PrivateKey::generate();
  if (!ca_key || !key) return die("cannot generate a key");
  const int64_t now = lg::time::now_utc_ms();
  lg::pki::CertSpec ca;
  ca.cn = "labgate demo CA";
  ca.org = "labgate";
  ca.serial = lg::pki::random_serial();
  ca.not_before_ms = now - kDayMs;  // a little slack for clocks that lag
  ca.not_after_ms = now + kDays * kDayMs;
  ca.usage = lg::pki::Usage::ca;
  auto ca_pem = lg::pki::self_signed(*ca_key, ca);
  if (!ca_pem) return die("CA certificate: " + ca_pem.error().message());
  lg::pki::CertSpec srv = ca;
  srv.cn = hosts.front();
  srv.serial = lg::pki::random_serial();
  srv.usage = lg::pki::Usage::server;
  for (const auto& h : hosts) {
    unsigned char buf[4];
    (::inet_pton(AF_INET, h.c_str(), buf) == 1 ? srv.ips : srv.dns).push_back(h);
  }
  auto cert_pem = lg::pki::issue(*ca_key, *ca_pem, key->public_key(), srv);
  if (!cert_pem) return die("server certificate: " + cert_pem.error().message());
  if (auto s = write_file_atomic(dir / "ca.pem", *ca_pem); !s) return die(s.error().message());
  if (auto s = write_file_atomic(dir / "cert.pem", *cert_pem + *ca_pem); !s) return die(s.error().message());
  // The key is private from its first byte: created 0600, then renamed into place.
  const fs::path tmp = dir / "key.pem.tmp";
  {
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return die("cannot write " + tmp.string());
    const std::string pem = key->to_pem();
    const bool ok = ::write(fd, pem.data(), pem.size()) == static_cast<ssize_t>(pem.size()) && ::fsync(fd) == 0;
    ::close(fd);
    if (!ok) return die("cannot write " + tmp.string());
  }
  fs::rename(tmp, dir / "key.pem", ec);
  if (ec) return die("cannot rename " + tmp.string() + ": " + ec.message());
  std::string names;
  for (const auto& h : hosts) names += (names.empty() ? "" : ", ") + h;
  std::printf("wrote %s/ca.pem, cert.pem, key.pem for %s (valid %lld days)\n"
              "[http]\ntls_cert = \"%s\"\ntls_key = \"%s\"\n",
              dir.c_str(), names.c_str(), static_cast<long long>(kDays), fs::absolute(dir / "cert.pem").c_str(),
              fs::absolute(dir / "key.pem").c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"labgate-server: central server (HTTP API, MQTT ingest, billing)"};
  std::string config_path;
  bool print_key = false;
  std::string self_signed_dir;
  std::vector<std::string> tls_hosts;
  auto* config_opt = cli.add_option("--config", config_path, "server config (TOML)");
  cli.add_flag("--print-public-key", print_key, "print the server's public key PEM (creating it if needed) and exit");
  bool broker_files = false;
  cli.add_flag("--write-broker-files", broker_files,
               "write the broker's files ([broker] dir: mosquitto.conf, acl, crl.pem, certificates) and exit");
  auto* self_signed_opt = cli.add_option(
      "--make-self-signed", self_signed_dir,
      "write a demo HTTPS certificate to DIR (ca.pem to trust, cert.pem and key.pem for http.tls_cert and "
      "http.tls_key) and exit")
      ->type_name("DIR");
  cli.add_option("--tls-host", tls_hosts,
                 "with --make-self-signed: a host name or IPv4 address the certificate is for (repeatable; "
                 "default localhost, 127.0.0.1 and this host's name)")
      ->type_name("NAME")
      ->needs(self_signed_opt);
  try {
    cli.parse(argc, argv);
    if (self_signed_opt->count() == 0 && config_opt->count() == 0) throw CLI::RequiredError("--config");
  } catch (const CLI::CallForHelp& e) {
    return cli.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "labgate-server: %s\n", e.what());
    return 2;
  }
  if (self_signed_opt->count() > 0) return make_self_signed(self_signed_dir, tls_hosts);

  auto cfg = lg::server::load_config_file(config_path);
  if (!cfg) {
    std::fprintf(stderr, "labgate-server: bad config: %s\n", lg::log::escape(cfg.error().message()).c_str());
    return 2;
  }
  lg::log::set_level(cfg->log_level);

  // The data dir holds the database (card numbers, names, money) and the server key: owner only.
  auto tightened = lg::files::ensure_private_dir(cfg->data_dir);
  if (!tightened) {
    std::fprintf(stderr, "labgate-server: bad config: server.data_dir: %s\n",
                 lg::log::escape(tightened.error().message()).c_str());
    return 2;
  }
  if (*tightened) lg::log::info(kLog, "restricted " + cfg->data_dir.string() + " to its owner (mode 0700)");
  auto key = lg::crypto::PrivateKey::load_or_create(cfg->data_dir / "server.key");
  if (!key) return fatal("server key: " + key.error().message());
  const std::string pub = key->public_pem();
  if (auto s = write_file_atomic(cfg->data_dir / "server.pub", pub); !s) return fatal(s.error().message());
  if (print_key) {
    std::cout << pub << std::flush;
    return 0;
  }

  // One connection per thread that reads or writes: the HTTP workers, the ingest and sync strands,
  // the ingest pipeline's verifiers and committer, and this thread, all opened now.
  // Commit threads: SQLite has one writer, so one; PostgreSQL commits on three connections at once
  // (a herd of 1,000,000: 34,790 records/s with one, 49,966 with two, 54,467 with three; BENCHMARKS).
  const int committers = cfg->ingest_committers > 0 ? cfg->ingest_committers : (cfg->store_kind == "postgres" ? 3 : 1);
  const auto connections = static_cast<std::size_t>(cfg->http_threads) + 4 +  // + the notice sender
                           static_cast<std::size_t>(cfg->ingest_verify_threads + committers);
  lg::server::StoreSettings store;
  store.kind = cfg->store_kind;
  store.sqlite_path = (cfg->data_dir / "labgate.db").string();
  store.conninfo = cfg->pg_conninfo;
  store.schema = cfg->pg_schema;
  store.report_hold_ms = cfg->report_hold_ms;
  store.connections = connections;
  auto backend = lg::server::open_backend(store);
  if (!backend) return fatal("database (" + store.kind + "): " + backend.error().message());
  lg::log::info(kLog, "store: " + std::string((*backend)->kind()) +
                          (store.kind == "sqlite" ? " " + store.sqlite_path
                                                  : (store.schema.empty() ? "" : " schema " + store.schema)));
  if (cfg->report_hold_ms > 0) {
    lg::log::warn(kLog, "[testing] report_hold_ms = " + std::to_string(cfg->report_hold_ms) +
                            ": every report is held open on purpose (a test setting)");
  }

  // The site terminal CA and the server's own identity at the broker (server/terminals/provisioning).
  auto provisioning = lg::server::terminals::open_provisioning(*cfg, pub, lg::time::now_utc_ms());
  if (!provisioning) return fatal(provisioning.error().message());
  if (cfg->mqtt_allow_plain)
    lg::log::warn(kLog, "mqtt.allow_plain: the broker is reached over plain TCP without client identities (development only)");

  lg::mqtt::Options mo;
  mo.uri = cfg->mqtt_uri;
  mo.tls = provisioning->tls;
  mo.client_id = cfg->mqtt_client_id;
  mo.max_buffered = cfg->mqtt_max_buffered;
  auto client = lg::mqtt::Client::create(mo);
  if (!client) {
    std::fprintf(stderr, "labgate-server: bad config: mqtt.uri: %s\n", client.error().message().c_str());
    return 2;
  }
  auto& mqtt = **client;

  net::io_context http_io;    // sockets of the HTTP listener (handlers run on its worker pool)
  net::io_context ingest_io;  // the ingest strand: evt and state messages, one at a time, in order
  net::io_context sync_io;    // the sync strand: bundle rebuilds, publishes, retained-topic repairs
  net::io_context notify_io;  // the notice sender: mails due notices ([smtp]), alone so a slow mail server delays nothing else
  MqttPublisher publisher(mqtt);
  lg::server::App app((*backend)->stores(), *key, *cfg, publisher, [] { return lg::time::now_utc_ms(); },
                      LABGATE_VERSION);
  if (auto s = app.enable_provisioning(*provisioning); !s) return fatal(s.error().message());
  if (broker_files) {
    if (cfg->broker_dir.empty()) return fatal("--write-broker-files: the config has no [broker] dir");
    std::cout << "broker files in " << cfg->broker_dir.string() << ": start the broker with mosquitto -c "
              << (cfg->broker_dir / "mosquitto.conf").string() << "\n";
    return 0;
  }

  lg::server::http::HttpOptions ho;
  ho.address = cfg->http_listen;
  ho.port = static_cast<uint16_t>(cfg->http_port);
  ho.body_limit = cfg->body_limit;
  ho.max_connections = cfg->max_connections;
  ho.idle_timeout = std::chrono::seconds(cfg->idle_timeout_s);
  ho.threads = static_cast<std::size_t>(cfg->http_threads);
  ho.header_limit = cfg->header_limit;
  ho.header_timeout = std::chrono::seconds(cfg->header_timeout_s);
  ho.request_timeout = std::chrono::seconds(cfg->request_timeout_s);
  ho.max_connections_per_address = cfg->max_connections_per_address;
  ho.rate_per_s = cfg->rate_per_s;
  ho.rate_burst = cfg->rate_burst;
  ho.tls.cert_file = cfg->tls_cert;
  ho.tls.key_file = cfg->tls_key;
  // The database connections hold descriptors too (SQLite: the file, its WAL and shared memory;
  // PostgreSQL: one socket each): keep them out of the automatic connection cap.
  const std::size_t db_descriptors = connections * (store.kind == "sqlite" ? 3 : 1);
  ho.reserved_descriptors = lg::server::http::kReservedDescriptors + db_descriptors;
  auto http = lg::server::http::HttpServer::start(
      http_io, ho, [&app](const lg::server::http::Request& r) { return app.handle_http(r); });
  if (!http) {
    // A well-formed address this host does not have is a config error like a malformed one.
    if (http.error().code == std::errc::address_not_available || http.error().reason.rfind("http.tls_", 0) == 0) {
      std::fprintf(stderr, "labgate-server: bad config: %s\n", lg::log::escape(http.error().reason).c_str());
      return 2;
    }
    return fatal(http.error().message());
  }
  {
    const auto nofile = lg::server::http::nofile_soft_limit();
    const std::string limit = nofile == UINT64_MAX ? "unlimited" : std::to_string(nofile);
    lg::log::info(kLog, "http: at most " + std::to_string((*http)->max_connections()) + " connections at once (" +
                            (cfg->max_connections > 0 ? std::string("http.max_connections")
                                                      : "descriptor limit " + limit + " minus " +
                                                            std::to_string(ho.reserved_descriptors) + " reserved, " +
                                                            std::to_string(db_descriptors) + " of them for the database") +
                            "), idle ones closed after " + std::to_string(cfg->idle_timeout_s) + " s, " +
                            std::to_string(cfg->http_threads) + " worker threads");
    lg::log::info(kLog, "http: " + std::string((*http)->tls() ? "HTTPS only (TLS 1.2+, " + cfg->tls_cert.string() + ")" : "plain HTTP") +
                            "; headers within " + std::to_string(cfg->header_timeout_s) + " s of a request's first byte, " +
                            (cfg->max_connections_per_address > 0
                                 ? "at most " + std::to_string(cfg->max_connections_per_address) + " connections"
                                 : std::string("no cap on connections")) +
                            " per address, " +
                            (cfg->rate_per_s > 0 ? std::to_string(static_cast<long long>(cfg->rate_per_s)) +
                                                       " requests/s per address after a burst of " +
                                                       std::to_string(static_cast<long long>(cfg->rate_burst))
                                                 : std::string("no request rate limit")));
    if (!(*http)->tls() && !lg::server::is_loopback_address(cfg->http_listen)) {
      lg::log::warn(kLog, "http: serving plain HTTP on " + cfg->http_listen +
                              " (http.allow_plain): passwords and session tokens cross the network unencrypted "
                              "unless a TLS proxy is in front");
    }
    std::error_code kec;
    const auto perms = (*http)->tls() ? fs::status(cfg->tls_key, kec).permissions() : fs::perms::none;
    if (!kec && (perms & (fs::perms::group_all | fs::perms::others_all)) != fs::perms::none) {
      lg::log::warn(kLog, "http.tls_key: " + cfg->tls_key.string() + " is readable by others than its owner (chmod 600)");
    }
  }
  const uint16_t port = (*http)->port();
  if (auto s = write_file_atomic(cfg->data_dir / "http.port", std::to_string(port) + "\n"); !s) {
    return fatal(s.error().message());
  }

  // Bundle changes from write paths are coalesced for sync_delay_ms, then rebuilt on the sync strand.
  net::steady_timer dirty_timer(sync_io);
  std::atomic<bool> flush_armed{false};
  std::function<void()> arm_flush_again;
  auto arm_flush = [&] {
    if (flush_armed.exchange(true)) return;
    net::post(sync_io, [&] {
      dirty_timer.expires_after(std::chrono::milliseconds(cfg->sync_delay_ms));
      dirty_timer.async_wait([&](const boost::system::error_code& e) {
        flush_armed = false;
        if (e) return;
        app.flush_dirty();
        if (app.dirty().pending()) arm_flush_again();
      });
    });
  };
  arm_flush_again = arm_flush;
  app.dirty().on_first_mark([&] { arm_flush(); });

  const std::string site = cfg->site;
  // evt batches: verified on a pool, committed in groups, acks coalesced (usage/pipeline.hpp).
  lg::server::usage::Pipeline::Hooks hooks;
  hooks.now = [] { return lg::time::now_utc_ms(); };
  hooks.publish = [&](const lg::server::usage::Outgoing& a) {
    auto s = publisher.publish(a.topic, a.payload, a.qos, a.retained);
    if (!s) lg::log::warn(kLog, "ack on " + a.topic + " not sent (the terminal publishes the batch again after its resend_s): " + s.error().message());
    return s.ok();
  };
  hooks.acks_sent = [&](int64_t n) {
    if (auto s = app.stores().usage.count("acks", n); !s) lg::log::error(kLog, "count acks: " + s.error().message());
  };
  hooks.done = [&app] { app.health().ingest_done(); };
  lg::server::usage::Pipeline pipeline(
      app.ingest(),
      lg::server::usage::Pipeline::Options{cfg->ingest_verify_threads, static_cast<std::size_t>(cfg->ingest_max_group),
                                           committers},
      std::move(hooks));
  mqtt.on_message([&](lg::mqtt::Message m) {
    auto parts = lg::proto::parse_topic(m.topic);
    if (parts && parts->site == site && parts->channel == lg::proto::Channel::sync) {
      net::post(sync_io, [&app, t = parts->terminal, p = std::move(m.payload)] { app.on_sync_topic(t, p); });
      return;
    }
    app.health().ingest_queued(lg::time::now_utc_ms());
    if (parts && parts->channel == lg::proto::Channel::evt) {
      pipeline.submit(std::move(m.topic), std::move(m.payload));
      return;
    }
    net::post(ingest_io, [&app, m = std::move(m)] {
      app.on_mqtt_message(m.topic, m.payload);
      app.health().ingest_done();
    });
  });
  mqtt.on_connection([&](bool connected) {
    app.health().broker(connected, connected ? "" : "connection lost");
    if (connected) {
      net::post(sync_io, [&app] { app.on_mqtt_connected(); });
    } else {
      lg::log::warn(kLog, "MQTT connection to " + cfg->mqtt_uri + " lost; reconnecting");
    }
  });
  // Every failed attempt: the operator sees why (wrong port, broker down, refused) at once.
  mqtt.on_connect_failed([&](const std::string& why) {
    app.health().broker(false, "cannot connect to " + cfg->mqtt_uri + ": " + why);
    lg::log::warn(kLog, "MQTT: cannot connect to " + cfg->mqtt_uri + ": " + why + "; retrying");
  });
  // Several nodes share the terminals' traffic through one shared subscription group: the broker
  // gives each message to one of them (docs/SCALE.md).
  const std::string share = cfg->mqtt_shared_group.empty() ? "" : "$share/" + cfg->mqtt_shared_group + "/";
  mqtt.subscribe(share + lg::proto::topic_filter(cfg->site, lg::proto::Channel::evt), 1);
  mqtt.subscribe(share + lg::proto::topic_filter(cfg->site, lg::proto::Channel::state), 1);
  if (!share.empty()) lg::log::info(kLog, "MQTT: evt and state shared with the group " + cfg->mqtt_shared_group);
  // The server owns every terminal's retained sync topic: it watches what the broker holds there
  // and publishes the current bundle again when someone deleted or rolled it back.
  mqtt.subscribe(lg::proto::topic_filter(cfg->site, lg::proto::Channel::sync), 1);
  // Answers to remote commands (App::on_mqtt_message on the ingest strand, CommandService): not
  // shared, so every node keeps each terminal's last answer for GET .../commands/last.
  mqtt.subscribe(lg::proto::topic_filter(cfg->site, lg::proto::Channel::cmdres), 1);

  net::post(sync_io, [&app] { app.start(); });
  mqtt.start();

  net::steady_timer timer(sync_io);
  const auto period = std::chrono::seconds(cfg->sync_refresh_s);
  std::function<void()> arm = [&] {
    timer.expires_after(period);
    timer.async_wait([&](const boost::system::error_code& e) {
      if (e) return;
      app.tick();
      arm();
    });
  };
  arm();

  // Notices: a round every smtp.poll_ms on their own thread (each SMTP step bounded by smtp.timeout_s,
  // a round by smtp.batch notices).
  std::unique_ptr<lg::server::notify::SmtpMailer> mailer;
  net::steady_timer notify_timer(notify_io);
  std::function<void()> arm_notices = [&] {
    notify_timer.expires_after(std::chrono::milliseconds(cfg->smtp.poll_ms));
    notify_timer.async_wait([&](const boost::system::error_code& e) {
      if (e) return;
      app.send_notices();
      arm_notices();
    });
  };
  if (cfg->smtp.enabled) {
    lg::server::notify::SmtpSettings ss;
    ss.host = cfg->smtp.host;
    ss.port = cfg->smtp.port;
    ss.starttls = cfg->smtp.starttls;
    ss.ca_file = cfg->smtp.ca_file.string();
    ss.username = cfg->smtp.username;
    ss.password = cfg->smtp.password;
    ss.timeout_ms = int64_t{cfg->smtp.timeout_s} * 1000;
    mailer = std::make_unique<lg::server::notify::SmtpMailer>(ss);
    app.enable_notices(*mailer, lg::server::notice_settings(cfg->smtp));
    lg::log::info(kLog, "notices: mailed through " + cfg->smtp.host + ":" + std::to_string(cfg->smtp.port) +
                            (cfg->smtp.starttls ? " (STARTTLS)" : " (plain SMTP)") + " from " + cfg->smtp.from);
    arm_notices();
  } else {
    lg::log::info(kLog, "notices: recorded, not mailed (smtp.enabled is off)");
  }

  net::io_context main_io;
  net::signal_set signals(main_io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& e, int sig) {
    if (e) return;
    lg::log::info(kLog, std::string("signal ") + (sig == SIGINT ? "SIGINT" : "SIGTERM") + ": stopping");
  });

  lg::log::info(kLog, "labgate-server " + std::string(LABGATE_VERSION) + " site " + cfg->site + " listening on " +
                          ((*http)->tls() ? "https://" : "http://") + cfg->http_listen + ":" + std::to_string(port) + ", mqtt " + cfg->mqtt_uri + ", data " +
                          cfg->data_dir.string());
  auto keep_http = net::make_work_guard(http_io);
  auto keep_ingest = net::make_work_guard(ingest_io);
  auto keep_sync = net::make_work_guard(sync_io);
  auto keep_notify = net::make_work_guard(notify_io);
  std::thread http_thread([&] { http_io.run(); });
  std::thread ingest_thread([&] { ingest_io.run(); });
  pipeline.start();
  std::thread sync_thread([&] { sync_io.run(); });
  std::thread notify_thread([&] { notify_io.run(); });
  main_io.run();  // until a signal
  // Stop taking work, let the strands finish what they hold, then stop.
  mqtt.stop();
  (*http)->stop();
  net::post(sync_io, [&] {
    timer.cancel();
    dirty_timer.cancel();
  });
  net::post(notify_io, [&] { notify_timer.cancel(); });  // a round under way finishes first
  pipeline.stop();  // finishes the group being committed; the rest is resent by the terminals
  lg::log::info(kLog, "ingest: " + std::to_string(pipeline.batches()) + " evt batches committed in " +
                          std::to_string(pipeline.groups()) + " groups");
  keep_ingest.reset();
  keep_sync.reset();
  ingest_thread.join();
  sync_thread.join();
  keep_notify.reset();
  notify_thread.join();
  keep_http.reset();
  http_io.stop();
  http_thread.join();
  lg::log::info(kLog, "stopped");
  return 0;
}
