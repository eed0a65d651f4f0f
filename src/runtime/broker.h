// The broker: the one way any transport (REST, MCP, CLI) runs an operation
// (BVER.md §7). For each call it
//
//   1. finds the row                        NotFound for an unknown operation
//   2. checks the correlation id            InvalidArgument when malformed
//   3. checks the principal's scopes        Unauthenticated (anonymous caller),
//                                           PermissionDenied (missing scope)
//   4. validates the input (compiled once)  InvalidArgument, one Violation per
//                                           problem with its attribute path
//   5. checks a pointer's repo read scope   (resolve) as in 3
//   6. executes the handler                 domain errors from the store
//   7. validates the output                 Internal (logged; never shown raw)
//   8. reports the call to the observer     logs, metrics
//
// Authentication happens before: the transport turns credentials into an
// auth::Principal (src/auth/authenticator.h). A server running with auth off
// on loopback passes auth::Principal::Local(...). Writes carry the
// principal's subject as actor and the correlation id into the store's
// WriteContext, so the event and the ledger entry of every mutation record
// both (audit). Errors of the environment or of the program (Internal,
// Unknown, DataLoss, Unavailable) reach the caller as a generic sentence
// naming the correlation id; the detail goes to the observer only.
//
// Thread safety: Invoke and Authorize may be called from any number of
// threads at once.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "bver/status.h"
#include "src/runtime/dispatcher.h"
#include "src/runtime/operations.h"

namespace bver::runtime {

// What the observer learns about each call (never the input or a secret).
struct CallRecord {
  std::string operation;
  std::string transport;
  std::string subject;  // the principal's subject; empty for anonymous
  std::string correlation_id;
  StatusCode code = StatusCode::kOk;
  std::int64_t duration_us = 0;
  // For errors the caller sees only generically: the real message. Empty otherwise.
  std::string internal_detail;
};

class Broker final : public Dispatcher {
 public:
  struct Options {
    // Show Internal/Unknown/DataLoss/Unavailable messages to the caller as
    // they are (the CLI, where caller and operator are one person).
    bool expose_internal_errors = false;
    // Called once per Invoke and per failed Authorize, on the calling
    // thread, after the answer is known. Default: internal errors are
    // written to stderr as one JSON line each.
    std::function<void(const CallRecord&)> observer;
  };

  explicit Broker(std::shared_ptr<const OperationTable> table);
  Broker(std::shared_ptr<const OperationTable> table, Options options);
  ~Broker() override;

  const OperationTable& table() const { return *table_; }
  const OperationRow* Find(std::string_view id) const override { return table_->Find(id); }

  // Runs the call through the pipeline above; the output object on success.
  Result<nlohmann::json> Invoke(const Call& call) const override;

  // Steps 1-5 alone, for transports that stream (PUT/GET /v1/artifacts):
  // whether `call` may run. `call.input` is validated when given.
  Status Authorize(const Call& call) const;

  // What an unset observer does: a call whose detail the caller did not see
  // (internal_detail non-empty) becomes one JSON line on stderr, so an
  // operator can find it by correlation id; other calls are not logged. An
  // observer that adds to it (metrics) calls this too.
  static void DefaultObserver(const CallRecord& record);

  // A new correlation id (UUIDv7), for transports that must know it before
  // calling Invoke (to echo it in a response header).
  static std::string NewCorrelationId();
  // 1-128 characters of [A-Za-z0-9._:-]: what a caller-given id must be,
  // since it is written to logs, events and the ledger.
  static Status CheckCorrelationId(std::string_view id);

 private:
  Status CheckScopes(const auth::Principal& who, const OperationRow& row) const;
  Status Check(const Call& call, const OperationRow& row, const nlohmann::json& input) const;
  Status Sanitize(const Status& s, const std::string& correlation_id, std::string* detail) const;
  void Observe(CallRecord record) const;
  // call.row when set, else the row of call.operation (null when none).
  const OperationRow* RowOf(const Call& call) const;

  std::shared_ptr<const OperationTable> table_;
  Options options_;
};

}  // namespace bver::runtime
