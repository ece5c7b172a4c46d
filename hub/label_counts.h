#pragma once

// How many requests wait per label, as a GridSnapshot shows them to GET /metrics and the
// console: an immutable value, cheap to copy, that the grid derives from the previous one in
// O(1) amortised per change. A grant changes one label's count; copying a map of every label
// for each grant would make dispatch cost grow with the number of labels.
//
//   LabelCounts::Map live;                 // the writer's own counts
//   LabelCounts published;
//   live["chrome"] = 3;
//   published = published.With("chrome", 3, live);
//   for (const auto& [label, waiting] : published.ToMap()) ...
//
// A value is a shared base map plus a chain of the changes made since, newest first. After as
// many changes as there are labels (at least kMinChanges) the next value starts again from a
// copy of the writer's map, so reading stays O(labels) and each change costs the writer O(1)
// on average. Values share their parts and may be read from any thread.

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>

namespace gridhub::hub {

class LabelCounts {
 public:
  using Map = std::map<std::string, size_t, std::less<>>;
  static constexpr size_t kMinChanges = 64;

  // This value with `label` counted `count` (0 = absent). `live` is the writer's whole map with
  // this change already applied; it is copied only when the chain of changes is long enough.
  LabelCounts With(const std::string& label, size_t count, const Map& live) const;
  // Starts again from `live` (after changes the writer did not report one by one).
  static LabelCounts Of(const Map& live);

  // Every label with a count above 0, by name. O(labels + changes since the base).
  Map ToMap() const;
  // Changes since the base (for tests: they show the chain is cut).
  size_t changes() const { return changes_; }

 private:
  struct Change {
    Change(std::string l, size_t c, std::shared_ptr<const Change> o)
        : label(std::move(l)), count(c), older(std::move(o)) {}
    ~Change();
    std::string label;
    size_t count;
    std::shared_ptr<const Change> older;
  };

  std::shared_ptr<const Map> base_;       // null = no labels
  std::shared_ptr<const Change> newest_;  // null = none since the base
  size_t changes_ = 0;
};

}  // namespace gridhub::hub
