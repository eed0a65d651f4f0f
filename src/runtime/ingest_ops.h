// The rows of the ingestion gate's operations (events.ingest,
// events.quarantine.list, events.quarantine.readmit; docs/events.md):
// runtime-only rows, added by OperationTable::Build when an IngestService
// is bound (the compiled platform does not declare them). Internal to
// src/runtime.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "src/runtime/operations.h"

namespace bver::runtime::internal {

// The rows, schemas compiled, handlers calling `ingest`.
Result<std::vector<OperationRow>> IngestRows(IngestService* ingest);

// For every runtime-only row (ingest, subscriptions, orchestrators): an
// object schema root (draft 2020-12, no additional properties), and the
// row with its input and output schemas compiled (Internal, naming the
// row, when one does not compile).
nlohmann::json ObjectRoot(nlohmann::json props, std::vector<std::string> required = {});
Result<OperationRow> CompileRow(OperationRow row);

}  // namespace bver::runtime::internal
