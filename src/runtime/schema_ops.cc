#include "src/runtime/schema_ops.h"

#include <nlohmann/json.hpp>

#include "src/runtime/ingest_ops.h"

namespace bver::runtime::internal {
namespace {

using nlohmann::json;

constexpr const char* kRead = "schemas:read";
constexpr const char* kWrite = "schemas:write";

json IdField() {
  return {{"type", "string"},
          {"pattern", "^[a-z0-9][a-z0-9._-]{0,127}$"},
          {"description", "The schema id: lower-case letters, digits, . _ -."}};
}
json VersionField(const char* description) {
  return {{"type", "string"}, {"pattern", "^[0-9]+\\.[0-9]+\\.[0-9]+$"}, {"description", description}};
}
json ModeField(const char* description) {
  return {{"type", "string"}, {"enum", {"backward", "forward", "full", "none"}}, {"description", description}};
}
json SchemaField() {
  return {{"type", {"object", "boolean"}}, {"description", "A JSON Schema (draft 2020-12) for the events' payload."}};
}
json SummaryProps() {
  return {{"id", {{"type", "string"}}},
          {"version", {{"type", "string"}}},
          {"ref", {{"type", "string"}, {"description", "id@version, as events name it in payload_schema."}}},
          {"mode", {{"type", "string"}}},
          {"registered_at", {{"type", "string"}, {"format", "date-time"}}}};
}
json Summary() {
  return {{"type", "object"}, {"properties", SummaryProps()}, {"required", {"id", "version", "ref", "mode"}}};
}

HttpParam Path(const char* field) { return HttpParam{field, HttpSource::kPath, field, HttpForm::kValue, {}}; }
HttpParam Query(const char* field) { return HttpParam{field, HttpSource::kQuery, field, HttpForm::kValue, {}}; }
HttpParam Body(const char* field) {
  return HttpParam{field, HttpSource::kBody, "", HttpForm::kValue, {"application/json"}};
}

OperationRow Row(const char* id, const char* summary, const char* description, const char* scope) {
  OperationRow r;
  r.id = id;
  r.kind = domain::OperationKind::kModule;
  r.summary = summary;
  r.description = description;
  r.scopes = {scope};
  return r;
}

std::string In(const Call& call, const char* field) { return call.input ? call.input->value(field, "") : ""; }

}  // namespace

Result<std::vector<OperationRow>> SchemaRows(SchemaService* schemas) {
  auto none = []() { return FailedPreconditionError("this runtime has no payload schema registry"); };
  std::vector<Result<OperationRow>> built;
  {
    OperationRow r = Row("schemas.register", "Register an event payload schema",
                         "Registers a JSON Schema as ID@VERSION (above the latest). Refused, with what would break, "
                         "unless compatible with the latest version under the id's mode (backward unless set).",
                         kWrite);
    r.input_schema = std::make_shared<const json>(
        ObjectRoot({{"id", IdField()},
                    {"version", VersionField("X.Y.Z, above the id's latest.")},
                    {"schema", SchemaField()},
                    {"mode", ModeField("The id's compatibility mode from now on (default: the id's, or backward).")}},
                   {"id", "version", "schema"}));
    json out = ObjectRoot(SummaryProps(), {"id", "version", "ref", "mode"});
    r.output_schema = std::make_shared<const json>(out);
    r.http = {"PUT", "/v1/schemas/{id}/{version}", {Path("id"), Path("version"), Body("schema"), Query("mode")},
              201, "", "/v1/schemas/{id}?version={version}", false, false};
    r.handler = [schemas, none](const Call& call) -> Result<json> {
      if (schemas == nullptr) return none();
      return schemas->Register(In(call, "id"), In(call, "version"), call.input->at("schema"), In(call, "mode"));
    };
    built.push_back(CompileRow(std::move(r)));
  }
  {
    OperationRow r = Row("schemas.check", "Check a payload schema's compatibility",
                         "The dry run of schemas.register: what would break against the id's latest version "
                         "(compatible false, one entry per break). Nothing is stored.",
                         kRead);
    r.read_only = true;
    r.idempotent = true;
    r.input_schema = std::make_shared<const json>(
        ObjectRoot({{"id", IdField()},
                    {"schema", SchemaField()},
                    {"mode", ModeField("Check under this mode instead of the id's.")}},
                   {"id", "schema"}));
    json brk = {{"type", "object"},
                {"properties", {{"path", {{"type", "string"}}}, {"rule", {{"type", "string"}}}, {"message", {{"type", "string"}}}}}};
    r.output_schema = std::make_shared<const json>(
        ObjectRoot({{"id", {{"type", "string"}}},
                    {"mode", {{"type", "string"}}},
                    {"previous", {{"type", "string"}, {"description", "id@version checked against; absent for a new id."}}},
                    {"compatible", {{"type", "boolean"}}},
                    {"breaks", {{"type", "array"}, {"items", brk}}}},
                   {"id", "mode", "compatible", "breaks"}));
    r.http = {"POST", "/v1/schemas/{id}/check", {Path("id"), Body("schema"), Query("mode")}, 200, "", "", false, false};
    r.handler = [schemas, none](const Call& call) -> Result<json> {
      if (schemas == nullptr) return none();
      return schemas->Check(In(call, "id"), call.input->at("schema"), In(call, "mode"));
    };
    built.push_back(CompileRow(std::move(r)));
  }
  {
    OperationRow r = Row("schemas.get", "Get an event payload schema",
                         "One registered version with its schema; without version, the latest.", kRead);
    r.read_only = true;
    r.idempotent = true;
    r.input_schema = std::make_shared<const json>(
        ObjectRoot({{"id", IdField()}, {"version", VersionField("X.Y.Z (default: the latest).")}}, {"id"}));
    json props = SummaryProps();
    props["schema"] = SchemaField();
    r.output_schema = std::make_shared<const json>(ObjectRoot(props, {"id", "version", "ref", "mode", "schema"}));
    r.http = {"GET", "/v1/schemas/{id}", {Path("id"), Query("version")}, 200, "", "", false, false};
    r.handler = [schemas, none](const Call& call) -> Result<json> {
      if (schemas == nullptr) return none();
      return schemas->Get(In(call, "id"), In(call, "version"));
    };
    built.push_back(CompileRow(std::move(r)));
  }
  {
    OperationRow r = Row("schemas.list", "List event payload schemas", "Every registered version, by id then version.",
                         kRead);
    r.read_only = true;
    r.idempotent = true;
    r.input_schema = std::make_shared<const json>(ObjectRoot(json::object()));
    r.output_schema =
        std::make_shared<const json>(ObjectRoot({{"schemas", {{"type", "array"}, {"items", Summary()}}}}, {"schemas"}));
    r.http = {"GET", "/v1/schemas", {}, 200, "", "", false, false};
    r.handler = [schemas, none](const Call&) -> Result<json> {
      if (schemas == nullptr) return none();
      return schemas->List();
    };
    built.push_back(CompileRow(std::move(r)));
  }
  std::vector<OperationRow> rows;
  for (Result<OperationRow>& r : built) {
    if (!r.ok()) return r.status();
    rows.push_back(*std::move(r));
  }
  return rows;
}

}  // namespace bver::runtime::internal
