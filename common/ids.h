#pragma once

#include <string>
#include <string_view>

namespace gridhub {

// Produces unguessable identifiers (session ids, ticket ids, tokens): 128 bits from the
// kernel's CSPRNG, as 32 lower-case hex characters. Thread-safe. Tests that need
// deterministic ids inject their own IdSource.
class IdSource {
 public:
  virtual ~IdSource() = default;
  virtual std::string NewId() = 0;
};

class RandomIdSource final : public IdSource {
 public:
  std::string NewId() override;
};

// Compares secrets in time that depends only on their lengths, not on where they differ.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace gridhub
