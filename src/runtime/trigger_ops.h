// The rows of the trigger processor's operations (triggers.list,
// triggers.fires; docs/triggers.md): runtime-only rows, added by
// OperationTable::Build when a TriggerService is bound (the compiled
// platform does not declare them). Internal to src/runtime.
#pragma once

#include <vector>

#include "src/runtime/operations.h"

namespace bver::runtime::internal {

// The rows, schemas compiled, handlers calling `triggers`.
Result<std::vector<OperationRow>> TriggerRows(TriggerService* triggers);

}  // namespace bver::runtime::internal
