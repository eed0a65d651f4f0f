// The rows of the orchestrator operations (orch.<name>.start, .get,
// .cancel, and the runtime-only orch.runs.list): their schemas, HTTP routes
// and handlers, over an OrchestratorService (orch_service.h). Added by
// OperationTable::Build only when an OrchestratorService is bound. Internal
// to src/runtime.
#pragma once

#include <vector>

#include <nlohmann/json.hpp>

#include "src/domain/platform.h"
#include "src/runtime/operations.h"

namespace bver::runtime::internal {

// Input and output schema of orchestrator operation `op` of `platform`.
// NotFound when the op names no orchestrator.
Result<nlohmann::json> OrchInputSchema(const domain::Operation& op, const domain::Platform& platform);
nlohmann::json OrchOutputSchema(const domain::Operation& op);
HttpBinding OrchHttp(const domain::Operation& op);
std::string OrchDescription(const domain::Operation& op, const domain::Platform& platform);
Handler MakeOrchHandler(const domain::Operation& op, OperationTable::Bindings bindings);

// orch.runs.list (GET /v1/orchestrators/runs), schemas compiled.
Result<std::vector<OperationRow>> OrchListRows(OrchestratorService* orchestrators);

// The longest wait a start or get call may ask for.
inline constexpr double kMaxOrchWaitSeconds = 60;

}  // namespace bver::runtime::internal
