#include "server/core/health.hpp"

namespace lg::server {

void Health::broker(bool connected, const std::string& reason) {
  std::lock_guard lock(m_);
  broker_connected_ = connected;
  broker_error_ = connected ? std::string() : reason;
}

void Health::signer(bool reachable, const std::string& reason) {
  std::lock_guard lock(m_);
  signer_watched_ = true;
  signer_reachable_ = reachable;
  signer_error_ = reachable ? std::string() : reason;
}

void Health::ingest_queued(int64_t now_ms) {
  std::lock_guard lock(m_);
  queued_.push_back(now_ms);
}

void Health::ingest_done() {
  std::lock_guard lock(m_);
  if (!queued_.empty()) queued_.pop_front();
}

Health::Report Health::report(int64_t now_ms) const {
  std::lock_guard lock(m_);
  Report r;
  r.broker_connected = broker_connected_;
  r.broker_error = broker_error_;
  r.ingest_queued = static_cast<int64_t>(queued_.size());
  r.ingest_lag_ms = queued_.empty() ? 0 : std::max<int64_t>(0, now_ms - queued_.front());
  r.signer_watched = signer_watched_;
  r.signer_reachable = signer_reachable_;
  r.signer_error = signer_error_;
  return r;
}

}  // namespace lg::server
