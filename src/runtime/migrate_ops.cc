#include "src/runtime/migrate_ops.h"

#include <nlohmann/json.hpp>

#include "src/runtime/ingest_ops.h"

namespace bver::runtime::internal {
namespace {

using nlohmann::json;

json Open() { return json{{"type", "object"}}; }

}  // namespace

Result<std::vector<OperationRow>> MigrateRows(MigrationService* migrations) {
  std::vector<OperationRow> rows;
  auto none = []() { return FailedPreconditionError("this runtime has no store to migrate"); };
  {
    OperationRow r;
    r.id = "migrate.plan";
    r.kind = domain::OperationKind::kModule;
    r.summary = "Plan the store's migration to the current domain";
    r.description =
        "From the manifest the store was last migrated to, to the one bver.yaml compiles to now: every change "
        "classified (additive, compatible, destructive), and a dry run over every stored reference -- how many "
        "each destructive change touches with their pointers (paged: change and offset), the transforms that "
        "fail, the references that would stay invalid. Writes nothing. docs/migrations.md.";
    r.scopes = {"admin"};
    r.read_only = true;
    r.idempotent = true;
    r.input_schema = std::make_shared<const json>(ObjectRoot(
        {{"limit", {{"type", "integer"}, {"minimum", 0}, {"maximum", 1000}, {"default", 20},
                    {"description", "Pointers listed per change."}}},
         {"change", {{"type", "integer"}, {"minimum", 0},
                     {"description", "Only this change's pointers (its index in changes), from offset."}}},
         {"offset", {{"type", "integer"}, {"minimum", 0}, {"default", 0}}}}));
    r.output_schema = std::make_shared<const json>(ObjectRoot(
        {{"state", {{"type", "string"}, {"enum", {"current", "adoptable", "needs_apply", "in_progress"}}}},
         {"from", Open()},
         {"to", Open()},
         {"summary", Open()},
         {"changes", {{"type", "array"}, {"items", Open()}}},
         {"references", Open()},
         {"transform_failures", Open()},
         {"invalid_even_with_yes", Open()},
         {"invalid_under_new_schema", Open()},
         {"needs_yes", {{"type", "boolean"}}},
         {"can_apply", {{"type", "boolean"}}},
         {"blocked_by", {{"type", "array"}, {"items", {{"type", "string"}}}}},
         {"from_version", {{"type", "string"}}},
         {"to_version", {{"type", "string"}}},
         {"rewrites", {{"type", "boolean"}}}},
        {"state", "from", "to", "changes", "references", "needs_yes", "can_apply", "blocked_by"}));
    r.http = {"GET", "/v1/migrate/plan",
              {HttpParam{"limit", HttpSource::kQuery, "limit", HttpForm::kValue, {}},
               HttpParam{"change", HttpSource::kQuery, "change", HttpForm::kValue, {}},
               HttpParam{"offset", HttpSource::kQuery, "offset", HttpForm::kValue, {}}},
              200, "", "", false, false};
    r.handler = [migrations, none](const Call& call) -> Result<json> {
      if (migrations == nullptr) return none();
      return migrations->Plan(call.input ? *call.input : json::object());
    };
    BVER_ASSIGN_OR_RETURN(OperationRow done, CompileRow(std::move(r)));
    rows.push_back(std::move(done));
  }
  {
    OperationRow r;
    r.id = "migrate.apply";
    r.kind = domain::OperationKind::kModule;
    r.summary = "Apply the store's migration to the current domain";
    r.description =
        "Migrates every stored reference whose body or kind changes (a new version of change type migrated, "
        "with its diff, event and ledger entry naming both manifests), in batches that resume where a killed "
        "apply stopped, after a dry run and a snapshot of the store. A plan that loses data needs yes: true. "
        "docs/migrations.md.";
    r.scopes = {"admin"};
    r.destructive = true;
    r.idempotent = true;
    r.input_schema = std::make_shared<const json>(ObjectRoot(
        {{"yes", {{"type", "boolean"}, {"default", false},
                  {"description", "Accept the data loss the plan's sweep lists."}}},
         {"backup", {{"type", "boolean"}, {"default", true},
                     {"description", "Snapshot the store first (SQLite); false only when backed up otherwise."}}},
         {"batch", {{"type", "integer"}, {"minimum", 1}, {"maximum", 10000}, {"default", 500}}}}));
    r.output_schema = std::make_shared<const json>(ObjectRoot(
        {{"state", {{"type", "string"}, {"enum", {"current", "migrated"}}}},
         {"from", Open()},
         {"to", Open()},
         {"examined", {{"type", "integer"}}},
         {"migrated", {{"type", "integer"}}},
         {"migrated_this_run", {{"type", "integer"}}},
         {"batches", {{"type", "integer"}}},
         {"resumed", {{"type", "boolean"}}},
         {"backup", {{"type", "string"}}},
         {"seconds", {{"type", "number"}}}},
        {"state", "examined", "migrated"}));
    // No route of its own: POST /v1/ops/migrate.apply with {yes, backup, batch}.
    r.handler = [migrations, none](const Call& call) -> Result<json> {
      if (migrations == nullptr) return none();
      std::string actor = call.principal.subject.empty() ? "anonymous" : call.principal.subject;
      return migrations->Apply(call.input ? *call.input : json::object(), actor, call.correlation_id);
    };
    BVER_ASSIGN_OR_RETURN(OperationRow done, CompileRow(std::move(r)));
    rows.push_back(std::move(done));
  }
  return rows;
}

}  // namespace bver::runtime::internal
