// The one place where a Status becomes an HTTP status, a JSON-RPC error code
// or a CLI exit code. Every transport calls these; none keeps its own table.
#pragma once

#include "bver/status.h"

namespace bver::core {

// 200 for OK; 400, 404, 409, 412, ... otherwise.
int HttpStatusFor(StatusCode code);

// CLI exit codes: 0 ok, 1 a domain error (not found, invalid, conflict, ...),
// 2 usage (reported by the CLI parser, never by a Status), 3 environment or
// internal failure (unavailable, internal, data loss).
inline constexpr int kExitOk = 0;
inline constexpr int kExitDomainError = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitInternal = 3;
int ExitCodeFor(StatusCode code);

}  // namespace bver::core
