#include "hub/label_counts.h"

#include <algorithm>
#include <vector>

namespace gridhub::hub {

// The chain may hold as many changes as there are labels; freeing it by recursion (each
// Change's destructor releasing the next) could then exhaust a thread's stack. So the outermost
// destructor on a thread drains a list: a Change freed while it drains only hands its `older`
// over to the list. Each node is freed by whichever thread dropped its last reference, as
// shared_ptr orders it; a node is never taken apart on the strength of use_count(), which a
// reader's release on another thread does not order (TSan reported that as a race).
LabelCounts::Change::~Change() {
  thread_local std::vector<std::shared_ptr<const Change>>* draining = nullptr;
  if (older == nullptr) return;
  if (draining != nullptr) {
    draining->push_back(std::move(older));
    return;
  }
  std::vector<std::shared_ptr<const Change>> pending;
  pending.push_back(std::move(older));
  draining = &pending;
  while (!pending.empty()) {
    std::shared_ptr<const Change> next = std::move(pending.back());
    pending.pop_back();
    next.reset();  // if it was the last reference, its older joins `pending`
  }
  draining = nullptr;
}

LabelCounts LabelCounts::With(const std::string& label, size_t count, const Map& live) const {
  if (changes_ + 1 >= std::max(kMinChanges, live.size())) return Of(live);
  LabelCounts next;
  next.base_ = base_;
  next.newest_ = std::make_shared<const Change>(label, count, newest_);
  next.changes_ = changes_ + 1;
  return next;
}

LabelCounts LabelCounts::Of(const Map& live) {
  LabelCounts value;
  if (!live.empty()) value.base_ = std::make_shared<const Map>(live);
  return value;
}

LabelCounts::Map LabelCounts::ToMap() const {
  Map out = base_ != nullptr ? *base_ : Map();
  std::vector<const Change*> chain;
  chain.reserve(changes_);
  for (const Change* c = newest_.get(); c != nullptr; c = c->older.get()) chain.push_back(c);
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) {  // oldest first
    if ((*it)->count == 0) {
      out.erase((*it)->label);
    } else {
      out.insert_or_assign((*it)->label, (*it)->count);
    }
  }
  return out;
}

}  // namespace gridhub::hub
