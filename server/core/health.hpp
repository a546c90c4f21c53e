// What /api/health reports: the broker connection, the ingest lag, the database and a remote CA signer. Written by
// the MQTT callbacks and the ingest strand, read by HTTP workers: guarded by one mutex.
#pragma once

#include <cstdint>
#include <algorithm>
#include <deque>
#include <mutex>
#include <string>

namespace lg::server {

class Health {
 public:
  /// A snapshot.
  struct Report {
    bool broker_connected = false;
    std::string broker_error;    ///< why the last connect failed or the connection was lost
    int64_t ingest_queued = 0;   ///< MQTT messages waiting for or in the ingest strand
    int64_t ingest_lag_ms = 0;   ///< age of the oldest of them
    bool signer_watched = false;   ///< a remote CA signer is configured (pki.signer_url)
    bool signer_reachable = true;  ///< it answered the last call or probe
    std::string signer_error;      ///< why it did not
  };

  /// The broker connection went up or down (reason: why, when down).
  void broker(bool connected, const std::string& reason = "");
  /// The remote CA signer answered (or not, and why); from then on the report shows it.
  void signer(bool reachable, const std::string& reason = "");
  /// A message was handed to the ingest strand at now_ms.
  void ingest_queued(int64_t now_ms);
  /// The ingest strand finished the oldest queued message.
  void ingest_done();
  Report report(int64_t now_ms) const;

 private:
  mutable std::mutex m_;
  bool broker_connected_ = false;
  std::string broker_error_ = "not connected yet";
  std::deque<int64_t> queued_;
  bool signer_watched_ = false;
  bool signer_reachable_ = true;
  std::string signer_error_;
};

}  // namespace lg::server
