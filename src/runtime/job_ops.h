// The rows of the job operations (jobs.<name>.start, jobs.status,
// jobs.cancel): their schemas, HTTP routes and handlers, over a JobService
// (job_service.h). Internal to src/runtime.
#pragma once

#include <nlohmann/json.hpp>

#include "src/domain/platform.h"
#include "src/runtime/operations.h"

namespace bver::runtime::internal {

// Input and output schema of job operation `op` of `platform`. NotFound
// when a jobs.<name>.start names no job with a capability.
Result<nlohmann::json> JobInputSchema(const domain::Operation& op, const domain::Platform& platform);
nlohmann::json JobOutputSchema(const domain::Operation& op);
HttpBinding JobHttp(const domain::Operation& op);
std::string JobDescription(const domain::Operation& op, const domain::Platform& platform);
// Answers FailedPrecondition when bindings.jobs is null.
Handler MakeJobHandler(const domain::Operation& op, OperationTable::Bindings bindings);

// The job module's own row: jobs.list (GET /v1/jobs). `jobs` may be null
// (declared only; the table's Build then answers FailedPrecondition).
Result<std::vector<OperationRow>> JobListRows(JobService* jobs);

// The longest wait a start or status call may ask for.
inline constexpr double kMaxJobWaitSeconds = 60;

}  // namespace bver::runtime::internal
