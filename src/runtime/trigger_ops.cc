#include "src/runtime/trigger_ops.h"

#include <nlohmann/json.hpp>

#include "src/runtime/ingest_ops.h"
#include "src/runtime/trigger_service.h"

namespace bver::runtime::internal {
namespace {

using nlohmann::json;


json Root(json props, std::vector<std::string> required = {}) {
  return ObjectRoot(std::move(props), std::move(required));
}

Result<OperationRow> Finish(OperationRow row) { return CompileRow(std::move(row)); }

json TriggerSchema() {
  json count = {{"type", "integer"}, {"minimum", 0}};
  return {{"type", "object"},
          {"required", {"name", "on", "start", "fired", "failed", "suppressed"}},
          {"properties",
           {{"name", {{"type", "string"}}},
            {"on", {{"type", "object"}, {"description", "The pattern (bver.yaml triggers.<name>.on); absent keys: any."}}},
            {"start", {{"type", "string"}, {"description", "The operation it starts."}}},
            {"fired", count},
            {"failed", count},
            {"suppressed", count},
            {"last_at", {{"type", "string"}, {"format", "date-time"}}}}}};
}

}  // namespace

Result<std::vector<OperationRow>> TriggerRows(TriggerService* triggers) {
  std::vector<OperationRow> rows;
  TriggerService* svc = triggers;
  {
    OperationRow r;
    r.id = "triggers.list";
    r.kind = domain::OperationKind::kModule;
    r.summary = "List triggers with their counts";
    r.description =
        "Every trigger of the platform with its pattern, the operation it starts and how often it fired (started), "
        "failed and was suppressed by loop protection; and the processor's cursor (the offset of the next event it "
        "reads) and whether it runs in this server.";
    r.scopes = {"events:read"};
    r.read_only = true;
    r.idempotent = true;
    r.input_schema = std::make_shared<const json>(Root(json::object()));
    r.output_schema = std::make_shared<const json>(
        Root({{"cursor", {{"type", {"integer", "null"}}, {"description", "null before the processor's first start."}}},
              {"running", {{"type", "boolean"}}},
              {"triggers", {{"type", "array"}, {"items", TriggerSchema()}}}},
             {"cursor", "running", "triggers"}));
    r.http = {"GET", "/v1/triggers", {}, 200, "", "", false, false};
    r.handler = [svc](const Call&) -> Result<json> { return svc->ListTriggers(); };
    BVER_ASSIGN_OR_RETURN(OperationRow done, Finish(std::move(r)));
    rows.push_back(std::move(done));
  }
  {
    OperationRow r;
    r.id = "triggers.fires";
    r.kind = domain::OperationKind::kModule;
    r.summary = "List the firings of triggers";
    r.description =
        "One entry per (trigger, event) the processor matched: state started (with the operation's answer), failed "
        "(with the error), suppressed (with the reason) or starting (the call is under way). Ordered by trigger, "
        "then event; follow next_cursor.";
    r.scopes = {"events:read"};
    r.read_only = true;
    r.idempotent = true;
    r.input_schema = std::make_shared<const json>(
        Root({{"trigger", {{"type", "string"}, {"description", "Only this trigger's firings."}}},
              {"cursor", {{"type", "string"}, {"description", "next_cursor of the previous page."}}},
              {"limit", {{"type", "integer"}, {"minimum", 1}, {"maximum", 1000}, {"default", 100}}}}));
    r.output_schema = std::make_shared<const json>(
        Root({{"fires", {{"type", "array"}, {"items", {{"type", "object"}}}}},
              {"next_cursor", {{"type", {"string", "null"}}}}},
             {"fires", "next_cursor"}));
    auto query = [](std::string f) { return HttpParam{f, HttpSource::kQuery, f, HttpForm::kValue, {}}; };
    r.http = {"GET", "/v1/triggers/fires", {query("trigger"), query("cursor"), query("limit")}, 200, "", "", false,
              false};
    r.handler = [svc](const Call& call) -> Result<json> {
      const json& in = call.input ? *call.input : json::object();
      return svc->ListFires(in.value("trigger", ""), in.value("cursor", ""), in.value("limit", std::size_t{100}));
    };
    BVER_ASSIGN_OR_RETURN(OperationRow done, Finish(std::move(r)));
    rows.push_back(std::move(done));
  }
  {
    OperationRow r;
    r.id = "triggers.reset";
    r.kind = domain::OperationKind::kModule;
    r.summary = "Move the trigger processor's cursor";
    r.description =
        "The processor reads event `from` next: an earlier offset replays (firings already recorded are not "
        "repeated), 0 skips to the end of the log. An operator's tool: best while no processor runs.";
    r.scopes = {"admin"};
    r.destructive = true;
    r.idempotent = true;
    r.input_schema = std::make_shared<const json>(
        Root({{"from", {{"type", "integer"}, {"minimum", 0}, {"description", "The event offset to process next (0: the end)."}}}},
             {"from"}));
    r.output_schema = std::make_shared<const json>(Root({{"cursor", {{"type", "integer"}, {"minimum", 0}}}}, {"cursor"}));
    r.handler = [svc](const Call& call) -> Result<json> {
      return svc->MoveCursor(call.input ? call.input->value("from", std::uint64_t{0}) : 0);
    };
    BVER_ASSIGN_OR_RETURN(OperationRow done, Finish(std::move(r)));
    rows.push_back(std::move(done));
  }
  return rows;
}

}  // namespace bver::runtime::internal
