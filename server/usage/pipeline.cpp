#include "server/usage/pipeline.hpp"

#include <variant>

#include "labgate/common/assert.hpp"

namespace lg::server::usage {

Pipeline::Pipeline(Ingest& ingest, Options o, Hooks h) : ingest_(ingest), opts_(o), hooks_(std::move(h)) {
  LG_INVARIANT(opts_.verify_threads >= 1 && opts_.max_group >= 1, "a pipeline has a verifier and groups of one");
}

Pipeline::~Pipeline() { stop(); }

void Pipeline::start() {
  for (int i = 0; i < opts_.verify_threads; ++i) verifiers_.emplace_back([this] { verify_loop(); });
  committer_ = std::thread([this] { commit_loop(); });
}

void Pipeline::submit(std::string topic, std::string payload) {
  {
    std::lock_guard lock(m_);
    raw_.push_back(Raw{std::move(topic), std::move(payload)});
  }
  raw_cv_.notify_one();
}

void Pipeline::stop() {
  {
    std::lock_guard lock(m_);
    if (stopping_ && verifiers_.empty() && !committer_.joinable()) return;
    stopping_ = true;
  }
  raw_cv_.notify_all();
  verified_cv_.notify_all();
  for (auto& t : verifiers_) {
    if (t.joinable()) t.join();
  }
  verifiers_.clear();
  if (committer_.joinable()) committer_.join();
}

std::size_t Pipeline::depth() const {
  std::lock_guard lock(m_);
  return raw_.size() + verifying_ + verified_.size();
}

uint64_t Pipeline::groups() const {
  std::lock_guard lock(m_);
  return groups_;
}

uint64_t Pipeline::batches() const {
  std::lock_guard lock(m_);
  return batches_;
}

void Pipeline::verify_loop() {
  for (;;) {
    Raw msg;
    {
      std::unique_lock lock(m_);
      raw_cv_.wait(lock, [&] { return stopping_ || !raw_.empty(); });
      if (stopping_) return;
      msg = std::move(raw_.front());
      raw_.pop_front();
      ++verifying_;
    }
    auto screened = ingest_.screen_event(msg.topic, msg.payload);
    bool rejected = false;
    {
      std::lock_guard lock(m_);
      --verifying_;
      if (auto* s = std::get_if<Ingest::Screened>(&screened)) verified_.push_back(std::move(*s));
      else rejected = true;
    }
    if (rejected) {
      if (hooks_.done) hooks_.done();  // refused (logged and counted by screen_event): nothing to commit
    } else {
      verified_cv_.notify_one();
    }
  }
}

void Pipeline::commit_loop() {
  for (;;) {
    std::vector<Ingest::Screened> group;
    {
      std::unique_lock lock(m_);
      verified_cv_.wait(lock, [&] { return stopping_ || !verified_.empty(); });
      if (stopping_) return;
      // Everything verified by now, up to max_group: under load the groups grow by themselves
      // (what arrives while one commits waits for the next), when idle a batch goes alone.
      const std::size_t n = std::min(verified_.size(), opts_.max_group);
      group.assign(std::make_move_iterator(verified_.begin()),
                   std::make_move_iterator(verified_.begin() + static_cast<std::ptrdiff_t>(n)));
      verified_.erase(verified_.begin(), verified_.begin() + static_cast<std::ptrdiff_t>(n));
    }
    auto results = ingest_.commit_group(group, hooks_.now());
    int64_t sent = 0;
    for (const auto& r : results) {
      if (r.verdict == Verdict::accepted && r.ack && hooks_.publish && hooks_.publish(*r.ack)) ++sent;
    }
    if (sent > 0 && hooks_.acks_sent) hooks_.acks_sent(sent);
    {
      std::lock_guard lock(m_);
      groups_ += 1;
      batches_ += group.size();
    }
    if (hooks_.done) {
      for (std::size_t i = 0; i < group.size(); ++i) hooks_.done();
    }
  }
}

}  // namespace lg::server::usage
