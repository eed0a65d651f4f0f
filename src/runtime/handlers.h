// The handlers of the operation rows: each turns validated input into calls
// on the store and the store's answer into the output object. Internal to
// src/runtime.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "src/runtime/operations.h"
#include "src/store/types.h"

namespace bver::runtime::internal {

// The handler of `op` (`repo`: its repo for refs.*, else null).
Handler MakeHandler(const domain::Operation& op, const domain::Repo* repo, OperationTable::Bindings bindings);


// RFC 3339 UTC with microseconds: "2026-11-21T10:00:00.000001Z".
std::string FormatTimestamp(std::int64_t micros);

// RFC 4648 §4 base64 with padding; Decode is strict (no whitespace).
std::string Base64Encode(std::string_view bytes);
std::optional<std::string> Base64Decode(std::string_view text);

}  // namespace bver::runtime::internal
