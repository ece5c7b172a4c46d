#include "hub/graphql.h"

#include <cctype>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "http/json_body.h"

namespace gridhub::hub {

using nlohmann::json;

namespace {

struct Field {
  std::string name;
  std::vector<Field> selection;  // empty for a leaf
};

// A recursive-descent reader for the selection-set subset of GraphQL's query syntax.
class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  std::optional<std::vector<Field>> Document(std::string* error) {
    Skip();
    // `query Name(...)` or bare `{ ... }`.
    if (PeekWord() == "query") {
      Word();
      Skip();
      if (Peek() != '{' && Peek() != '(') Word();
      Skip();
      if (Peek() == '(' && !SkipParens()) return Fail(error, "unbalanced parentheses");
    } else if (PeekWord() == "mutation" || PeekWord() == "subscription") {
      return Fail(error, "only queries are supported");
    }
    auto fields = Selection(error, 0);
    if (!fields) return std::nullopt;
    Skip();
    if (pos_ != text_.size()) return Fail(error, "unexpected text after the query");
    return fields;
  }

 private:
  static constexpr int kMaxDepth = 16;

  std::optional<std::vector<Field>> Fail(std::string* error, const std::string& message) {
    *error = message + " at offset " + std::to_string(pos_);
    return std::nullopt;
  }

  char Peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }

  void Skip() {
    while (pos_ < text_.size()) {
      char c = text_[pos_];
      if (c == '#') {
        while (pos_ < text_.size() && text_[pos_] != '\n') ++pos_;
      } else if (std::isspace(static_cast<unsigned char>(c)) || c == ',') {
        ++pos_;
      } else {
        break;
      }
    }
  }

  static bool NameChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

  std::string_view PeekWord() const {
    size_t end = pos_;
    while (end < text_.size() && NameChar(text_[end])) ++end;
    return text_.substr(pos_, end - pos_);
  }

  std::string Word() {
    std::string_view word = PeekWord();
    pos_ += word.size();
    return std::string(word);
  }

  bool SkipParens() {
    int depth = 0;
    bool in_string = false;
    for (; pos_ < text_.size(); ++pos_) {
      char c = text_[pos_];
      if (in_string) {
        if (c == '\\') {
          ++pos_;
        } else if (c == '"') {
          in_string = false;
        }
      } else if (c == '"') {
        in_string = true;
      } else if (c == '(') {
        ++depth;
      } else if (c == ')' && --depth == 0) {
        ++pos_;
        return true;
      }
    }
    return false;
  }

  std::optional<std::vector<Field>> Selection(std::string* error, int depth) {
    if (depth > kMaxDepth) return Fail(error, "query nested too deeply");
    Skip();
    if (Peek() != '{') return Fail(error, "expected '{'");
    ++pos_;
    std::vector<Field> fields;
    while (true) {
      Skip();
      if (Peek() == '}') {
        ++pos_;
        break;
      }
      if (Peek() == '.') return Fail(error, "fragments are not supported");
      Field field;
      field.name = Word();
      if (field.name.empty()) return Fail(error, "expected a field name");
      Skip();
      if (Peek() == ':') {  // alias: keep the real field name
        ++pos_;
        Skip();
        field.name = Word();
        if (field.name.empty()) return Fail(error, "expected a field name after an alias");
        Skip();
      }
      if (Peek() == '(' && !SkipParens()) return Fail(error, "unbalanced parentheses");
      Skip();
      if (Peek() == '{') {
        auto nested = Selection(error, depth + 1);
        if (!nested) return std::nullopt;
        field.selection = std::move(*nested);
      }
      fields.push_back(std::move(field));
    }
    if (fields.empty()) return Fail(error, "empty selection");
    return fields;
  }

  std::string_view text_;
  size_t pos_ = 0;
};

std::string Str(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

json SessionJson(const GridSnapshot::NodeView& node, const GridSnapshot::SlotView& slot,
                 const GridSnapshot::SessionView& session) {
  return {
      {"id", session.id},
      {"capabilities", Str(session.capabilities)},
      {"startTime", session.started_at},
      {"nodeId", node.id},
      {"nodeUri", node.uri},
      {"slot", {{"id", slot.id}, {"stereotype", Str(slot.stereotype)}, {"lastStarted", nullptr}}}};
}

// Object and list-of-object fields of the schema: they need a sub-selection even when the list
// is empty, and a scalar never takes one — decided by the schema, not by the value at hand.
bool IsComposite(const std::string& name) {
  for (std::string_view composite :
       {"grid", "nodesInfo", "nodes", "sessions", "slot", "sessionsInfo"}) {
    if (name == composite) return true;
  }
  return false;
}

json DataTree(const GridSnapshot& snapshot, std::string_view hub_url, Exposure exposure) {
  const bool full = exposure == Exposure::kFull;
  json nodes = json::array();
  json all_sessions = json::array();
  int session_count = 0;
  int max_session = 0;
  for (const auto& node_view : snapshot.nodes) {
    const GridSnapshot::NodeView& node = *node_view;
    json stereotypes = json::array();
    json sessions = json::array();
    int node_sessions = 0;
    int node_max = 0;
    for (const auto& slot : node.slots) {
      node_max += slot.max_sessions;
      stereotypes.push_back({{"slots", slot.max_sessions}, {"stereotype", slot.stereotype}});
      for (const auto& session : slot.sessions) {
        ++node_sessions;
        if (full) sessions.push_back(SessionJson(node, slot, session));
      }
    }
    if (node.availability == Availability::kUp) max_session += node_max;
    session_count += node_sessions;
    for (const auto& s : sessions) all_sessions.push_back(s);
    nodes.push_back({{"id", node.id},
                     {"uri", full ? json(node.uri) : json(nullptr)},
                     {"status", std::string(AvailabilityName(node.availability))},
                     {"sessionCount", node_sessions},
                     {"maxSession", node_max},
                     {"slotCount", node_max},
                     {"stereotypes", full ? Str(stereotypes) : "[]"},
                     {"sessions", sessions}});
  }
  json queue = json::array();
  if (snapshot.queue != nullptr) {  // not expected to be null: the service lists the waiters
    for (const auto& request : snapshot.queue->requests) queue.push_back(full ? *request : "{}");
  }
  return {{"grid",
           {{"sessionCount", session_count},
            {"maxSession", max_session},
            {"totalSlots", max_session},
            {"nodeCount", snapshot.nodes.size()},
            {"sessionQueueSize", snapshot.queue_size},
            {"version", "gridhub"},
            {"uri", std::string(hub_url)}}},
          {"nodesInfo", {{"nodes", nodes}}},
          {"sessionsInfo", {{"sessionQueueRequests", queue}, {"sessions", all_sessions}}}};
}

bool Project(const json& value, const std::vector<Field>& selection, const std::string& type,
             json* out, std::string* error) {
  if (value.is_array()) {
    *out = json::array();
    for (const json& element : value) {
      json projected;
      if (!Project(element, selection, type, &projected, error)) return false;
      out->push_back(std::move(projected));
    }
    return true;
  }
  if (!value.is_object()) {
    *error = "field of type " + type + " has no subfields";
    return false;
  }
  *out = json::object();
  for (const Field& field : selection) {
    if (field.name == "__typename") {
      (*out)["__typename"] = type;
      continue;
    }
    auto it = value.find(field.name);
    if (it == value.end()) {
      *error = "Cannot query field \"" + field.name + "\" on type \"" + type + "\"";
      return false;
    }
    const bool composite = IsComposite(field.name);
    if (field.selection.empty()) {
      if (composite) {
        *error = "field \"" + field.name + "\" of type \"" + type + "\" needs a selection";
        return false;
      }
      (*out)[field.name] = *it;
    } else if (composite) {
      json projected;
      if (!Project(*it, field.selection, field.name, &projected, error)) return false;
      (*out)[field.name] = std::move(projected);
    } else {
      *error = "field \"" + field.name + "\" is a scalar and takes no selection";
      return false;
    }
  }
  return true;
}

// The schema as data: a tree in which every list holds one element, so that a query is checked
// against every field even where the live data has an empty list (no nodes, no sessions).
const json& SchemaTree() {
  static const json* const kTree = [] {
    GridSnapshot sample;
    GridSnapshot::SlotView slot{
        "s", "l", json::object(), 1, {{"id", json::object(), 0, "l", "", nullptr}}};
    sample.nodes.push_back(std::make_shared<const GridSnapshot::NodeView>(
        GridSnapshot::NodeView{"n", "http://n", Availability::kUp, {slot}}));
    auto queue = std::make_shared<GridSnapshot::QueueView>();
    queue->requests.push_back(std::make_shared<const std::string>("{}"));
    sample.queue = std::move(queue);
    return new json(DataTree(sample, "", Exposure::kFull));
  }();
  return *kTree;
}

json ErrorAnswer(const std::string& message) {
  return {{"errors", json::array({{{"message", message}}})}};
}

}  // namespace

json AnswerGraphql(const GridSnapshot& snapshot, std::string_view body, std::string_view hub_url,
                   Exposure exposure) {
  Result<json> parsed = http::ParseJsonBody(body);  // bounded nesting, no exceptions
  json request = parsed.ok() ? std::move(*parsed) : json();
  if (!request.is_object() || !request.contains("query") || !request["query"].is_string()) {
    return ErrorAnswer("the body must be a JSON object with a \"query\" string");
  }
  std::string query = request["query"].get<std::string>();
  std::string error;
  Parser parser(query);
  std::optional<std::vector<Field>> fields = parser.Document(&error);
  if (!fields) return ErrorAnswer("syntax error: " + error);
  json data;
  if (!Project(SchemaTree(), *fields, "Query", &data, &error)) return ErrorAnswer(error);
  if (!Project(DataTree(snapshot, hub_url, exposure), *fields, "Query", &data, &error)) {
    return ErrorAnswer(error);
  }
  if (exposure == Exposure::kCounts) {
    return {{"data", data},
            {"extensions",
             {{"redacted",
               "counts only: send the client token to see session ids, capabilities, "
               "stereotypes and node URIs"}}}};
  }
  return {{"data", data}};
}

}  // namespace gridhub::hub
