#include "src/runtime/job_ops.h"

#include "src/runtime/ingest_ops.h"
#include "src/runtime/job_service.h"
#include "src/runtime/op_schemas.h"

namespace bver::runtime::internal {
namespace {

using nlohmann::json;
using domain::OperationKind;

constexpr const char* kDialect = "https://json-schema.org/draft/2020-12/schema";
constexpr const char* kJobIdPattern = "^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$";

json Root(json props, std::vector<std::string> required = {}, json defs = json::object()) {
  json s = {{"$schema", kDialect}, {"type", "object"}, {"properties", std::move(props)}, {"additionalProperties", false}};
  if (!required.empty()) s["required"] = std::move(required);
  if (!defs.empty()) s["$defs"] = std::move(defs);
  return s;
}

json WaitSchema() {
  // An integer: HTTP query values are converted by integer/boolean type.
  return {{"type", "integer"},
          {"minimum", 0},
          {"maximum", static_cast<int>(kMaxJobWaitSeconds)},
          {"description", "Answer once the job has ended, or after this many seconds (at most 60)."}};
}

json JobIdSchema() {
  return {{"type", "string"}, {"pattern", kJobIdPattern}, {"description", "The job handle (a UUIDv7)."}};
}

const domain::Job* FindJob(const domain::Platform& p, const std::string& name) {
  for (const domain::Job& j : p.jobs) {
    if (j.name == name) return &j;
  }
  return nullptr;
}

Status NoJobs() { return FailedPreconditionError("this server runs no job engine"); }

}  // namespace

Result<json> JobInputSchema(const domain::Operation& op, const domain::Platform& platform) {
  switch (op.kind) {
    case OperationKind::kJobStart: {
      const domain::Job* job = FindJob(platform, op.target);
      const domain::Capability* cap = job ? platform.FindCapability(job->capability) : nullptr;
      if (cap == nullptr) return NotFoundError("operation " + op.id + " names no job with a capability");
      json input = cap->input_schema ? *cap->input_schema : json{{"type", "object"}};
      return Root({{"input", {{"$ref", "#/$defs/capability_input"},
                              {"description", "The input of capability " + cap->id + " (HTTP: the request body)."}}},
                   {"no_cache", {{"type", "boolean"},
                                 {"default", false},
                                 {"description", "Run even when the action cache holds the result."}}},
                   {"wait", WaitSchema()},
                   {"idempotency_key", {{"type", "string"},
                                        {"minLength", 1},
                                        {"maxLength", 200},
                                        {"description", "Repeat-safe key: a second start with the same key answers "
                                                        "the first job, nothing is queued twice (HTTP: "
                                                        "Idempotency-Key)."}}}},
                  {}, {{"capability_input", EmbedAt(input, "capability_input")}});
    }
    case OperationKind::kJobStatus:
      return Root({{"job_id", JobIdSchema()}, {"wait", WaitSchema()}}, {"job_id"});
    case OperationKind::kJobCancel:
      return Root({{"job_id", JobIdSchema()}}, {"job_id"});
    default:
      return InternalError("not a job operation: " + op.id);
  }
}

json JobOutputSchema(const domain::Operation&) {
  json ts = {{"type", "string"}, {"format", "date-time"}};
  json error = {{"type", "object"},
                {"required", {"code", "message"}},
                {"properties",
                 {{"code", {{"type", "string"}}},
                  {"message", {{"type", "string"}}},
                  {"violations", {{"type", "array"}, {"items", {{"type", "object"}}}}}}}};
  return Root(
      {{"job_id", JobIdSchema()},
       {"job", {{"type", "string"}, {"description", "The job's name in bver.yaml."}}},
       {"capability", {{"type", "string"}}},
       {"capability_version", {{"type", "string"}}},
       {"state", {{"enum", {"queued", "running", "succeeded", "failed", "cancelled", "timed_out"}}}},
       {"cache_hit", {{"type", "boolean"}, {"description", "True when the result came from the action cache."}}},
       {"cache_key", {{"type", "string"}, {"description", "sha256: of the pinned inputs (docs/jobs.md)."}}},
       {"attempts", {{"type", "integer"}, {"minimum", 0}}},
       {"max_attempts", {{"type", "integer"}, {"minimum", 1}}},
       {"cancel_requested", {{"type", "boolean"}}},
       {"created_at", ts},
       {"updated_at", ts},
       {"run_after", ts},
       {"worker", {{"type", "string"}}},
       {"input", {{"type", "object"}}},
       {"result", {{"description", "The capability's output (succeeded)."}}},
       {"error", error},
       {"commit", {{"type", "object"}}},
       {"policy_revision",
        {{"type", "string"},
         {"description", "The policy revision (profile) the result was produced under (docs/operating.md)."}}}},
      {"job_id", "job", "capability", "state", "cache_hit", "attempts"});
}

HttpBinding JobHttp(const domain::Operation& op) {
  auto query = [](std::string f) { return HttpParam{f, HttpSource::kQuery, f, HttpForm::kValue, {}}; };
  auto path = [](std::string f) { return HttpParam{f, HttpSource::kPath, f, HttpForm::kValue, {}}; };
  switch (op.kind) {
    case OperationKind::kJobStart:
      return {"POST",
              "/v1/jobs/" + op.target,
              {HttpParam{"input", HttpSource::kBody, "", HttpForm::kValue, {"application/json"}}, query("no_cache"),
               query("wait"), HttpParam{"idempotency_key", HttpSource::kHeader, "Idempotency-Key", HttpForm::kValue, {}}},
              202,
              "",
              "/v1/jobs/{job_id}",
              false,
              false};
    case OperationKind::kJobStatus:
      return {"GET", "/v1/jobs/{job_id}", {path("job_id"), query("wait")}, 200, "", "", false, false};
    case OperationKind::kJobCancel:
      return {"POST", "/v1/jobs/{job_id}/cancel", {path("job_id")}, 200, "", "", false, false};
    default:
      return {};
  }
}

std::string JobDescription(const domain::Operation& op, const domain::Platform& platform) {
  switch (op.kind) {
    case OperationKind::kJobStart: {
      const domain::Job* job = FindJob(platform, op.target);
      std::string d = op.summary + ".";
      if (job != nullptr && !job->description.empty()) d += " " + job->description;
      if (job != nullptr) {
        if (const domain::Capability* cap = platform.FindCapability(job->capability)) {
          if (!cap->description.empty()) d += " " + cap->description;
          d += cap->deterministic ? " Deterministic: an identical run (same pinned inputs) is answered from the "
                                    "action cache at once (cache_hit); no_cache forces a run."
                                  : "";
        }
      }
      return d + " Answers the job handle (job_id) and its state; wait makes it answer once the job has ended.";
    }
    case OperationKind::kJobStatus:
      return "The state of a job by handle: queued, running, succeeded (with result), failed, cancelled or "
             "timed_out (with error). wait makes it answer once the job has ended.";
    case OperationKind::kJobCancel:
      return "Cancel a job by handle: a queued job is cancelled at once, a running one is stopped by its worker. "
             "An ended job is answered as it is.";
    default:
      return op.summary;
  }
}

Handler MakeJobHandler(const domain::Operation& op, OperationTable::Bindings bindings) {
  JobService* jobs = bindings.jobs;
  OperationKind kind = op.kind;
  std::string target = op.target;
  return [jobs, kind, target](const Call& call) -> Result<json> {
    if (jobs == nullptr) return NoJobs();
    const json in = call.input ? *call.input : json::object();
    std::string actor = call.principal.subject.empty() ? "anonymous" : call.principal.subject;
    switch (kind) {
      case OperationKind::kJobStart: {
        JobStartRequest r;
        r.job = target;
        r.input = std::make_shared<const json>(in.value("input", json::object()));
        r.no_cache = in.value("no_cache", false);
        r.wait_seconds = std::min(in.value("wait", 0.0), kMaxJobWaitSeconds);
        // Keys are per principal, as for references.
        if (in.contains("idempotency_key")) r.idempotency_key = actor + " " + in["idempotency_key"].get<std::string>();
        r.actor = actor;
        r.correlation_id = call.correlation_id;
        r.causation_id = call.causation_id;
        return jobs->StartJob(r);
      }
      case OperationKind::kJobStatus:
        return jobs->JobStatus(in.value("job_id", ""), std::min(in.value("wait", 0.0), kMaxJobWaitSeconds));
      case OperationKind::kJobCancel:
        return jobs->CancelJob(in.value("job_id", ""), actor, call.correlation_id);
      default:
        return InternalError("not a job operation");
    }
  };
}

Result<std::vector<OperationRow>> JobListRows(JobService* jobs) {
  OperationRow r;
  r.id = "jobs.list";
  r.kind = domain::OperationKind::kModule;
  r.summary = "List jobs";
  r.description = "Jobs in submission order, optionally only those in one state; follow next_cursor.";
  r.scopes = {"jobs:read"};
  r.read_only = true;
  r.idempotent = true;
  r.input_schema = std::make_shared<const json>(
      Root({{"state", {{"enum", {"queued", "running", "succeeded", "failed", "cancelled", "timed_out"}}}},
            {"cursor", {{"type", "string"}, {"description", "next_cursor of the previous page."}}},
            {"limit", {{"type", "integer"}, {"minimum", 1}, {"maximum", 1000}, {"default", 100}}}}));
  json status = JobOutputSchema(domain::Operation{});
  status.erase("$schema");
  r.output_schema = std::make_shared<const json>(
      Root({{"jobs", {{"type", "array"}, {"items", status}}}, {"next_cursor", {{"type", {"string", "null"}}}}},
           {"jobs", "next_cursor"}));
  auto query = [](std::string f) { return HttpParam{f, HttpSource::kQuery, f, HttpForm::kValue, {}}; };
  r.http = {"GET", "/v1/jobs", {query("state"), query("cursor"), query("limit")}, 200, "", "", false, false};
  r.handler = [jobs](const Call& call) -> Result<json> {
    if (jobs == nullptr) return NoJobs();
    const json& in = call.input ? *call.input : json::object();
    return jobs->ListJobs(in.value("state", ""), in.value("cursor", ""), in.value("limit", std::size_t{100}));
  };
  BVER_ASSIGN_OR_RETURN(OperationRow done, CompileRow(std::move(r)));
  return std::vector<OperationRow>{std::move(done)};
}

}  // namespace bver::runtime::internal
