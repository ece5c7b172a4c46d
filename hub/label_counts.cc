#include "hub/label_counts.h"

#include <algorithm>
#include <vector>

namespace gridhub::hub {

// The chain may hold as many changes as there are labels; freeing it by recursion (each
// Change's destructor releasing the next) could then exhaust a thread's stack.
LabelCounts::Change::~Change() {
  std::shared_ptr<const Change> next = std::move(older);
  while (next != nullptr && next.use_count() == 1) {
    // The only owner: nobody else can see the change, which was made non-const.
    std::shared_ptr<const Change> after = std::move(const_cast<Change&>(*next).older);
    next = std::move(after);
  }
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
