// Where the server's MQTT messages go: the real lg::mqtt::Client in the process, a recorder in tests.
#pragma once

#include <string>

#include "labgate/common/result.hpp"

namespace lg::server {

class Publisher {
 public:
  virtual ~Publisher() = default;
  /// Queues one publish; fails when it cannot be sent now (e.g. not connected).
  virtual Status publish(const std::string& topic, const std::string& payload, int qos, bool retained) = 0;
};

}  // namespace lg::server
