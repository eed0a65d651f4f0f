// The rows of the API key operations (keys.create, keys.list, keys.revoke;
// scope admin) over a KeyService. Internal to src/runtime.
#pragma once

#include <string>
#include <vector>

#include "src/runtime/key_service.h"
#include "src/runtime/operations.h"

namespace bver::runtime::internal {

// `known_scopes`: what keys.create accepts (a typo fails at once rather than
// at the first request). `keys` may be null (declared only).
Result<std::vector<OperationRow>> KeyRows(KeyService* keys, std::vector<std::string> known_scopes);

}  // namespace bver::runtime::internal
