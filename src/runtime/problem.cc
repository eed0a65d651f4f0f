#include "src/runtime/problem.h"

#include <nlohmann/json.hpp>

#include "src/core/status_map.h"

namespace bver::runtime {

std::string ProblemType(StatusCode code) { return "urn:bver:problem:" + std::string(StatusCodeName(code)); }

std::string ProblemTitle(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return "OK";
    case StatusCode::kCancelled: return "Cancelled";
    case StatusCode::kUnknown: return "Unknown error";
    case StatusCode::kInvalidArgument: return "Invalid argument";
    case StatusCode::kDeadlineExceeded: return "Deadline exceeded";
    case StatusCode::kNotFound: return "Not found";
    case StatusCode::kAlreadyExists: return "Already exists";
    case StatusCode::kPermissionDenied: return "Permission denied";
    case StatusCode::kResourceExhausted: return "Resource exhausted";
    case StatusCode::kFailedPrecondition: return "Failed precondition";
    case StatusCode::kAborted: return "Conflict";
    case StatusCode::kOutOfRange: return "Out of range";
    case StatusCode::kUnimplemented: return "Not implemented";
    case StatusCode::kInternal: return "Internal error";
    case StatusCode::kUnavailable: return "Unavailable";
    case StatusCode::kDataLoss: return "Data loss";
    case StatusCode::kUnauthenticated: return "Unauthenticated";
  }
  return "Unknown error";
}

nlohmann::json ProblemJson(const Status& status_in, std::string_view correlation_id, std::string_view instance) {
  Status status = status_in.ok() ? InternalError("no error to report") : status_in;
  nlohmann::json errors = nlohmann::json::array();
  for (const Violation& v : status.violations()) {
    errors.push_back({{"path", v.path}, {"rule", v.rule}, {"message", v.message}});
  }
  nlohmann::json p = {{"type", ProblemType(status.code())},
                      {"title", ProblemTitle(status.code())},
                      {"status", core::HttpStatusFor(status.code())},
                      {"detail", status.message()},
                      {"code", std::string(StatusCodeName(status.code()))},
                      {"errors", std::move(errors)}};
  if (!correlation_id.empty()) p["correlation_id"] = std::string(correlation_id);
  if (!instance.empty()) p["instance"] = std::string(instance);
  return p;
}

nlohmann::json ErrorJson(const Status& status) {
  nlohmann::json e = {{"code", std::string(StatusCodeName(status.code()))}, {"message", status.message()}};
  if (!status.violations().empty()) {
    nlohmann::json v = nlohmann::json::array();
    for (const Violation& x : status.violations()) {
      v.push_back({{"path", x.path}, {"rule", x.rule}, {"message", x.message}});
    }
    e["violations"] = std::move(v);
  }
  return e;
}

}  // namespace bver::runtime
