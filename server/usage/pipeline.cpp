#include "server/usage/pipeline.hpp"

#include <variant>

#include "labgate/common/assert.hpp"

namespace lg::server::usage {

Pipeline::Pipeline(Ingest& ingest, Options o, Hooks h) : ingest_(ingest), opts_(o), hooks_(std::move(h)) {
  LG_INVARIANT(opts_.verify_threads >= 1 && opts_.max_group >= 1 && opts_.committers >= 1,
               "a pipeline has a verifier, a committer and groups of one");
  verified_.resize(static_cast<std::size_t>(opts_.committers));
}

Pipeline::~Pipeline() { stop(); }

void Pipeline::start() {
  for (int i = 0; i < opts_.verify_threads; ++i) verifiers_.emplace_back([this] { verify_loop(); });
  for (std::size_t i = 0; i < verified_.size(); ++i) committers_.emplace_back([this, i] { commit_loop(i); });
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
    if (stopping_ && verifiers_.empty() && committers_.empty()) return;
    stopping_ = true;
  }
  raw_cv_.notify_all();
  verified_cv_.notify_all();
  for (auto& t : verifiers_) {
    if (t.joinable()) t.join();
  }
  verifiers_.clear();
  for (auto& t : committers_) {
    if (t.joinable()) t.join();
  }
  committers_.clear();
}

std::size_t Pipeline::depth() const {
  std::lock_guard lock(m_);
  std::size_t n = raw_.size() + verifying_;
  for (const auto& q : verified_) n += q.size();
  return n;
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
      if (auto* s = std::get_if<Ingest::Screened>(&screened)) {
        verified_[std::hash<std::string>{}(s->batch.terminal) % verified_.size()].push_back(std::move(*s));
      } else {
        rejected = true;
      }
    }
    if (rejected) {
      if (hooks_.done) hooks_.done();  // refused (logged and counted by screen_event): nothing to commit
    } else if (verified_.size() == 1) {
      verified_cv_.notify_one();
    } else {
      verified_cv_.notify_all();  // the committer of that terminal's queue, whichever it is
    }
  }
}

void Pipeline::commit_loop(std::size_t shard) {
  for (;;) {
    std::vector<Ingest::Screened> group;
    {
      std::unique_lock lock(m_);
      auto& queue = verified_[shard];
      verified_cv_.wait(lock, [&] { return stopping_ || !queue.empty(); });
      if (stopping_) return;
      // Everything verified by now, up to max_group: under load the groups grow by themselves
      // (what arrives while one commits waits for the next), when idle a batch goes alone.
      const std::size_t n = std::min(queue.size(), opts_.max_group);
      group.assign(std::make_move_iterator(queue.begin()),
                   std::make_move_iterator(queue.begin() + static_cast<std::ptrdiff_t>(n)));
      queue.erase(queue.begin(), queue.begin() + static_cast<std::ptrdiff_t>(n));
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
