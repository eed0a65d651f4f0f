// Status and Result<T>: how everything in BVER that can fail for a reason
// outside the program reports it.
//
// The codes are the canonical ones of google/rpc/code.proto (as Abseil keeps
// them), so they map cleanly onto HTTP statuses, JSON-RPC errors and CLI exit
// codes; that mapping lives in exactly one place (src/core/status_map.h).
// A Status may also carry a list of Violations, each naming an attribute path
// and the rule that failed, so that one answer can report every problem found
// in an input at once.
//
// Status and Result are value types: copy them freely. They are not
// synchronized; share one across threads only when no thread modifies it.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace bver {

enum class StatusCode : int {
  kOk = 0,
  kCancelled = 1,
  kUnknown = 2,
  kInvalidArgument = 3,
  kDeadlineExceeded = 4,
  kNotFound = 5,
  kAlreadyExists = 6,
  kPermissionDenied = 7,
  kResourceExhausted = 8,
  kFailedPrecondition = 9,
  kAborted = 10,
  kOutOfRange = 11,
  kUnimplemented = 12,
  kInternal = 13,
  kUnavailable = 14,
  kDataLoss = 15,
  kUnauthenticated = 16,
};

// The stable, lower-case name of a code ("not_found"): what APIs put in their
// `code` fields. Never changes once released.
std::string_view StatusCodeName(StatusCode code);

// One specific problem within an input: where (an attribute path such as
// "meta.owner" or "terminals[0]", empty for the whole value, or a
// file:line:column location), which rule failed ("required", "type",
// "pointer.syntax"), and a sentence for people.
struct Violation {
  std::string path;
  std::string rule;
  std::string message;

  friend bool operator==(const Violation&, const Violation&) = default;
};

class [[nodiscard]] Status {
 public:
  // OK.
  Status() = default;
  Status(StatusCode code, std::string message, std::vector<Violation> violations = {});

  static Status Ok() { return Status(); }

  bool ok() const { return state_ == nullptr; }
  StatusCode code() const { return state_ ? state_->code : StatusCode::kOk; }
  // The sentence for people; empty when ok().
  const std::string& message() const;
  const std::vector<Violation>& violations() const;

  // "not_found: no reference bver://sites/site/1" (and one line per violation).
  std::string ToString() const;

  // Returns a copy whose message is "<prefix>: <message>".
  Status WithPrefix(std::string_view prefix) const;

  friend bool operator==(const Status& a, const Status& b);

 private:
  struct State {
    StatusCode code;
    std::string message;
    std::vector<Violation> violations;
  };
  // Null when OK, so the common case costs one pointer.
  std::shared_ptr<const State> state_;
};

Status InvalidArgumentError(std::string message, std::vector<Violation> violations = {});
Status NotFoundError(std::string message);
Status AlreadyExistsError(std::string message);
Status FailedPreconditionError(std::string message);
Status AbortedError(std::string message);
Status PermissionDeniedError(std::string message);
Status UnauthenticatedError(std::string message);
Status UnavailableError(std::string message);
Status InternalError(std::string message);
Status DataLossError(std::string message);
Status UnimplementedError(std::string message);

// Either a value or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}          // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {}   // NOLINT: implicit by design

  bool ok() const { return std::holds_alternative<T>(v_); }
  // OK when a value is held.
  Status status() const { return ok() ? Status() : std::get<Status>(v_); }

  // Precondition: ok().
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace bver

#define BVER_STATUS_CONCAT_INNER_(a, b) a##b
#define BVER_STATUS_CONCAT_(a, b) BVER_STATUS_CONCAT_INNER_(a, b)

// Returns the Status of `expr` from the enclosing function when it is not OK.
#define BVER_RETURN_IF_ERROR(expr)                 \
  do {                                             \
    ::bver::Status bver_status_ = (expr);          \
    if (!bver_status_.ok()) return bver_status_;   \
  } while (false)

// BVER_ASSIGN_OR_RETURN(auto x, MakeX()); returns the Status when not OK.
#define BVER_ASSIGN_OR_RETURN(lhs, expr) \
  BVER_ASSIGN_OR_RETURN_IMPL_(BVER_STATUS_CONCAT_(bver_result_, __LINE__), lhs, expr)
#define BVER_ASSIGN_OR_RETURN_IMPL_(result, lhs, expr) \
  auto result = (expr);                                \
  if (!result.ok()) return result.status();            \
  lhs = std::move(result).value()
