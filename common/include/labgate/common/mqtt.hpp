// MQTT client over Paho MQTT C++, shared by terminal, server, tools and benchmarks.
// Paho is transport only: QoS 1 may duplicate or (on reconnect) drop messages; the
// application-level ack decides what is delivered. Paho headers stay in mqtt.cpp.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "labgate/common/result.hpp"

namespace lg::mqtt {

struct Will {
  std::string topic;
  std::string payload;
  int qos = 1;
  bool retained = true;
};

/// Mutual TLS to the broker: the CA that signed the broker's certificate, and this client's own
/// certificate and key (PEM files). The broker's host name is checked against its certificate.
struct Tls {
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
};

struct Options {
  std::string uri = "tcp://127.0.0.1:1883";
  /// Set for ssl:// URIs (create() refuses an ssl:// URI without it and a tcp:// URI with it).
  std::optional<Tls> tls;
  std::string client_id;
  std::optional<Will> will;
  int keepalive_s = 10;
  int connect_timeout_s = 5;
  int min_retry_s = 1;   ///< automatic reconnect back-off, lower bound
  int max_retry_s = 8;   ///< upper bound
  int max_inflight = 64;
  /// Publishes the client holds beyond max_inflight (Paho's default is 100). When it is full,
  /// publish fails with std::errc::no_buffer_space; publish_when_room waits instead.
  int max_buffered = 100;
};

struct Message {
  std::string topic;
  std::string payload;
  bool retained = false;
};

/// An auto-reconnecting client. Handlers run on Paho's threads or on the client's supervisor
/// thread: post work to your own executor. Subscriptions are remembered and re-made on every
/// (re)connect. Speaks MQTT 3.1.1 only.
class Client {
 public:
  using MessageHandler = std::function<void(Message)>;
  using ConnectionHandler = std::function<void(bool connected)>;
  using FailureHandler = std::function<void(const std::string& reason)>;

  /// Creates the client (does not connect). Fails on a malformed URI.
  static Result<std::unique_ptr<Client>> create(Options opts);
  /// Stops (as stop()) and releases Paho before the handlers. Never from one of its own handlers.
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  /// Sets the handler for incoming messages (set before start()).
  void on_message(MessageHandler h);
  /// Sets the handler told of connect (true) and connection loss (false) (set before start()).
  void on_connection(ConnectionHandler h);
  /// Called (on the supervisor thread) after each failed connect attempt, with the reason
  /// (e.g. "MQTT error [-1]: TCP/TLS connect failure"); the next attempt waits until it returns.
  /// Set before start().
  void on_connect_failed(FailureHandler h);
  /// Adds a subscription, made now if connected and again after every reconnect.
  void subscribe(const std::string& filter, int qos);
  /// Starts connecting in the background; keeps retrying until stop().
  void start();
  /// Disconnects (the broker will NOT publish the will) and stops reconnecting. Safe from any
  /// thread and from several at once: one caller joins the supervisor and disconnects, the others
  /// return once it has. From a handler on the supervisor thread (on_connection,
  /// on_connect_failed) it only asks the supervisor to end (no attempt follows) and returns; a
  /// later stop() on another thread, or the destructor, joins and disconnects.
  void stop();
  /// True while connected.
  bool connected() const;
  /// Queues a publish. Fails at once when not connected (callers keep their own outbox).
  Status publish(const std::string& topic, const std::string& payload, int qos, bool retained);
  /// Like publish, but while the client's buffer is full (max_buffered publishes not yet handed
  /// to the broker) waits for room, up to timeout_ms, instead of failing: back-pressure for a
  /// producer that must not drop what it publishes (the server's acks).
  Status publish_when_room(const std::string& topic, const std::string& payload, int qos, bool retained,
                           int timeout_ms);
  /// Like publish but blocks until the broker acknowledged (PUBACK for QoS 1) or timeout.
  Status publish_wait(const std::string& topic, const std::string& payload, int qos, bool retained,
                      int timeout_ms);

 private:
  Client();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lg::mqtt
