// An in-memory MQTT broker for labgate-sim: topics with + and # filters, retained messages,
// QoS-1-like delivery and auto-reconnecting clients, all on virtual time. Faults are decided by
// a seeded stream: a delivery can be dropped, duplicated, delayed or overtaken by later ones;
// a client can be cut off the network; the whole broker can go down (optionally losing its
// retained messages). Connection callbacks follow Paho as lg::mqtt::Client reports them: the
// retained messages of a new connection may arrive before or after the "connected" callback,
// and a connection lost before it was reported is never reported at all.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "labgate/common/mqtt.hpp"
#include "labgate/common/result.hpp"

#include "sim_time.hpp"

namespace lg::sim {

/// What can go wrong between the broker and a subscriber. Without faults every client's messages
/// reach the broker in order and every subscriber gets them in order (as MQTT does on one
/// connection); a message in flight is lost if the connection it travels on drops.
struct NetFaults {
  double drop = 0;           ///< probability that one delivery is lost
  double duplicate = 0;      ///< probability that one delivery is made twice
  double reorder = 0;        ///< probability that one delivery gets up to reorder_ms extra delay
  int64_t min_delay_ms = 1;  ///< every hop takes between min and max delay
  int64_t max_delay_ms = 20;
  int64_t reorder_ms = 3000;
};

/// Counts of what the broker did (for the run summary and tests).
struct BrokerStats {
  uint64_t published = 0;       ///< publishes accepted from connected clients
  uint64_t delivered = 0;       ///< messages handed to a subscriber
  uint64_t dropped = 0;         ///< deliveries lost to NetFaults::drop
  uint64_t duplicated = 0;      ///< extra copies made by NetFaults::duplicate
  uint64_t delayed = 0;         ///< deliveries given the reorder delay
  uint64_t lost_in_flight = 0;  ///< lost because a connection dropped before they arrived
  uint64_t connects = 0;
  uint64_t losses = 0;          ///< connections that dropped (any reason)
  uint64_t wills = 0;           ///< Last Wills published
};

class Broker {
 public:
  using ClientId = std::size_t;
  using MessageFn = std::function<void(const mqtt::Message&)>;
  using ConnectionFn = std::function<void(bool connected)>;

  /// The broker schedules on q and draws its faults from a stream seeded with seed.
  Broker(EventQueue& q, uint64_t seed);

  /// Registers a client (not running, not connected). Handlers run on virtual time.
  ClientId add_client(std::string name, MessageFn on_message, ConnectionFn on_connection);
  /// Adds a subscription, made on every (re)connect (retained messages are delivered then).
  void subscribe(ClientId c, std::string filter);
  /// Sets the Last Will the broker publishes when this client's connection drops uncleanly.
  void set_will(ClientId c, std::optional<mqtt::Will> will);

  /// The client's process starts: it connects now if it can and reconnects after every loss,
  /// with a seeded back-off, until stop().
  void start(ClientId c);
  /// The client's process ends. clean = false is a crash: the broker publishes the will. The
  /// loss is not reported to the client (its process is gone).
  void stop(ClientId c, bool clean);
  /// Cuts the client off the network for ms: the connection drops now (will published, loss
  /// reported if the connect was) and reconnect attempts fail until then.
  void partition(ClientId c, int64_t ms);
  /// Ends every partition and lets waiting clients retry at once.
  void heal();
  /// The broker goes down: every connection drops (no wills), connects fail until come_up().
  /// lose_retained: it comes back without its retained messages (no persistence).
  void go_down(bool lose_retained);
  /// The broker is reachable again.
  void come_up();

  /// Publishes from c. Fails at once when c is not connected (as lg::mqtt::Client::publish).
  /// Retained with an empty payload deletes the topic's retained message.
  Status publish(ClientId c, const std::string& topic, const std::string& payload, bool retained);

  /// Whether c is connected now (what a publisher's connected() reports).
  bool connected(ClientId c) const;
  /// Whether the broker is up.
  bool is_up() const { return up_; }
  /// Messages on their way (to the broker or to a subscriber).
  std::size_t in_flight() const { return in_flight_; }
  /// The retained messages, by topic.
  const std::map<std::string, std::string>& retained() const { return retained_; }
  /// What happened so far.
  const BrokerStats& stats() const { return stats_; }
  /// The client's name as registered.
  const std::string& name(ClientId c) const { return clients_.at(c).name; }

  /// MQTT topic filter matching with + (one level) and # (the rest).
  static bool matches(std::string_view filter, std::string_view topic);

  /// Faults applied from now on.
  NetFaults faults;
  /// Reconnect back-off bounds (each attempt waits a seeded time in between).
  int64_t min_retry_ms = 1000;
  int64_t max_retry_ms = 8000;
  /// Told of connects, losses, wills and outages (one line each), when set.
  std::function<void(const std::string&)> trace;

 private:
  struct Client {
    std::string name;
    MessageFn on_message;
    ConnectionFn on_connection;
    std::vector<std::string> subs;
    std::optional<mqtt::Will> will;
    bool running = false;
    bool connected = false;
    bool reported = false;        ///< the "connected" callback of this connection ran
    uint64_t epoch = 0;           ///< bumps on every connect and loss
    int64_t partitioned_until = -1;
    int64_t uplink_free_at = 0;   ///< publishes reach the broker in order
    int64_t downlink_free_at = 0; ///< deliveries to it stay in order unless the reorder fault hits
    bool retry_pending = false;
  };

  void try_connect(ClientId c);
  void schedule_retry(ClientId c, int64_t delay_ms);
  void lose(ClientId c, bool publish_will, bool report);
  void arrive(const std::string& topic, const std::string& payload, bool retained);
  void fan_out(ClientId c, const mqtt::Message& m);
  /// Delivers after delay_ms, behind what is already on its way to c (in_order), or not.
  void deliver_after(ClientId c, mqtt::Message m, int64_t delay_ms, bool in_order);
  int64_t hop_delay();
  void note(const std::string& line);

  EventQueue& q_;
  Rng rng_;
  std::vector<Client> clients_;
  std::map<std::string, std::string> retained_;
  bool up_ = true;
  std::size_t in_flight_ = 0;
  BrokerStats stats_;
};

}  // namespace lg::sim
