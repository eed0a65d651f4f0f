// The rows of the ingestion gate's operations (events.ingest,
// events.quarantine.list, events.quarantine.readmit; docs/events.md):
// runtime-only rows, added by OperationTable::Build when an IngestService
// is bound (the compiled platform does not declare them). Internal to
// src/runtime.
#pragma once

#include <vector>

#include "src/runtime/operations.h"

namespace bver::runtime::internal {

// The rows, schemas compiled, handlers calling `ingest`.
Result<std::vector<OperationRow>> IngestRows(IngestService& ingest);

}  // namespace bver::runtime::internal
