#include "broker.hpp"

#include <algorithm>

namespace lg::sim {

Broker::Broker(EventQueue& q, uint64_t seed) : q_(q), rng_(seed) {}

void Broker::note(const std::string& line) {
  if (trace) trace(line);
}

bool Broker::matches(std::string_view filter, std::string_view topic) {
  std::size_t f = 0;
  std::size_t t = 0;
  for (;;) {
    const std::size_t fe = filter.find('/', f);
    const std::string_view flevel = filter.substr(f, fe == std::string_view::npos ? std::string_view::npos : fe - f);
    if (flevel == "#") return true;
    if (t > topic.size()) return false;  // the topic has fewer levels
    const std::size_t te = topic.find('/', t);
    const std::string_view tlevel = topic.substr(t, te == std::string_view::npos ? std::string_view::npos : te - t);
    if (flevel != "+" && flevel != tlevel) return false;
    const bool f_last = fe == std::string_view::npos;
    const bool t_last = te == std::string_view::npos;
    if (f_last || t_last) {
      if (f_last && t_last) return true;
      // "a/#" also matches "a": a filter that continues with exactly "#" matches the parent level.
      return t_last && !f_last && filter.substr(fe + 1) == "#";
    }
    f = fe + 1;
    t = te + 1;
  }
}

Broker::ClientId Broker::add_client(std::string name, MessageFn on_message, ConnectionFn on_connection) {
  Client c;
  c.name = std::move(name);
  c.on_message = std::move(on_message);
  c.on_connection = std::move(on_connection);
  clients_.push_back(std::move(c));
  return clients_.size() - 1;
}

void Broker::subscribe(ClientId c, std::string filter) { clients_.at(c).subs.push_back(std::move(filter)); }

void Broker::set_will(ClientId c, std::optional<mqtt::Will> will) { clients_.at(c).will = std::move(will); }

bool Broker::connected(ClientId c) const { return clients_.at(c).connected; }

int64_t Broker::hop_delay() { return rng_.between(faults.min_delay_ms, faults.max_delay_ms); }

void Broker::start(ClientId c) {
  Client& cl = clients_.at(c);
  if (cl.running) return;
  cl.running = true;
  try_connect(c);
}

void Broker::stop(ClientId c, bool clean) {
  Client& cl = clients_.at(c);
  cl.running = false;
  lose(c, !clean, false);
}

void Broker::partition(ClientId c, int64_t ms) {
  clients_.at(c).partitioned_until = q_.now() + ms;
  note(clients_.at(c).name + " cut off for " + std::to_string(ms) + " ms");
  lose(c, true, true);
}

void Broker::heal() {
  for (ClientId c = 0; c < clients_.size(); ++c) {
    clients_[c].partitioned_until = -1;
    if (clients_[c].running && !clients_[c].connected) try_connect(c);
  }
}

void Broker::go_down(bool lose_retained) {
  if (!up_) return;
  up_ = false;
  note(std::string("broker down") + (lose_retained ? " (retained messages lost)" : ""));
  for (ClientId c = 0; c < clients_.size(); ++c) lose(c, false, true);
  if (lose_retained) retained_.clear();
}

void Broker::come_up() {
  if (up_) return;
  up_ = true;
  note("broker up");
}

void Broker::schedule_retry(ClientId c, int64_t delay_ms) {
  Client& cl = clients_.at(c);
  if (cl.retry_pending) return;
  cl.retry_pending = true;
  q_.after(delay_ms, [this, c] {
    clients_.at(c).retry_pending = false;
    try_connect(c);
  });
}

void Broker::try_connect(ClientId c) {
  Client& cl = clients_.at(c);
  if (!cl.running || cl.connected) return;
  if (!up_ || q_.now() < cl.partitioned_until) {
    schedule_retry(c, rng_.between(min_retry_ms, max_retry_ms));
    return;
  }
  cl.connected = true;
  cl.reported = false;
  const uint64_t epoch = ++cl.epoch;
  ++stats_.connects;
  // The subscriptions are made as the connection comes up; the retained messages they match
  // and the "connected" callback each take their own (seeded) time, so either may come first.
  const int64_t report_in = rng_.between(0, 20);
  q_.after(report_in, [this, c, epoch] {
    Client& me = clients_.at(c);
    if (!me.connected || me.epoch != epoch) return;  // lost before it was reported: never reported
    me.reported = true;
    if (me.on_connection) me.on_connection(true);
  });
  int retained_first = 0;
  for (const auto& [topic, payload] : retained_) {
    bool match = false;
    for (const auto& f : cl.subs) match = match || matches(f, topic);
    if (!match) continue;
    mqtt::Message m{topic, payload, true};
    if (rng_.chance(faults.drop)) {
      ++stats_.dropped;
      continue;
    }
    const int64_t in = rng_.between(0, 20);
    if (std::max(q_.now() + in, cl.downlink_free_at) < q_.now() + report_in) ++retained_first;
    deliver_after(c, m, in, true);
  }
  note(cl.name + " connected" + (retained_first > 0 ? " (retained before the callback)" : ""));
}

void Broker::lose(ClientId c, bool publish_will, bool report) {
  Client& cl = clients_.at(c);
  if (!cl.connected) {
    if (cl.running && report) schedule_retry(c, rng_.between(min_retry_ms, max_retry_ms));
    return;
  }
  cl.connected = false;
  ++cl.epoch;
  ++stats_.losses;
  const bool was_reported = cl.reported;
  cl.reported = false;
  note(cl.name + " connection lost" + (was_reported ? "" : " (before it was reported)"));
  if (publish_will && up_ && cl.will) {
    ++stats_.wills;
    const mqtt::Will w = *cl.will;
    arrive(w.topic, w.payload, w.retained);
  }
  if (cl.running) schedule_retry(c, rng_.between(min_retry_ms, max_retry_ms));
  if (report && was_reported && clients_.at(c).on_connection) clients_.at(c).on_connection(false);
}

Status Broker::publish(ClientId c, const std::string& topic, const std::string& payload, bool retained) {
  Client& cl = clients_.at(c);
  if (!cl.connected) return Error::invalid("not connected");
  ++stats_.published;
  const int64_t arrival = std::max(q_.now() + hop_delay(), cl.uplink_free_at);
  cl.uplink_free_at = arrival;
  ++in_flight_;
  q_.at(arrival, [this, c, epoch = cl.epoch, topic, payload, retained] {
    --in_flight_;
    const Client& sender = clients_.at(c);
    if (!up_ || !sender.connected || sender.epoch != epoch) {
      ++stats_.lost_in_flight;
      return;
    }
    arrive(topic, payload, retained);
  });
  return {};
}

void Broker::arrive(const std::string& topic, const std::string& payload, bool retained) {
  if (retained) {
    if (payload.empty()) {
      retained_.erase(topic);
    } else {
      retained_[topic] = payload;
    }
  }
  const mqtt::Message m{topic, payload, false};
  for (ClientId c = 0; c < clients_.size(); ++c) {
    const Client& cl = clients_[c];
    if (!cl.connected) continue;
    bool match = false;
    for (const auto& f : cl.subs) match = match || matches(f, topic);
    if (match) fan_out(c, m);
  }
}

void Broker::fan_out(ClientId c, const mqtt::Message& m) {
  if (rng_.chance(faults.drop)) {
    ++stats_.dropped;
    return;
  }
  const int copies = rng_.chance(faults.duplicate) ? 2 : 1;
  if (copies == 2) ++stats_.duplicated;
  for (int i = 0; i < copies; ++i) {
    if (rng_.chance(faults.reorder)) {
      ++stats_.delayed;
      deliver_after(c, m, hop_delay() + rng_.between(0, faults.reorder_ms), false);
    } else {
      deliver_after(c, m, hop_delay(), true);
    }
  }
}

void Broker::deliver_after(ClientId c, mqtt::Message m, int64_t delay_ms, bool in_order) {
  ++in_flight_;
  Client& cl = clients_.at(c);
  int64_t at = q_.now() + delay_ms;
  if (in_order) {
    at = std::max(at, cl.downlink_free_at);
    cl.downlink_free_at = at;
  }
  q_.at(at, [this, c, epoch = cl.epoch, m = std::move(m)] {
    --in_flight_;
    const Client& to = clients_.at(c);
    if (!to.connected || to.epoch != epoch) {
      ++stats_.lost_in_flight;
      return;
    }
    ++stats_.delivered;
    if (to.on_message) to.on_message(m);
  });
}

}  // namespace lg::sim
