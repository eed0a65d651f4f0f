#include "src/runtime/key_ops.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "src/runtime/ingest_ops.h"

namespace bver::runtime::internal {
namespace {

using nlohmann::json;

json KeyInfoSchema(bool with_secret) {
  json props = {{"id", {{"type", "string"}}},
                {"name", {{"type", "string"}}},
                {"scopes", {{"type", "array"}, {"items", {{"type", "string"}}}}},
                {"created_at", {{"type", "string"}, {"format", "date-time"}}},
                {"active", {{"type", "boolean"}}},
                {"revoked_at", {{"type", "string"}, {"format", "date-time"}}}};
  std::vector<std::string> required = {"id", "name", "scopes", "created_at", "active"};
  if (with_secret) {
    props["key"] = {{"type", "string"}, {"description", "The secret, shown in this answer only."}};
    required.push_back("key");
  }
  return {{"type", "object"}, {"properties", props}, {"required", required}, {"additionalProperties", false}};
}

}  // namespace

Result<std::vector<OperationRow>> KeyRows(KeyService* keys, std::vector<std::string> known) {
  std::vector<OperationRow> rows;
  auto none = []() { return FailedPreconditionError("this runtime has no key table"); };
  {
    OperationRow r;
    r.id = "keys.create";
    r.kind = domain::OperationKind::kModule;
    r.summary = "Create an API key";
    r.description = "A new API key with these scopes (admin: everything); the secret is in this answer only. "
                    "Scopes must be the platform's, so a typo fails now.";
    r.scopes = {"admin"};
    r.input_schema = std::make_shared<const json>(ObjectRoot(
        {{"name", {{"type", "string"}, {"maxLength", 200}, {"description", "Who or what uses the key."}}},
         {"scopes", {{"type", "array"}, {"minItems", 1}, {"items", {{"type", "string"}, {"minLength", 1}}}}}},
        {"scopes"}));
    json out = KeyInfoSchema(true);
    out["$schema"] = "https://json-schema.org/draft/2020-12/schema";
    r.output_schema = std::make_shared<const json>(out);
    // No route of its own: POST /v1/ops/keys.create with {name, scopes}.
    r.handler = [keys, known, none](const Call& call) -> Result<json> {
      if (keys == nullptr) return none();
      const json& in = *call.input;
      std::vector<std::string> scopes = in.at("scopes").get<std::vector<std::string>>();
      std::vector<Violation> unknown;
      for (std::size_t i = 0; i < scopes.size(); ++i) {
        if (std::find(known.begin(), known.end(), scopes[i]) == known.end()) {
          unknown.push_back({"scopes[" + std::to_string(i) + "]", "scope", "\"" + scopes[i] + "\" is not a scope of this platform"});
        }
      }
      if (!unknown.empty()) {
        std::string all;
        for (const std::string& s : known) all += (all.empty() ? "" : ",") + s;
        return InvalidArgumentError("unknown scope(s); the platform's scopes are: " + all, unknown);
      }
      return keys->CreateKey(in.value("name", ""), scopes);
    };
    BVER_ASSIGN_OR_RETURN(OperationRow done, CompileRow(std::move(r)));
    rows.push_back(std::move(done));
  }
  {
    OperationRow r;
    r.id = "keys.list";
    r.kind = domain::OperationKind::kModule;
    r.summary = "List API keys";
    r.description = "Every API key with its scopes and state; never a secret.";
    r.scopes = {"admin"};
    r.read_only = true;
    r.idempotent = true;
    r.input_schema = std::make_shared<const json>(ObjectRoot(json::object()));
    r.output_schema = std::make_shared<const json>(
        ObjectRoot({{"keys", {{"type", "array"}, {"items", KeyInfoSchema(false)}}}}, {"keys"}));
    r.http = {"GET", "/v1/keys", {}, 200, "", "", false, false};
    r.handler = [keys, none](const Call&) -> Result<json> {
      if (keys == nullptr) return none();
      return keys->ListKeys();
    };
    BVER_ASSIGN_OR_RETURN(OperationRow done, CompileRow(std::move(r)));
    rows.push_back(std::move(done));
  }
  {
    OperationRow r;
    r.id = "keys.revoke";
    r.kind = domain::OperationKind::kModule;
    r.summary = "Revoke an API key";
    r.description = "The key stops working within a second; it stays listed as revoked.";
    r.scopes = {"admin"};
    r.destructive = true;
    r.idempotent = true;
    r.input_schema = std::make_shared<const json>(
        ObjectRoot({{"id", {{"type", "string"}, {"minLength", 1}, {"description", "The key's id, or the key itself."}}}},
                   {"id"}));
    r.output_schema = std::make_shared<const json>(
        ObjectRoot({{"id", {{"type", "string"}}}, {"revoked", {{"const", true}}}}, {"id", "revoked"}));
    r.http = {"POST", "/v1/keys/{id}/revoke", {HttpParam{"id", HttpSource::kPath, "id", HttpForm::kValue, {}}}, 200,
              "", "", false, false};
    r.handler = [keys, none](const Call& call) -> Result<json> {
      if (keys == nullptr) return none();
      return keys->RevokeKey(call.input->value("id", ""));
    };
    BVER_ASSIGN_OR_RETURN(OperationRow done, CompileRow(std::move(r)));
    rows.push_back(std::move(done));
  }
  return rows;
}

}  // namespace bver::runtime::internal
