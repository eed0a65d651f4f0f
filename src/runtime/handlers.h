// The handlers of the operation rows: each turns validated input into calls
// on the store and the store's answer into the output object. Internal to
// src/runtime.
#pragma once

#include "src/core/clock.h"

#include <cstdint>
#include <optional>
#include <string>

#include "src/runtime/operations.h"
#include "src/store/types.h"

namespace bver::runtime::internal {

// The handler of `op` (`repo`: its repo for refs.*, else null).
Handler MakeHandler(const domain::Operation& op, const domain::Repo* repo, OperationTable::Bindings bindings);



// RFC 4648 §4 base64 with padding; Decode is strict (no whitespace).
std::string Base64Encode(std::string_view bytes);
std::optional<std::string> Base64Decode(std::string_view text);

}  // namespace bver::runtime::internal
