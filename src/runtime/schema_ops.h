// The rows of the payload schema registry (schemas.register, .check, .get,
// .list; docs/events.md) over a SchemaService: added by
// OperationTable::Build when one is bound. Internal to src/runtime.
#pragma once

#include <vector>

#include "src/runtime/operations.h"
#include "src/runtime/schema_service.h"

namespace bver::runtime::internal {

// `schemas` may be null (declared only: the rows answer FailedPrecondition).
Result<std::vector<OperationRow>> SchemaRows(SchemaService* schemas);

}  // namespace bver::runtime::internal
