#include "src/runtime/orch_ops.h"

#include <algorithm>

#include "src/runtime/ingest_ops.h"
#include "src/runtime/op_schemas.h"
#include "src/runtime/orch_service.h"

namespace bver::runtime::internal {
namespace {

using nlohmann::json;
using domain::OperationKind;

constexpr const char* kDialect = "https://json-schema.org/draft/2020-12/schema";
constexpr const char* kRunIdPattern = "^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$";

json Root(json props, std::vector<std::string> required = {}, json defs = json::object()) {
  json s = ObjectRoot(std::move(props), std::move(required));
  if (!defs.empty()) s["$defs"] = std::move(defs);
  return s;
}

json WaitSchema() {
  return {{"type", "integer"},
          {"minimum", 0},
          {"maximum", static_cast<int>(kMaxOrchWaitSeconds)},
          {"description", "Answer once the run has ended, or after this many seconds (at most 60)."}};
}

json RunIdSchema() {
  return {{"type", "string"}, {"pattern", kRunIdPattern}, {"description", "The run id (a UUIDv7)."}};
}

json ErrorSchema() {
  return {{"type", "object"},
          {"required", {"code", "message"}},
          {"properties",
           {{"code", {{"type", "string"}}},
            {"message", {{"type", "string"}}},
            {"step", {{"type", "string"}}},
            {"violations", {{"type", "array"}, {"items", {{"type", "object"}}}}}}}};
}

json RunSchema() {
  json ts = {{"type", "string"}, {"format", "date-time"}};
  json call = {{"type", "object"},
               {"required", {"index", "state", "attempt"}},
               {"properties",
                {{"index", {{"type", "integer"}, {"minimum", 0}}},
                 {"item", {{"description", "for_each: the item of this call."}}},
                 {"input", {{"type", "object"}, {"description", "The operation's input, references expanded."}}},
                 {"state", {{"enum", {"ready", "waiting_job", "retry_wait", "succeeded", "failed"}}}},
                 {"attempt", {{"type", "integer"}, {"minimum", 1}}},
                 {"job_id", {{"type", "string"}}},
                 {"retry_at", ts},
                 {"output", json::object()},
                 {"error", ErrorSchema()}}}};
  json step = {{"type", "object"},
               {"required", {"id", "op", "state", "attempts"}},
               {"properties",
                {{"id", {{"type", "string"}}},
                 {"op", {{"type", "string"}}},
                 {"state", {{"enum", {"pending", "running", "succeeded", "failed", "skipped", "cancelled"}}}},
                 {"attempts", {{"type", "integer"}, {"minimum", 0}, {"description", "Calls issued, retries included."}}},
                 {"calls", {{"type", "array"}, {"items", call}}},
                 {"job_ids", {{"type", "array"}, {"items", {{"type", "string"}}}}},
                 {"output", {{"description", "The operation's output (a job's result); for_each: the list of them."}}},
                 {"error", ErrorSchema()},
                 {"reason", {{"type", "string"}, {"description", "skipped: why."}}},
                 {"started_at", ts},
                 {"ended_at", ts}}}};
  return {{"type", "object"},
          {"required", {"run_id", "orchestrator", "state", "input", "steps", "created_at", "updated_at"}},
          {"properties",
           {{"run_id", RunIdSchema()},
            {"orchestrator", {{"type", "string"}}},
            {"state", {{"enum", {"running", "succeeded", "failed", "cancelled"}}}},
            {"input", {{"type", "object"}}},
            {"steps", {{"type", "array"}, {"items", step}}},
            {"output", {{"type", "object"}, {"description", "succeeded: each succeeded step's output by step id."}}},
            {"error", ErrorSchema()},
            {"cancel_requested", {{"type", "boolean"}}},
            {"actor", {{"type", "string"}}},
            {"correlation_id", {{"type", "string"}}},
            {"causation_id", {{"type", "string"}}},
            {"created_at", ts},
            {"updated_at", ts},
            {"ended_at", ts}}}};
}

const domain::Orchestrator* FindOrch(const domain::Platform& p, const std::string& name) {
  for (const domain::Orchestrator& o : p.orchestrators) {
    if (o.name == name) return &o;
  }
  return nullptr;
}

Status NoEngine() { return FailedPreconditionError("this server runs no orchestrator engine"); }

Result<OperationRow> Finish(OperationRow row) { return CompileRow(std::move(row)); }

}  // namespace

Result<json> OrchInputSchema(const domain::Operation& op, const domain::Platform& platform) {
  switch (op.kind) {
    case OperationKind::kOrchStart: {
      const domain::Orchestrator* o = FindOrch(platform, op.target);
      if (o == nullptr) return NotFoundError("operation " + op.id + " names no orchestrator");
      json input = o->input_schema ? *o->input_schema : json{{"type", "object"}};
      return Root({{"input", {{"$ref", "#/$defs/orchestrator_input"},
                              {"description", "The input of orchestrator " + o->name + " (HTTP: the request body)."}}},
                   {"wait", WaitSchema()},
                   {"idempotency_key", {{"type", "string"},
                                        {"minLength", 1},
                                        {"maxLength", 200},
                                        {"description", "Repeat-safe key: a second start with the same key answers "
                                                        "the first run (HTTP: Idempotency-Key)."}}}},
                  {}, {{"orchestrator_input", EmbedAt(input, "orchestrator_input")}});
    }
    case OperationKind::kOrchGet:
      return Root({{"run_id", RunIdSchema()}, {"wait", WaitSchema()}}, {"run_id"});
    case OperationKind::kOrchCancel:
      return Root({{"run_id", RunIdSchema()}}, {"run_id"});
    default:
      return InternalError("not an orchestrator operation: " + op.id);
  }
}

json OrchOutputSchema(const domain::Operation&) {
  json s = RunSchema();
  s["$schema"] = kDialect;
  s["additionalProperties"] = false;
  return s;
}

HttpBinding OrchHttp(const domain::Operation& op) {
  auto query = [](std::string f) { return HttpParam{f, HttpSource::kQuery, f, HttpForm::kValue, {}}; };
  auto path = [](std::string f) { return HttpParam{f, HttpSource::kPath, f, HttpForm::kValue, {}}; };
  std::string runs = "/v1/orchestrators/" + op.target + "/runs";
  switch (op.kind) {
    case OperationKind::kOrchStart:
      return {"POST",
              runs,
              {HttpParam{"input", HttpSource::kBody, "", HttpForm::kValue, {"application/json"}}, query("wait"),
               HttpParam{"idempotency_key", HttpSource::kHeader, "Idempotency-Key", HttpForm::kValue, {}}},
              202,
              "",
              runs + "/{run_id}",
              false,
              false};
    case OperationKind::kOrchGet:
      return {"GET", runs + "/{run_id}", {path("run_id"), query("wait")}, 200, "", "", false, false};
    case OperationKind::kOrchCancel:
      return {"POST", runs + "/{run_id}/cancel", {path("run_id")}, 200, "", "", false, false};
    default:
      return {};
  }
}

std::string OrchDescription(const domain::Operation& op, const domain::Platform& platform) {
  const domain::Orchestrator* o = FindOrch(platform, op.target);
  std::string about = o != nullptr && !o->description.empty() ? " " + o->description : "";
  switch (op.kind) {
    case OperationKind::kOrchStart: {
      std::string steps;
      if (o != nullptr) {
        for (const domain::Step& s : o->steps) steps += (steps.empty() ? "" : ", ") + s.id + " (" + s.op + ")";
      }
      return op.summary + "." + about + " Steps: " + steps +
             ". Records a durable run and answers its run_id and state; the steps run in the background, resume "
             "after a restart and commit once each. wait makes it answer once the run has ended.";
    }
    case OperationKind::kOrchGet:
      return op.summary + "." + about +
             " The run's state (running, succeeded, failed, cancelled), each step's state, output or error, and "
             "the run's output. wait makes it answer once the run has ended.";
    case OperationKind::kOrchCancel:
      return op.summary + "." + about +
             " No further step starts and the run's running jobs are cancelled. An ended run is answered as it is.";
    default:
      return op.summary;
  }
}

Handler MakeOrchHandler(const domain::Operation& op, OperationTable::Bindings bindings) {
  OrchestratorService* svc = bindings.orchestrators;
  OperationKind kind = op.kind;
  std::string target = op.target;
  return [svc, kind, target](const Call& call) -> Result<json> {
    if (svc == nullptr) return NoEngine();
    const json in = call.input ? *call.input : json::object();
    std::string actor = call.principal.subject.empty() ? "anonymous" : call.principal.subject;
    switch (kind) {
      case OperationKind::kOrchStart: {
        OrchStartRequest r;
        r.orchestrator = target;
        r.input = std::make_shared<const json>(in.value("input", json::object()));
        r.wait_seconds = std::min(in.value("wait", 0.0), kMaxOrchWaitSeconds);
        // Keys are per principal, as for references.
        if (in.contains("idempotency_key")) r.idempotency_key = actor + " " + in["idempotency_key"].get<std::string>();
        r.actor = actor;
        r.correlation_id = call.correlation_id;
        r.causation_id = call.causation_id;
        return svc->StartRun(r);
      }
      case OperationKind::kOrchGet:
        return svc->GetRun(target, in.value("run_id", ""), std::min(in.value("wait", 0.0), kMaxOrchWaitSeconds));
      case OperationKind::kOrchCancel:
        return svc->CancelRun(target, in.value("run_id", ""), actor, call.correlation_id);
      default:
        return InternalError("not an orchestrator operation");
    }
  };
}

// A run as a list shows it: its state, each step's, and where the whole
// run is (the list would otherwise carry every step's inputs and outputs).
json RunSummarySchema() {
  json ts = {{"type", "string"}, {"format", "date-time"}};
  json step = {{"type", "object"},
               {"required", {"id", "state", "attempts"}},
               {"properties",
                {{"id", {{"type", "string"}}},
                 {"state", {{"enum", {"pending", "running", "succeeded", "failed", "skipped", "cancelled"}}}},
                 {"attempts", {{"type", "integer"}, {"minimum", 0}}},
                 {"job_ids", {{"type", "array"}, {"items", {{"type", "string"}}}}}}}};
  return {{"type", "object"},
          {"required", {"run_id", "orchestrator", "state", "steps", "created_at", "updated_at", "href"}},
          {"properties",
           {{"run_id", RunIdSchema()},
            {"orchestrator", {{"type", "string"}}},
            {"state", {{"enum", {"running", "succeeded", "failed", "cancelled"}}}},
            {"steps", {{"type", "array"}, {"items", step}}},
            {"error", ErrorSchema()},
            {"actor", {{"type", "string"}}},
            {"correlation_id", {{"type", "string"}}},
            {"created_at", ts},
            {"updated_at", ts},
            {"ended_at", ts},
            {"href", {{"type", "string"}, {"description", "GET it for the whole run: inputs, calls, outputs."}}}}}};
}

Result<std::vector<OperationRow>> OrchListRows(OrchestratorService* orchestrators) {
  OrchestratorService* svc = orchestrators;
  OperationRow r;
  r.id = "orch.runs.list";
  r.kind = domain::OperationKind::kModule;
  r.summary = "List orchestrator runs";
  r.description = "Runs of every orchestrator (or of one), in start order, optionally only those in one state, "
                  "each as a summary (state, each step's state, href to the whole run); follow next_cursor.";
  r.scopes = {kOrchReadScope};
  r.read_only = true;
  r.idempotent = true;
  r.input_schema = std::make_shared<const json>(
      Root({{"orchestrator", {{"type", "string"}, {"description", "Only runs of this orchestrator."}}},
            {"state", {{"enum", {"running", "succeeded", "failed", "cancelled"}}}},
            {"cursor", {{"type", "string"}, {"description", "next_cursor of the previous page."}}},
            {"limit", {{"type", "integer"}, {"minimum", 1}, {"maximum", 1000}, {"default", 100}}}}));
  json out = Root({{"runs", {{"type", "array"}, {"items", RunSummarySchema()}}}, {"next_cursor", {{"type", {"string", "null"}}}}},
                  {"runs", "next_cursor"});
  r.output_schema = std::make_shared<const json>(std::move(out));
  auto query = [](std::string f) { return HttpParam{f, HttpSource::kQuery, f, HttpForm::kValue, {}}; };
  r.http = {"GET",
            "/v1/orchestrators/runs",
            {query("orchestrator"), query("state"), query("cursor"), query("limit")},
            200,
            "",
            "",
            false,
            false};
  r.handler = [svc](const Call& call) -> Result<json> {
    const json& in = call.input ? *call.input : json::object();
    return svc->ListRuns(in.value("orchestrator", ""), in.value("state", ""), in.value("cursor", ""),
                         in.value("limit", std::size_t{100}));
  };
  BVER_ASSIGN_OR_RETURN(OperationRow done, Finish(std::move(r)));
  std::vector<OperationRow> rows;
  rows.push_back(std::move(done));

  // A run by id alone, whatever its orchestrator: what the CLI's `bver orch
  // status|cancel RUN_ID` and a list's run_id lead to. No HTTP path of their
  // own (the list's href is the orchestrator's route); POST /v1/ops and MCP.
  OperationRow get;
  get.id = "orch.runs.get";
  get.kind = domain::OperationKind::kOrchGet;
  get.summary = "Get an orchestrator run by id";
  get.description = "A run of any orchestrator by its id: state, each step with its calls and outputs; with wait, "
                    "answers once the run has ended or after that many seconds.";
  get.scopes = {kOrchReadScope};
  get.read_only = true;
  get.idempotent = true;
  get.input_schema = std::make_shared<const json>(Root({{"run_id", RunIdSchema()}, {"wait", WaitSchema()}}, {"run_id"}));
  get.output_schema = std::make_shared<const json>(OrchOutputSchema(domain::Operation{}));
  get.handler = [svc](const Call& call) -> Result<json> {
    const json& in = call.input ? *call.input : json::object();
    return svc->GetRun("", in.value("run_id", ""), std::min(in.value("wait", 0.0), kMaxOrchWaitSeconds));
  };
  BVER_ASSIGN_OR_RETURN(OperationRow get_done, Finish(std::move(get)));
  rows.push_back(std::move(get_done));

  OperationRow cancel;
  cancel.id = "orch.runs.cancel";
  cancel.kind = domain::OperationKind::kOrchCancel;
  cancel.summary = "Cancel an orchestrator run by id";
  cancel.description = "Cancels a running run of any orchestrator: no further step starts and its jobs are "
                       "cancelled; an ended run is answered as it is.";
  cancel.scopes = {kOrchCancelScope};
  cancel.idempotent = true;
  cancel.destructive = true;
  cancel.input_schema = std::make_shared<const json>(Root({{"run_id", RunIdSchema()}}, {"run_id"}));
  cancel.output_schema = std::make_shared<const json>(OrchOutputSchema(domain::Operation{}));
  cancel.handler = [svc](const Call& call) -> Result<json> {
    const json& in = call.input ? *call.input : json::object();
    return svc->CancelRun("", in.value("run_id", ""), call.principal.subject, call.correlation_id);
  };
  BVER_ASSIGN_OR_RETURN(OperationRow cancel_done, Finish(std::move(cancel)));
  rows.push_back(std::move(cancel_done));
  return rows;
}

}  // namespace bver::runtime::internal
