#include "src/runtime/operations.h"

#include <algorithm>
#include <map>

#include <nlohmann/json.hpp>

#include "src/runtime/handlers.h"
#include "src/runtime/ingest_ops.h"
#include "src/runtime/key_ops.h"
#include "src/runtime/migrate_ops.h"
#include "src/runtime/schema_ops.h"
#include "src/runtime/job_ops.h"
#include "src/runtime/trigger_ops.h"
#include "src/runtime/op_schemas.h"
#include "src/runtime/orch_ops.h"
#include "src/runtime/subscription_ops.h"
#include "src/schema/validator.h"

namespace bver::runtime {
namespace {

using nlohmann::json;
using domain::OperationKind;

HttpParam Path(std::string field, std::string name = "") {
  if (name.empty()) name = field;
  return {std::move(field), HttpSource::kPath, std::move(name), HttpForm::kValue, {}};
}
HttpParam Query(std::string field) {
  std::string name = field;
  return {std::move(field), HttpSource::kQuery, std::move(name), HttpForm::kValue, {}};
}
HttpParam Header(std::string field, std::string name, HttpForm form = HttpForm::kValue) {
  return {std::move(field), HttpSource::kHeader, std::move(name), form, {}};
}
HttpParam Body(std::string field, std::vector<std::string> media_types) {
  return {std::move(field), HttpSource::kBody, "", HttpForm::kValue, std::move(media_types)};
}

// The REST route of each operation (docs/operations.md lists them).
HttpBinding HttpFor(const domain::Operation& op, const domain::Repo* repo) {
  HttpBinding h;
  std::string coll = repo ? "/v1/refs/" + repo->ns + "/" + repo->name : "";
  std::string item = coll + "/{id}";
  const HttpParam idem = Header("idempotency_key", "Idempotency-Key");
  const HttpParam if_match = Header("expected_version", "If-Match", HttpForm::kIfMatchVersion);
  switch (op.kind) {
    case OperationKind::kRefCreate:
      h = {"POST", coll, {Query("kind"), Query("id"), idem, Body("body", {"application/json"})}, 201, "version",
           item, false, false};
      break;
    case OperationKind::kRefGet:
      h = {"GET", item, {Path("id")}, 200, "version", "", false, false};
      break;
    case OperationKind::kRefPatch:
      h = {"PATCH",
           item,
           {Path("id"), if_match, idem, Body("merge", {"application/merge-patch+json", "application/json"}),
            Body("json_patch", {"application/json-patch+json"})},
           200,
           "version",
           "",
           false,
           false};
      break;
    case OperationKind::kRefReplace:
      h = {"PUT", item, {Path("id"), if_match, idem, Body("body", {"application/json"})}, 200, "version", "", false,
           false};
      break;
    case OperationKind::kRefDelete:
      h = {"DELETE", item, {Path("id"), if_match, idem}, 200, "version", "", false, false};
      break;
    case OperationKind::kRefList:
      h = {"GET", coll, {Query("kind"), Query("where"), Query("cursor"), Query("limit"), Query("include_deleted")},
           200, "", "", false, false};
      break;
    case OperationKind::kRefHistory:
      h = {"GET", item + "/history", {Path("id")}, 200, "", "", false, false};
      break;
    case OperationKind::kRefVersion:
      h = {"GET", item + "/versions/{version}", {Path("id"), Path("version")}, 200, "version", "", false, false};
      break;
    case OperationKind::kRefDiff:
      h = {"GET", item + "/diff", {Path("id"), Query("from"), Query("to")}, 200, "", "", false, false};
      break;
    case OperationKind::kResolve:
      h = {"GET", "/v1/resolve", {Query("pointer")}, 200, "", "", false, false};
      break;
    case OperationKind::kEventsRead:
      h = {"GET", "/v1/events",
           {Query("from"), Query("limit"), Query("channels"), Query("event_types"), Query("pointer_prefix"),
            Query("wait_ms")},
           200, "", "", false, false};
      break;
    case OperationKind::kLedgerVerify:
      h = {"GET", "/v1/ledger/verify", {}, 200, "", "", false, false};
      break;
    case OperationKind::kArtifactPut:
      h = {"PUT", "/v1/artifacts", {}, 201, "digest", "/v1/artifacts/{digest}", true, false};
      break;
    case OperationKind::kArtifactGet:
      h = {"GET", "/v1/artifacts/{digest}", {Path("digest")}, 200, "digest", "", false, true};
      break;
    default:
      break;
  }
  return h;
}

std::string DescriptionFor(const domain::Operation& op, const domain::Repo* repo) {
  std::string repo_note;
  if (repo != nullptr) {
    repo_note = " Repo " + repo->qualified_name() + (repo->description.empty() ? "" : ": " + repo->description);
    if (!repo->kinds.empty()) {
      repo_note += " Kinds:";
      for (const domain::Kind& k : repo->kinds) repo_note += " " + k.name + (&k == &repo->kinds.back() ? "." : ",");
    }
  }
  switch (op.kind) {
    case OperationKind::kRefCreate:
      return op.summary + "." + repo_note +
             " Writes version 1 with its event and ledger entry; answers the new reference.";
    case OperationKind::kRefGet:
      return op.summary + "." + repo_note + " Address it by id or by pointer.";
    case OperationKind::kRefPatch:
      return op.summary + "." + repo_note +
             " Give exactly one of merge and json_patch; expected_version makes it conditional.";
    case OperationKind::kRefReplace:
    case OperationKind::kRefDelete:
      return op.summary + "." + repo_note + " expected_version makes it conditional.";
    case OperationKind::kRefList:
      return op.summary + "." + repo_note + " Pages in id order; follow next_cursor.";
    case OperationKind::kResolve:
      return "Resolve any pointer, bver://ns/repo/id[~N][@path], to its value: a whole body or one attribute, "
             "of the latest or of version N. Needs the read scope of the pointer's repo.";
    default:
      return op.summary + "." + repo_note;
  }
}

}  // namespace

OperationTable::~OperationTable() = default;

namespace {

Result<std::function<std::vector<Violation>(const json&)>> BodyCheck(const domain::Repo& repo) {
  // The validators the store uses too (domain::Repo::BodyValidator).
  BVER_ASSIGN_OR_RETURN(auto base, repo.BodyValidator(""));
  std::map<std::string, std::shared_ptr<const schema::Validator>> by_kind;
  for (const domain::Kind& k : repo.kinds) {
    BVER_ASSIGN_OR_RETURN(by_kind[k.name], repo.BodyValidator(k.name));
  }
  const domain::Repo* r = &repo;  // the platform outlives the table
  return std::function<std::vector<Violation>(const json&)>(
      [r, base, by_kind](const json& input) -> std::vector<Violation> {
        auto body = input.find("body");
        if (body == input.end() || !body->is_object()) return {};  // the input schema reports it
        std::shared_ptr<const schema::Validator> v = base;
        if (auto kind = input.find("kind"); kind != input.end()) {
          if (!kind->is_string()) return {};
          auto it = by_kind.find(kind->get<std::string>());
          if (it == by_kind.end()) return {};  // the input schema's kind enum reports it
          v = it->second;
        } else if (r->kind_required) {
          return {};  // the input schema's required kind reports it
        }
        return domain::AtBody(v->Validate(r->WithDefaults(*body)).violations());
      });
}

}  // namespace

std::vector<Violation> CheckInput(const OperationRow& row, const json& input) {
  std::vector<Violation> out = row.input_validator->Validate(input).violations();
  if (row.check_body) {
    std::vector<Violation> body = row.check_body(input);
    out.insert(out.end(), body.begin(), body.end());
  }
  return out;
}

Result<std::unique_ptr<OperationTable>> OperationTable::Build(std::shared_ptr<const domain::Platform> platform,
                                                              Bindings bindings) {
  std::unique_ptr<OperationTable> t(new OperationTable());
  for (const domain::Operation& op : platform->operations) {
    bool job_op = false;
    bool orch_op = false;
    switch (op.kind) {
      case OperationKind::kJobStart:
      case OperationKind::kJobStatus:
      case OperationKind::kJobCancel:
        job_op = true;
        break;
      case OperationKind::kOrchStart:
      case OperationKind::kOrchGet:
      case OperationKind::kOrchCancel:
        if (bindings.orchestrators == nullptr) continue;  // no engine: no rows
        orch_op = true;
        break;
      default:
        break;
    }
    const domain::Repo* repo = nullptr;
    if (!op.target.empty() && !job_op && !orch_op) {
      repo = platform->FindRepo(op.target);
      if (repo == nullptr) return InternalError("operation " + op.id + " names unknown repo " + op.target);
    }
    OperationRow row;
    row.id = op.id;
    row.kind = op.kind;
    row.summary = op.summary;
    row.description = job_op    ? internal::JobDescription(op, *platform)
                      : orch_op ? internal::OrchDescription(op, *platform)
                                : DescriptionFor(op, repo);
    row.target = op.target;
    row.scopes = op.scopes;
    if (op.kind == OperationKind::kResolve) row.scope_from_pointer = "pointer";
    row.read_only = op.read_only;
    row.destructive = op.destructive;
    row.idempotent = op.idempotent;
    if (job_op) {
      Result<json> in = internal::JobInputSchema(op, *platform);
      if (!in.ok()) return InternalError(in.status().message());
      row.input_schema = std::make_shared<const json>(std::move(in).value());
      row.output_schema = std::make_shared<const json>(internal::JobOutputSchema(op));
    } else if (orch_op) {
      Result<json> in = internal::OrchInputSchema(op, *platform);
      if (!in.ok()) return InternalError(in.status().message());
      row.input_schema = std::make_shared<const json>(std::move(in).value());
      row.output_schema = std::make_shared<const json>(internal::OrchOutputSchema(op));
    } else {
      row.input_schema = std::make_shared<const json>(internal::InputSchema(op, repo));
      row.output_schema = std::make_shared<const json>(internal::OutputSchema(op, repo));
    }
    // One pass over a body: a create or replace row publishes the body's
    // schema (OpenAPI, MCP, SDKs) but checks only that it is an object; the
    // store checks it against the repo and kind with its compiled validator,
    // the one every writer goes through.
    JsonPtr checked_input = row.input_schema;
    // (A replace's body is checked by the store alone: its kind is the
    // stored reference's, which the input does not say.)
    if (op.kind == OperationKind::kRefCreate || op.kind == OperationKind::kRefReplace) {
      json loose = *row.input_schema;
      loose["properties"]["body"] = {{"type", "object"}};
      loose.erase("allOf");
      loose.erase("$defs");
      checked_input = std::make_shared<const json>(std::move(loose));
    }
    // An answer's bodies are not checked again either: the store checked
    // each when it was written, and a version written before the domain
    // changed keeps the shape it had (it is answered as stored, not made to
    // fit today's schema). The rest of the answer is checked.
    JsonPtr checked_output = row.output_schema;
    if (row.output_schema->contains("allOf") ||
        (row.output_schema->contains("$defs") && (*row.output_schema)["$defs"].contains("reference"))) {
      json loose = *row.output_schema;
      loose.erase("allOf");
      if (loose.contains("$defs") && loose["$defs"].contains("reference")) loose["$defs"]["reference"].erase("allOf");
      checked_output = std::make_shared<const json>(std::move(loose));
    }
    for (auto [schema, validator, what] :
         {std::tuple{checked_input, &row.input_validator, "input"},
          std::tuple{checked_output, &row.output_validator, "output"}}) {
      Result<std::unique_ptr<schema::Validator>> v = schema::Validator::Compile(*schema);
      if (!v.ok()) {
        return InternalError("the " + std::string(what) + " schema of " + op.id +
                             " does not compile: " + v.status().ToString());
      }
      *validator = std::shared_ptr<const schema::Validator>(std::move(v).value());
    }
    if (op.kind == OperationKind::kRefCreate) {
      BVER_ASSIGN_OR_RETURN(row.check_body, BodyCheck(*repo));
    }
    row.http = job_op ? internal::JobHttp(op) : orch_op ? internal::OrchHttp(op) : HttpFor(op, repo);
    row.handler = job_op    ? internal::MakeJobHandler(op, bindings)
                  : orch_op ? internal::MakeOrchHandler(op, bindings)
                            : internal::MakeHandler(op, repo, bindings);
    t->index_.emplace(row.id, t->rows_.size());
    t->rows_.push_back(std::move(row));
  }
  // The kernel modules' own rows (runtime-only: no bver.yaml declares them).
  // Without its service a family is left out, unless the table only
  // declares (bver compile, the manifest): then its rows answer
  // FailedPrecondition.
  auto add_family = [&](bool bound, const char* module, Result<std::vector<OperationRow>> rows) -> Status {
    if (!rows.ok()) return rows.status();
    for (OperationRow& row : *rows) {
      if (!bound) {
        row.handler = [module](const Call&) -> Result<json> {
          return FailedPreconditionError(std::string("this runtime runs no ") + module);
        };
      }
      t->index_.emplace(row.id, t->rows_.size());
      t->rows_.push_back(std::move(row));
    }
    return Status::Ok();
  };
  const bool all = bindings.declare_every_row;
  if (bindings.jobs != nullptr || all) {
    BVER_RETURN_IF_ERROR(add_family(bindings.jobs != nullptr, "job engine", internal::JobListRows(bindings.jobs)));
  }
  if (bindings.ingest != nullptr || all) {
    BVER_RETURN_IF_ERROR(add_family(bindings.ingest != nullptr, "ingestion gate", internal::IngestRows(bindings.ingest)));
  }
  if (bindings.subscriptions != nullptr || all) {
    BVER_RETURN_IF_ERROR(add_family(bindings.subscriptions != nullptr, "event consumers",
                                    internal::SubscriptionRows(bindings.subscriptions)));
  }
  if (bindings.orchestrators != nullptr || all) {
    BVER_RETURN_IF_ERROR(add_family(bindings.orchestrators != nullptr, "orchestrator engine",
                                    internal::OrchListRows(bindings.orchestrators)));
  }
  if (bindings.triggers != nullptr || all) {
    BVER_RETURN_IF_ERROR(
        add_family(bindings.triggers != nullptr, "trigger processor", internal::TriggerRows(bindings.triggers)));
  }
  if (bindings.schemas != nullptr || all) {
    BVER_RETURN_IF_ERROR(add_family(bindings.schemas != nullptr, "payload schema registry",
                                    internal::SchemaRows(bindings.schemas)));
  }
  if (bindings.migrations != nullptr || all) {
    BVER_RETURN_IF_ERROR(add_family(bindings.migrations != nullptr, "store to migrate",
                                    internal::MigrateRows(bindings.migrations)));
  }
  t->platform_ = std::move(platform);
  if (bindings.keys != nullptr || all) {
    // Last: keys.create accepts the scopes of every row above (and admin).
    BVER_RETURN_IF_ERROR(add_family(bindings.keys != nullptr, "key table", internal::KeyRows(bindings.keys, t->AllScopes())));
  }
  return t;
}

const OperationRow* OperationTable::Find(std::string_view id) const {
  auto it = index_.find(id);
  return it == index_.end() ? nullptr : &rows_[it->second];
}

Status OperationTable::ReplaceHandlerForTest(std::string_view id, Handler handler) {
  auto it = index_.find(id);
  if (it == index_.end()) return NotFoundError("no operation " + std::string(id));
  rows_[it->second].handler = std::move(handler);
  return Status::Ok();
}

std::vector<std::string> OperationTable::AllScopes() const {
  std::vector<std::string> out = {"admin"};
  for (const OperationRow& r : rows_) out.insert(out.end(), r.scopes.begin(), r.scopes.end());
  for (const domain::Repo& r : platform_->repos) out.push_back(r.read_scope);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace bver::runtime
