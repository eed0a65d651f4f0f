#include "src/runtime/ingest_ops.h"

#include <nlohmann/json.hpp>

#include "src/runtime/ingest_service.h"
#include "src/schema/validator.h"

namespace bver::runtime::internal {
namespace {

using nlohmann::json;

constexpr const char* kDialect = "https://json-schema.org/draft/2020-12/schema";

json Root(json props, std::vector<std::string> required = {}) {
  return ObjectRoot(std::move(props), std::move(required));
}

json EventsArray() {
  return {{"type", "array"},
          {"maxItems", 1000},
          {"items", {{"description", "An event in the envelope of docs/events.md (checked by the gate, not here)."}}}};
}

json Reason() {
  return {{"type", "object"},
          {"required", {"path", "rule", "message"}},
          {"properties", {{"path", {{"type", "string"}}}, {"rule", {{"type", "string"}}}, {"message", {{"type", "string"}}}}}};
}

json ReceiptSchema() {
  return {{"type", "object"},
          {"required", {"event_id", "status"}},
          {"properties",
           {{"event_id", {{"type", {"string", "null"}}}},
            {"status", {{"enum", {"ADMIT", "DUPLICATE", "QUARANTINE"}}}},
            {"offset", {{"type", "integer"}, {"minimum", 1}, {"description", "ADMIT: its offset; DUPLICATE: the original's."}}},
            {"quarantine_id", {{"type", "string"}, {"description", "QUARANTINE: the id to re-admit it with."}}},
            {"reasons", {{"type", "array"}, {"items", Reason()}}},
            {"policy_revision",
             {{"type", "string"}, {"description", "The admitting runtime's policy revision (docs/operating.md)."}}}}}};
}

IngestContext ContextOf(const Call& call) {
  return {call.principal.subject.empty() ? "anonymous" : call.principal.subject, call.correlation_id};
}

Result<OperationRow> Finish(OperationRow row) { return CompileRow(std::move(row)); }

}  // namespace

json ObjectRoot(json props, std::vector<std::string> required) {
  json s = {{"$schema", kDialect}, {"type", "object"}, {"properties", std::move(props)}, {"additionalProperties", false}};
  if (!required.empty()) s["required"] = std::move(required);
  return s;
}

Result<OperationRow> CompileRow(OperationRow row) {
  for (auto [schema, validator, what] : {std::tuple{row.input_schema, &row.input_validator, "input"},
                                         std::tuple{row.output_schema, &row.output_validator, "output"}}) {
    Result<std::unique_ptr<schema::Validator>> v = schema::Validator::Compile(*schema);
    if (!v.ok()) {
      return InternalError("the " + std::string(what) + " schema of " + row.id + " does not compile: " +
                           v.status().ToString());
    }
    *validator = std::shared_ptr<const schema::Validator>(std::move(v).value());
  }
  return row;
}


Result<std::vector<OperationRow>> IngestRows(IngestService* ingest) {
  std::vector<OperationRow> rows;
  IngestService* svc = ingest;
  {
    OperationRow r;
    r.id = "events.ingest";
    r.kind = domain::OperationKind::kModule;
    r.summary = "Ingest events of external producers";
    r.description =
        "Checks each event's envelope, its payload_schema (a registered id@X.Y.Z) and its payload against that "
        "schema, and answers one receipt per event, in order: ADMIT with its offset in the log, DUPLICATE with the "
        "original offset (deduplicated by event_id), or QUARANTINE with every reason (the event is kept and can be "
        "re-admitted). HTTP: the body is {\"events\": [...]}. At most 1000 events per call.";
    r.scopes = {kIngestScope};
    r.idempotent = true;
    json batch = {{"type", "object"},
                  {"required", {"events"}},
                  {"additionalProperties", false},
                  {"properties", {{"events", EventsArray()}}}};
    r.input_schema = std::make_shared<const json>(
        Root({{"batch", {{"description", "The events: {\"events\": [...]} (HTTP: the request body)."},
                         {"allOf", {batch}}}}},
             {"batch"}));
    r.output_schema = std::make_shared<const json>(
        Root({{"receipts", {{"type", "array"}, {"items", ReceiptSchema()}}}}, {"receipts"}));
    r.http = {"POST", "/v1/ingest", {HttpParam{"batch", HttpSource::kBody, "", HttpForm::kValue, {"application/json"}}},
              200, "", "", false, false};
    r.handler = [svc](const Call& call) -> Result<json> {
      const json& in = call.input ? *call.input : json::object();
      // The broker has validated the input: batch.events is an array.
      if (!in.contains("batch") || !in["batch"].contains("events")) {
        return InvalidArgumentError("batch.events is required");
      }
      return svc->Ingest(in["batch"]["events"], ContextOf(call));
    };
    BVER_ASSIGN_OR_RETURN(OperationRow done, Finish(std::move(r)));
    rows.push_back(std::move(done));
  }
  {
    OperationRow r;
    r.id = "events.quarantine.list";
    r.kind = domain::OperationKind::kModule;
    r.summary = "List quarantined events";
    r.description = "Events the ingestion gate quarantined, each with its reasons and attempts, in quarantine_id "
                    "order; follow next_cursor.";
    r.scopes = {"events:read"};
    r.read_only = true;
    r.idempotent = true;
    r.input_schema = std::make_shared<const json>(
        Root({{"cursor", {{"type", "string"}, {"description", "next_cursor of the previous page."}}},
              {"limit", {{"type", "integer"}, {"minimum", 1}, {"maximum", 1000}, {"default", 100}}}}));
    r.output_schema = std::make_shared<const json>(
        Root({{"events", {{"type", "array"}, {"items", {{"type", "object"}}}}},
              {"next_cursor", {{"type", {"string", "null"}}}}},
             {"events", "next_cursor"}));
    r.http = {"GET",
              "/v1/ingest/quarantine",
              {HttpParam{"cursor", HttpSource::kQuery, "cursor", HttpForm::kValue, {}},
               HttpParam{"limit", HttpSource::kQuery, "limit", HttpForm::kValue, {}}},
              200,
              "",
              "",
              false,
              false};
    r.handler = [svc](const Call& call) -> Result<json> {
      const json& in = call.input ? *call.input : json::object();
      return svc->ListQuarantine(in.value("cursor", ""), in.value("limit", std::size_t{100}));
    };
    BVER_ASSIGN_OR_RETURN(OperationRow done, Finish(std::move(r)));
    rows.push_back(std::move(done));
  }
  {
    OperationRow r;
    r.id = "events.quarantine.readmit";
    r.kind = domain::OperationKind::kModule;
    r.summary = "Re-admit a quarantined event";
    r.description = "Runs the gate's checks again on a quarantined event, or on a corrected event given in its "
                    "place, and answers its receipt: admitted, it leaves the quarantine; refused, its reasons are "
                    "updated.";
    r.scopes = {kIngestScope};
    r.input_schema = std::make_shared<const json>(
        Root({{"quarantine_id", {{"type", "string"}, {"minLength", 1}}},
              {"event", {{"type", "object"}, {"description", "A corrected event (HTTP: the request body); absent: "
                                                             "the quarantined one as it was."}}}},
             {"quarantine_id"}));
    r.output_schema = std::make_shared<const json>(ReceiptSchema());
    r.http = {"POST",
              "/v1/ingest/quarantine/{quarantine_id}/readmit",
              {HttpParam{"quarantine_id", HttpSource::kPath, "quarantine_id", HttpForm::kValue, {}},
               HttpParam{"event", HttpSource::kBody, "", HttpForm::kValue, {"application/json"}}},
              200,
              "",
              "",
              false,
              false};
    r.handler = [svc](const Call& call) -> Result<json> {
      const json& in = call.input ? *call.input : json::object();
      std::shared_ptr<const json> corrected;
      if (in.contains("event")) corrected = std::make_shared<const json>(in["event"]);
      return svc->Readmit(in.value("quarantine_id", ""), corrected, ContextOf(call));
    };
    BVER_ASSIGN_OR_RETURN(OperationRow done, Finish(std::move(r)));
    rows.push_back(std::move(done));
  }
  return rows;
}

}  // namespace bver::runtime::internal
