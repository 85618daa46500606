// Status and Result<T>: errors as values (DEVELOPERS.md "How we write code").
//
// A Status is either OK or carries a code and a one-line message naming the problem and where
// (segment, LSN, relation, column...). Result<T> holds a T or a non-OK Status. Neither throws.
// Both are cheap to move; copying is allowed. Not thread-safe to share one mutable instance.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace pgt {

class Status {
 public:
  enum class Code { kOk, kInvalidArgument, kCorruption, kNotFound, kIOError, kUnsupported,
                    kConflict, kUnavailable, kInternal };

  Status() = default;
  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string m) { return Status(Code::kInvalidArgument, std::move(m)); }
  static Status Corruption(std::string m) { return Status(Code::kCorruption, std::move(m)); }
  static Status NotFound(std::string m) { return Status(Code::kNotFound, std::move(m)); }
  static Status IOError(std::string m) { return Status(Code::kIOError, std::move(m)); }
  static Status Unsupported(std::string m) { return Status(Code::kUnsupported, std::move(m)); }
  // Another writer changed what we compared against (frontier/epoch CAS failed).
  static Status Conflict(std::string m) { return Status(Code::kConflict, std::move(m)); }
  // A server is unreachable or not ready yet; retrying later may succeed.
  static Status Unavailable(std::string m) { return Status(Code::kUnavailable, std::move(m)); }
  static Status Internal(std::string m) { return Status(Code::kInternal, std::move(m)); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  std::string ToString() const;
  // Prefixes the message with context ("reading segment X: ...").
  Status WithContext(const std::string& ctx) const {
    return ok() ? *this : Status(code_, ctx + ": " + message_);
  }

 private:
  Status(Code c, std::string m) : code_(c), message_(std::move(m)) {}
  Code code_ = Code::kOk;
  std::string message_;
};

template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}            // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {      // NOLINT: implicit by design
    assert(!std::get<Status>(v_).ok() && "Result from an OK status has no value");
  }
  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }

 private:
  std::variant<T, Status> v_;
};

#define PGT_RETURN_IF_ERROR(expr)        \
  do {                                   \
    ::pgt::Status _st = (expr);          \
    if (!_st.ok()) return _st;           \
  } while (0)

#define PGT_CONCAT_INNER(a, b) a##b
#define PGT_CONCAT(a, b) PGT_CONCAT_INNER(a, b)
#define PGT_ASSIGN_OR_RETURN(lhs, expr)                         \
  auto PGT_CONCAT(_res_, __LINE__) = (expr);                    \
  if (!PGT_CONCAT(_res_, __LINE__).ok())                        \
    return PGT_CONCAT(_res_, __LINE__).status();                \
  lhs = std::move(PGT_CONCAT(_res_, __LINE__)).value()

}  // namespace pgt
