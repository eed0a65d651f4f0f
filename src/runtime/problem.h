// RFC 9457 problem details: how every transport answers a failed Status.
//
//   {"type": "urn:bver:problem:not_found", "title": "Not found", "status": 404,
//    "detail": "no reference bver://sites/site/x", "code": "not_found",
//    "errors": [{"path": "body.name", "rule": "required", "message": "..."}],
//    "correlation_id": "0190..."}
//
// `code` is the stable StatusCodeName; `status` comes from
// src/core/status_map.h, the one Status → HTTP mapping. The detail is the
// Status message as the broker left it (it has already replaced internal
// errors by a generic sentence), so a problem never holds a stack trace or a
// secret. Pure functions, safe from any thread.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "bver/status.h"

namespace bver::runtime {

inline constexpr std::string_view kProblemMediaType = "application/problem+json";

// "urn:bver:problem:<code>".
std::string ProblemType(StatusCode code);
// A short title for people: "Not found", "Invalid argument", ...
std::string ProblemTitle(StatusCode code);

// The error object kept in stored state and events (a failed job, step or
// trigger firing): {"code", "message", "violations"?} (violations only
// when there are some).
nlohmann::json ErrorJson(const Status& status);

// The problem body for a non-OK status. `correlation_id` and `instance` are
// added when non-empty. For an OK status: a 500 problem (a caller bug).
nlohmann::json ProblemJson(const Status& status, std::string_view correlation_id = {},
                           std::string_view instance = {});

}  // namespace bver::runtime
