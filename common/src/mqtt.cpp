// The only translation unit that includes Paho MQTT C++.
#include "labgate/common/mqtt.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include <mqtt/async_client.h>

#include "labgate/common/log.hpp"

namespace lg::mqtt {

struct Client::Impl {
  Options opts;
  std::unique_ptr<::mqtt::async_client> cli;
  MessageHandler on_message;
  ConnectionHandler on_connection;
  FailureHandler on_failure;
  std::string last_error;  // why the last connect failed or the connection was lost (supervisor thread)

  std::mutex mutex;
  std::condition_variable cv;
  std::vector<std::pair<std::string, int>> subscriptions;
  bool stopping = false;
  bool lost = false;  // set by the connection-lost callback; wakes the supervisor
  std::atomic<bool> up{false};
  std::thread supervisor;
  /// The supervisor's id, set by the supervisor itself first thing: stop() called from a
  /// handler (on the supervisor) sees its own id here and does not join itself.
  std::atomic<std::thread::id> supervisor_id{};
  /// Held by the one stop() that joins and disconnects; a concurrent stop() waits for it.
  std::mutex stop_mutex;

  bool is_stopping() {
    std::lock_guard<std::mutex> lock(mutex);
    return stopping;
  }

  ::mqtt::connect_options connect_options() const {
    ::mqtt::connect_options co;
    co.set_clean_session(true);
    co.set_keep_alive_interval(opts.keepalive_s);
    co.set_connect_timeout(opts.connect_timeout_s);
    co.set_max_inflight(opts.max_inflight);
    co.set_automatic_reconnect(false);  // the supervisor reconnects; also covers a failed first connect
    // MQTT 3.1.1 only. With the default (3.1.1, then 3.1) Paho C queues a 3.1 CONNECT of its own
    // when a connection is lost; the supervisor's connect() then comes while that one is queued,
    // Paho C ignores it (MQTTASYNC_COMMAND_IGNORED, -18) after having already taken its token as
    // the context of the client's connect callbacks, and Paho C++ frees that token: the next
    // connect callback runs on freed memory (issue 9: the terminal aborted with std::system_error
    // EINVAL from the freed token's mutex). Mosquitto speaks 3.1.1.
    co.set_mqtt_version(MQTTVERSION_3_1_1);
    if (opts.tls) {
      ::mqtt::ssl_options ssl;
      ssl.set_trust_store(opts.tls->ca_file);
      ssl.set_key_store(opts.tls->cert_file);
      ssl.set_private_key(opts.tls->key_file);
      ssl.set_enable_server_cert_auth(true);
      ssl.set_verify(true);  // the broker's host name must be in its certificate
      ssl.set_ssl_version(MQTT_SSL_VERSION_TLS_1_2);
      co.set_ssl(ssl);
    }
    if (opts.will) {
      ::mqtt::will_options w(opts.will->topic, opts.will->payload, opts.will->qos, opts.will->retained);
      co.set_will(w);
    }
    return co;
  }

  bool try_connect() {
    try {
      // Paho C's connect writes the new token into the client's connect callbacks before it
      // takes its client lock, while Paho may still be inside the callback that told us of the
      // last loss or failure (it calls them under that lock and clears the callbacks after them):
      // the new token would get the old connection's failure, or lose its callbacks. is_connected()
      // takes that lock, so Paho has left the callback when it returns.
      (void)cli->is_connected();
      // One connect in the library at a time: wait for Paho's own verdict on this one (its
      // connect timeout bounds the wait) before another can be made, for the same reason as the
      // version above. Only stop() cuts the wait short; the client is destroyed after it.
      auto token = cli->connect(connect_options());
      while (!token->wait_for(std::chrono::milliseconds(100))) {  // throws when the connect failed
        if (is_stopping()) return false;
      }
      if (!cli->is_connected()) {
        last_error = "the connection closed as soon as it was made";
        return false;
      }
      std::vector<std::pair<std::string, int>> subs;
      {
        std::lock_guard<std::mutex> lock(mutex);
        subs = subscriptions;
      }
      for (const auto& [filter, qos] : subs) cli->subscribe(filter, qos)->wait_for(std::chrono::seconds(5));
      return cli->is_connected();
    } catch (const ::mqtt::exception& e) {
      last_error = e.what();
      log::debug("mqtt", opts.client_id + ": connect to " + opts.uri + " failed: " + e.what());
      return false;
    }
  }

  void run() {
    supervisor_id = std::this_thread::get_id();
    int backoff = std::max(1, opts.min_retry_s);
    std::unique_lock<std::mutex> lock(mutex);
    while (!stopping) {
      if (!up.load()) {
        lost = false;  // before the attempt: a loss reported while it ends is not missed
        lock.unlock();
        const bool ok = try_connect();
        lock.lock();
        if (stopping) break;
        if (ok) {
          up = true;
          backoff = std::max(1, opts.min_retry_s);
          log::info("mqtt", opts.client_id + ": connected to " + opts.uri);
          lock.unlock();
          if (on_connection) on_connection(true);
          lock.lock();
        } else {
          if (on_failure) {
            const std::string why = last_error;
            lock.unlock();
            on_failure(why);
            lock.lock();
          }
          cv.wait_for(lock, std::chrono::seconds(backoff), [&] { return stopping; });
          backoff = std::min(backoff * 2, std::max(1, opts.max_retry_s));
        }
        continue;
      }
      cv.wait(lock, [&] { return stopping || lost; });
      if (lost && !stopping) {
        lost = false;
        up = false;
        log::warn("mqtt", opts.client_id + ": connection to " + opts.uri + " lost");
        lock.unlock();
        if (on_connection) on_connection(false);
        lock.lock();
      }
    }
  }
};

Client::Client() : impl_(std::make_unique<Impl>()) {}

Client::~Client() {
  stop();
  // Paho goes first: none of its threads may call into the handlers or the mutex below once
  // they are being destroyed.
  if (impl_) impl_->cli.reset();
}

Result<std::unique_ptr<Client>> Client::create(Options opts) {
  const bool ssl_uri = opts.uri.rfind("ssl://", 0) == 0 || opts.uri.rfind("mqtts://", 0) == 0;
  if (ssl_uri && !opts.tls) return Error::invalid("mqtt: " + opts.uri + " needs a CA, certificate and key");
  if (!ssl_uri && opts.tls) return Error::invalid("mqtt: TLS files given but the URI is not ssl://");
  if (opts.tls) {
    for (const auto& [what, file] : {std::pair<const char*, const std::string&>{"CA", opts.tls->ca_file},
                                     {"certificate", opts.tls->cert_file},
                                     {"key", opts.tls->key_file}}) {
      if (file.empty() || ::access(file.c_str(), R_OK) != 0)
        return Error::invalid(std::string("mqtt: cannot read the ") + what + " file '" + file + "'");
    }
  }
  std::unique_ptr<Client> c(new Client());
  try {
    ::mqtt::create_options co;
    co.set_max_buffered_messages(opts.max_buffered);
    c->impl_->cli = std::make_unique<::mqtt::async_client>(opts.uri, opts.client_id, co, nullptr);
  } catch (const std::exception& e) {
    return Error::invalid("mqtt: cannot create client for '" + opts.uri + "': " + e.what());
  }
  c->impl_->opts = std::move(opts);
  Impl* impl = c->impl_.get();
  impl->cli->set_connection_lost_handler([impl](const std::string&) {
    std::lock_guard<std::mutex> lock(impl->mutex);
    impl->lost = true;
    impl->cv.notify_all();
  });
  impl->cli->set_message_callback([impl](::mqtt::const_message_ptr m) {
    if (!impl->on_message || !m) return;
    impl->on_message(Message{m->get_topic(), m->to_string(), m->is_retained()});
  });
  return c;
}

void Client::on_message(MessageHandler h) { impl_->on_message = std::move(h); }
void Client::on_connection(ConnectionHandler h) { impl_->on_connection = std::move(h); }
void Client::on_connect_failed(FailureHandler h) { impl_->on_failure = std::move(h); }

void Client::subscribe(const std::string& filter, int qos) {
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->subscriptions.emplace_back(filter, qos);
  }
  if (impl_->up.load()) {
    try {
      impl_->cli->subscribe(filter, qos);
    } catch (const ::mqtt::exception& e) {
      log::warn("mqtt", "subscribe " + filter + " failed: " + e.what());
    }
  }
}

void Client::start() {
  std::lock_guard<std::mutex> stop_lock(impl_->stop_mutex);  // not while a stop() joins
  if (impl_->supervisor.joinable()) return;
  impl_->supervisor = std::thread([this] { impl_->run(); });
}

void Client::stop() {
  if (!impl_) return;
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->stopping = true;
    impl_->cv.notify_all();
  }
  // From a handler: the supervisor ends its loop when the handler returns; a stop() on another
  // thread (or the destructor) joins it and disconnects.
  if (std::this_thread::get_id() == impl_->supervisor_id.load()) return;
  // One caller joins and disconnects; the others wait here until it has, then find nothing to do.
  std::lock_guard<std::mutex> stop_lock(impl_->stop_mutex);
  if (impl_->supervisor.joinable()) {
    impl_->supervisor.join();
    impl_->supervisor_id = std::thread::id();
  }
  try {
    if (impl_->cli && impl_->cli->is_connected()) impl_->cli->disconnect()->wait_for(std::chrono::seconds(2));
  } catch (const ::mqtt::exception&) {
  }
  impl_->up = false;
}

bool Client::connected() const { return impl_->up.load() && impl_->cli->is_connected(); }

Status Client::publish(const std::string& topic, const std::string& payload, int qos, bool retained) {
  if (!connected()) return Error::from(std::make_error_code(std::errc::not_connected), "mqtt: not connected");
  try {
    impl_->cli->publish(topic, payload.data(), payload.size(), qos, retained);
  } catch (const ::mqtt::exception& e) {
    const auto code = e.get_return_code() == MQTTASYNC_MAX_BUFFERED_MESSAGES ? std::errc::no_buffer_space
                                                                             : std::errc::io_error;
    return Error::from(std::make_error_code(code), std::string("mqtt publish: ") + e.what());
  }
  return {};
}

Status Client::publish_when_room(const std::string& topic, const std::string& payload, int qos, bool retained,
                                 int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    Status s = publish(topic, payload, qos, retained);
    if (s || s.error().code != std::make_error_code(std::errc::no_buffer_space)) return s;
    if (std::chrono::steady_clock::now() >= deadline) return s;
    // The buffer empties at the broker's PUBACK pace (a round trip on the local network).
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

Status Client::publish_wait(const std::string& topic, const std::string& payload, int qos, bool retained,
                            int timeout_ms) {
  if (!connected()) return Error::from(std::make_error_code(std::errc::not_connected), "mqtt: not connected");
  try {
    auto tok = impl_->cli->publish(topic, payload.data(), payload.size(), qos, retained);
    if (!tok->wait_for(std::chrono::milliseconds(timeout_ms)))
      return Error::from(std::make_error_code(std::errc::timed_out), "mqtt publish: no PUBACK in time");
  } catch (const ::mqtt::exception& e) {
    return Error::from(std::make_error_code(std::errc::io_error), std::string("mqtt publish: ") + e.what());
  }
  return {};
}

}  // namespace lg::mqtt
