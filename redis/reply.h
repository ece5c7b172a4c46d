#pragma once

// One Redis reply as an owned value: nil, integer, string, status, error or an array of
// replies. RedisConnection turns hiredis's replies into these, so no hiredis type or manual
// free leaks into callers.
//
//   Result<Reply> reply = connection.Command("INCR", "hits");
//   if (reply.ok() && reply->is_integer()) Use(reply->integer());
//   if (reply.ok() && reply->is_error()) Log(reply->str());  // "WRONGTYPE Operation ..."
//
// An error reply is a value (Redis answered; the command was wrong), unlike an I/O failure,
// which is the Result's Error. A value type; safe to copy between threads.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace gridhub::redis {

class Reply {
 public:
  enum class Type { kNil, kInteger, kString, kStatus, kError, kArray };

  Reply() = default;  // nil
  static Reply Nil() { return Reply(); }
  static Reply Integer(int64_t value);
  static Reply String(std::string value) { return Reply(Type::kString, std::move(value)); }
  static Reply Status(std::string value) { return Reply(Type::kStatus, std::move(value)); }
  static Reply Error(std::string value) { return Reply(Type::kError, std::move(value)); }
  static Reply Array(std::vector<Reply> elements);

  Type type() const { return type_; }
  bool is_nil() const { return type_ == Type::kNil; }
  bool is_integer() const { return type_ == Type::kInteger; }
  bool is_string() const { return type_ == Type::kString; }
  bool is_status() const { return type_ == Type::kStatus; }
  bool is_error() const { return type_ == Type::kError; }
  bool is_array() const { return type_ == Type::kArray; }
  // A status with this text ("OK", "PONG").
  bool IsStatus(std::string_view text) const { return is_status() && str_ == text; }

  int64_t integer() const { return integer_; }                      // 0 unless is_integer()
  const std::string& str() const { return str_; }                   // string, status or error text
  const std::vector<Reply>& elements() const { return elements_; }  // empty unless is_array()

  // For test failures and logs: nil, 42, "text", +OK, -ERR ..., [a, b].
  std::string ToString() const;

  friend bool operator==(const Reply&, const Reply&) = default;

 private:
  Reply(Type type, std::string text) : type_(type), str_(std::move(text)) {}

  Type type_ = Type::kNil;
  int64_t integer_ = 0;
  std::string str_;
  std::vector<Reply> elements_;
};

}  // namespace gridhub::redis
