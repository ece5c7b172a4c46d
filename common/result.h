#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace gridhub {

// Error codes shared by every layer. hub/ maps each to an HTTP status and a W3C error name in
// one table; metric outcome labels come from the same enum.
enum class ErrorCode {
  kInvalidArgument,    // 400 invalid argument
  kSessionNotCreated,  // 500 session not created
  kInvalidSessionId,   // 404 invalid session id
  kUnknownCommand,     // 404 unknown command
  kUnknownMethod,      // 405 unknown method
  kUnauthorized,       // 401
  kForbidden,          // 403
  kConflict,           // 409 (a node id live under another uri)
  kNotFound,           // 404 (non-W3C resources: tickets, nodes)
  kPayloadTooLarge,    // 413
  kQueueFull,          // queue refusals: 500 on /session, 429 on tickets
  kRunLimit,
  kUnsatisfiable,  // 500 on /session, 422 on tickets
  kNoWait,
  kTimeout,
  kUnavailable,           // a node or driver did not answer
  kInternal,              // 500 unknown error
  kUnsupportedOperation,  // 500 unsupported operation (managed downloads not enabled)
  kNoSuchFile,            // 404 unknown error (a managed download that is not there)
};

// A code and a human message naming what was wrong ("browserName must be a string").
struct Error {
  ErrorCode code;
  std::string message;
};

// The error every parser returns most: a value that is not acceptable, and why.
inline Error InvalidArgument(std::string message) {
  return Error{ErrorCode::kInvalidArgument, std::move(message)};
}

// Either a value or an Error, in the shape of absl::StatusOr.
//
//   Result<LabelKey> key = LabelKey::Parse(text);
//   if (!key.ok()) return key.error();
//   Use(*key);
template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}  // NOLINT: implicit by design

  bool ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return ok(); }

  // REQUIRES: ok()
  T& value() & {
    assert(ok());
    return std::get<T>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<T>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<T>(std::move(v_));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  // REQUIRES: !ok()
  const Error& error() const {
    assert(!ok());
    return std::get<Error>(v_);
  }

 private:
  std::variant<T, Error> v_;
};

// Result for operations with no value.
class Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT: implicit by design
  static Status Ok() { return Status(); }
  bool ok() const { return ok_; }
  const Error& error() const { return error_; }

 private:
  Error error_{ErrorCode::kInternal, ""};
  bool ok_ = true;
};

}  // namespace gridhub
