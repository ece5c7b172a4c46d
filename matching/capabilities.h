#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/result.h"
#include "matching/capability_digest.h"
#include "matching/label_key.h"

namespace gridhub::matching {

// Bounds that keep a hostile body from exhausting the hub. Real clients send one to a few
// firstMatch entries and option objects a few levels deep.
inline constexpr size_t kMaxFirstMatch = 64;
inline constexpr size_t kMaxCapabilityDepth = 32;
inline constexpr size_t kMaxMergedBytes = size_t{64} << 20;  // alwaysMatch x firstMatch entries

// One merged capability set (alwaysMatch merged with one firstMatch entry, null values dropped)
// together with its compact digest. Immutable value; thread-compatible.
struct Candidate {
 public:
  // REQUIRES: `merged` passed validation (ProcessNewSession builds candidates).
  explicit Candidate(nlohmann::json merged);

  const nlohmann::json& json() const { return json_; }  // the merged JSON
  const CapabilityDigest& digest() const { return digest_; }

 private:
  nlohmann::json json_;
  CapabilityDigest digest_;
};

// A validated new-session request: W3C "process capabilities" plus gridhub's own keys.
//
//   Result<NewSessionSpec> spec = ProcessNewSession(body);
//   if (!spec.ok()) return spec.error();  // kInvalidArgument, message names the key
//   spec->label;  // what fairness and caps count by
struct NewSessionSpec {
  std::vector<Candidate> candidates;  // alwaysMatch merged with each firstMatch, in order
  // From the FIRST candidate: gridhub:label, else lower-cased browserName, else "any".
  LabelKey label;
  bool explicit_label = false;  // true when gridhub:label was given (it then restricts slots)
  std::string run_id;           // gridhub:runId or "" (the hub falls back to X-Run-Id)
  bool no_wait = false;         // gridhub:noWait
};

// Validates and merges a new-session body `{"capabilities": {"alwaysMatch", "firstMatch"}}` as
// the W3C spec's "process capabilities" does (DESIGN §2). kInvalidArgument with a message naming
// the offending key, e.g. "capabilities.firstMatch[1].browserName must be a string". A body
// without a `capabilities` object ({} or legacy desiredCapabilities alone) is invalid too.
Result<NewSessionSpec> ProcessNewSession(const nlohmann::json& body);

// Validates one capabilities object (alwaysMatch or a firstMatch entry) and returns it without
// its null-valued keys. `where` prefixes messages ("capabilities.alwaysMatch").
Result<nlohmann::json> ValidateCapabilities(const nlohmann::json& caps, std::string_view where);

}  // namespace gridhub::matching
