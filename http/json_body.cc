#include "http/json_body.h"

#include <string>
#include <utility>
#include <vector>

namespace gridhub::http {
namespace {

using nlohmann::json;

// Builds the DOM from SAX events like json::parse does, but refuses to open a container
// beyond `max_depth`, which ends the parse there (no recursion, no work on the rest).
class DepthBoundedBuilder final : public nlohmann::json_sax<json> {
 public:
  DepthBoundedBuilder(json& root, int max_depth) : root_(root), max_depth_(max_depth) {}

  bool too_deep() const { return too_deep_; }
  const std::string& syntax_error() const { return syntax_error_; }

  bool null() override { return Add(nullptr) != nullptr; }
  bool boolean(bool value) override { return Add(value) != nullptr; }
  bool number_integer(number_integer_t value) override { return Add(value) != nullptr; }
  bool number_unsigned(number_unsigned_t value) override { return Add(value) != nullptr; }
  bool number_float(number_float_t value, const string_t&) override {
    return Add(value) != nullptr;
  }
  bool string(string_t& value) override { return Add(std::move(value)) != nullptr; }
  bool binary(binary_t& value) override { return Add(json::binary(std::move(value))) != nullptr; }
  bool start_object(std::size_t) override { return Open(json::object()); }
  bool key(string_t& value) override {
    key_ = std::move(value);
    return true;
  }
  bool end_object() override { return Close(); }
  bool start_array(std::size_t) override { return Open(json::array()); }
  bool end_array() override { return Close(); }
  bool parse_error(std::size_t, const std::string&,
                   const nlohmann::detail::exception& error) override {
    syntax_error_ = error.what();
    return false;
  }

 private:
  // Places `value` in the open container (or as the root); returns where it now lives.
  json* Add(json value) {
    if (open_.empty()) {
      root_ = std::move(value);
      return &root_;
    }
    json& parent = *open_.back();
    if (parent.is_array()) {
      parent.push_back(std::move(value));
      return &parent.back();
    }
    json& slot = parent[key_];  // a repeated key keeps its last value, as json::parse does
    slot = std::move(value);
    return &slot;
  }

  bool Open(json container) {
    if (static_cast<int>(open_.size()) >= max_depth_) {
      too_deep_ = true;
      return false;
    }
    open_.push_back(Add(std::move(container)));
    return true;
  }

  bool Close() {
    open_.pop_back();
    return true;
  }

  json& root_;
  const int max_depth_;
  std::vector<json*> open_;  // the containers being filled, outermost first
  std::string key_;
  bool too_deep_ = false;
  std::string syntax_error_;
};

}  // namespace

bool JsonDepthWithin(const json& value, int max_depth) {
  std::vector<std::pair<const json*, int>> pending{{&value, 1}};
  while (!pending.empty()) {
    auto [node, depth] = pending.back();
    pending.pop_back();
    if (!node->is_structured()) continue;
    if (depth > max_depth) return false;
    for (const auto& child : *node) {
      if (child.is_structured()) pending.emplace_back(&child, depth + 1);
    }
  }
  return true;
}

Result<json> ParseJsonBody(std::string_view body, int max_depth) {
  json parsed;
  DepthBoundedBuilder builder(parsed, max_depth);
  bool ok = json::sax_parse(body, &builder, json::input_format_t::json, /*strict=*/true);
  if (builder.too_deep()) {
    return Error{ErrorCode::kInvalidArgument,
                 "request body nests deeper than " + std::to_string(max_depth) + " levels"};
  }
  if (!ok) {
    std::string why = builder.syntax_error();
    // "[json.exception.parse_error.101] parse error at line 1, column 2: ..." -> from "parse".
    if (size_t at = why.find("] "); at != std::string::npos) why.erase(0, at + 2);
    return Error{ErrorCode::kInvalidArgument,
                 "request body is not valid JSON" + (why.empty() ? "" : ": " + why.substr(0, 200))};
  }
  return parsed;
}

}  // namespace gridhub::http
