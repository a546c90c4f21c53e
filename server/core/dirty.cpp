#include "server/core/dirty.hpp"

namespace lg::server {

void DirtySet::mark(const std::string& resource) {
  bool was_empty = false;
  {
    std::lock_guard lock(m_);
    was_empty = batch_.empty();
    if (!batch_.all) batch_.resources.insert(resource);
  }
  marked(was_empty);
}

void DirtySet::mark_all() {
  bool was_empty = false;
  {
    std::lock_guard lock(m_);
    was_empty = batch_.empty();
    batch_.all = true;
    batch_.resources.clear();
  }
  marked(was_empty);
}

void DirtySet::republish(const std::string& terminal) {
  bool was_empty = false;
  {
    std::lock_guard lock(m_);
    was_empty = batch_.empty();
    batch_.republish.insert(terminal);
  }
  marked(was_empty);
}

DirtySet::Batch DirtySet::take() {
  std::lock_guard lock(m_);
  Batch out = std::move(batch_);
  batch_ = Batch{};
  return out;
}

bool DirtySet::pending() const {
  std::lock_guard lock(m_);
  return !batch_.empty();
}

void DirtySet::marked(bool was_empty) {
  if (was_empty && wake_) wake_();
}

}  // namespace lg::server
