#include "src/runtime/op_schemas.h"

#include "src/domain/schema_walk.h"

namespace bver::runtime::internal {
namespace {

using nlohmann::json;
using domain::OperationKind;

constexpr const char* kDialect = "https://json-schema.org/draft/2020-12/schema";
constexpr const char* kIdPattern = "^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$";

// Keys whose values are data, not schemas: never rewritten.
bool IsDataKey(const std::string& k) {
  return k == "enum" || k == "const" || k == "default" || k == "examples" || k.rfind("x-", 0) == 0;
}

std::string JsonPointerEscape(const std::string& key) {
  std::string out;
  for (char c : key) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

void Rewrite(json& s, const std::string& prefix, const std::string& root_id) {
  if (s.is_array()) {
    for (json& e : s) Rewrite(e, prefix, root_id);
    return;
  }
  if (!s.is_object()) return;
  for (auto it = s.begin(); it != s.end(); ++it) {
    const std::string& k = it.key();
    if (IsDataKey(k)) continue;
    if (k == "$ref" && it->is_string()) {
      std::string ref = it->get<std::string>();
      if (!root_id.empty() && ref.rfind(root_id, 0) == 0) ref = ref.substr(root_id.size());
      if (ref.empty() || ref == "#") {
        *it = prefix;
      } else if (ref.rfind("#/", 0) == 0) {
        *it = prefix + ref.substr(1);
      }
      continue;
    }
    Rewrite(*it, prefix, root_id);
  }
}

json Obj(json properties, std::vector<std::string> required = {}) {
  json s = {{"type", "object"}, {"properties", std::move(properties)}, {"additionalProperties", false}};
  if (!required.empty()) s["required"] = std::move(required);
  return s;
}

json With(json a, const json& b) {
  a.update(b);
  return a;
}

json Str(const std::string& description) { return {{"type", "string"}, {"description", description}}; }
json Int(const std::string& description, int minimum) {
  json s = {{"type", "integer"}, {"minimum", minimum}};
  if (!description.empty()) s["description"] = description;
  return s;
}
json Bool(const std::string& description) { return {{"type", "boolean"}, {"description", description}}; }

json IdSchema() {
  return {{"type", "string"}, {"pattern", kIdPattern}, {"description", "The reference's id within its repo."}};
}
json RefPointerSchema(const domain::Repo& r) {
  return {{"type", "string"},
          {"pattern", domain::PointerPattern(r.qualified_name())},
          {"description", "The reference as a pointer, bver://" + r.qualified_name() +
                              "/{id} (an alternative to id)."}};
}
json TimestampSchema(const std::string& description) {
  return {{"type", "string"}, {"format", "date-time"}, {"description", description}};
}
json ExpectedVersionSchema() {
  return Int("Optimistic concurrency: apply only if the latest version is this one (HTTP: If-Match).", 1);
}
json IdempotencyKeySchema() {
  return {{"type", "string"},
          {"minLength", 1},
          {"maxLength", 200},
          {"description", "Repeat-safe key: the same key with the same request returns the first result "
                          "(HTTP: Idempotency-Key)."}};
}

std::string Ref(const std::string& key) { return "#/$defs/" + JsonPointerEscape(key); }
std::string KindKey(const std::string& kind) { return "body:" + kind; }

// The repo's body schemas under $defs: "body" and "body:<kind>".
json BodyDefs(const domain::Repo& r) {
  json defs = json::object();
  defs["body"] = EmbedAt(*r.schema, "body");
  for (const domain::Kind& k : r.kinds) defs[KindKey(k.name)] = EmbedAt(*k.effective_schema, KindKey(k.name));
  return defs;
}

json KindEnum(const domain::Repo& r, bool with_null) {
  json e = json::array();
  if (with_null) e.push_back(nullptr);
  for (const domain::Kind& k : r.kinds) e.push_back(k.name);
  return e;
}

// allOf entries choosing the body schema by the value of `kind`. For a
// create input the base applies when kind is absent; for an output it
// applies to kind null, and only to bodies that are not tombstones.
json BodyByKind(const domain::Repo& r, bool output) {
  json all = json::array();
  auto live = [&](json cond) {
    if (output) cond["properties"]["deleted"] = {{"const", false}};
    return cond;
  };
  for (const domain::Kind& k : r.kinds) {
    all.push_back({{"if", live({{"properties", {{"kind", {{"const", k.name}}}}}, {"required", {"kind"}}})},
                   {"then", {{"properties", {{"body", {{"$ref", Ref(KindKey(k.name))}}}}}}}});
  }
  if (!r.kind_required) {
    json cond = output ? live({{"properties", {{"kind", {{"type", "null"}}}}}})
                       : json{{"not", {{"required", {"kind"}}}}};
    all.push_back({{"if", cond}, {"then", {{"properties", {{"body", {{"$ref", Ref("body")}}}}}}}});
  }
  return all;
}

// Any body the repo can hold (base or some kind): for replace, whose kind
// is the stored reference's.
json AnyBody(const domain::Repo& r) {
  if (r.kinds.empty()) return {{"$ref", Ref("body")}};
  json any = json::array();
  if (!r.kind_required) any.push_back({{"$ref", Ref("body")}});
  for (const domain::Kind& k : r.kinds) any.push_back({{"$ref", Ref(KindKey(k.name))}});
  return {{"anyOf", any},
          {"description", "The new body; it must be valid for the reference's kind, which does not change."}};
}

// The output form of a reference. `precise`: the body is checked against
// the schema of its kind (current data); otherwise any object (history).
json ReferenceSchema(const domain::Repo& r, bool precise, bool with_body = true) {
  json props = {
      {"pointer", {{"type", "string"}, {"description", "The reference at this version: bver://ns/repo/id~N."}}},
      {"ns", {{"const", r.ns}}},
      {"repo", {{"const", r.name}}},
      {"id", IdSchema()},
      {"version", Int("This version's number (1 for the first).", 1)},
      {"kind", {{"enum", KindEnum(r, true)}, {"description", "The reference's kind, or null."}}},
      {"deleted", Bool("True for the tombstone version a delete writes.")},
      {"created_at", TimestampSchema("When version 1 was committed (UTC).")},
      {"updated_at", TimestampSchema("When this version was committed (UTC).")},
      {"provenance", {{"type", "object"}, {"description", "Who made this version (job, capability, inputs)."}}},
  };
  std::vector<std::string> required = {"pointer", "ns",      "repo",       "id",
                                       "version", "kind",    "deleted",    "created_at",
                                       "updated_at"};
  if (with_body) {
    props["body"] = {{"type", "object"}, {"description", "The reference's body at this version."}};
    required.push_back("body");
  }
  json s = Obj(props, required);
  if (with_body && precise) {
    json all = BodyByKind(r, /*output=*/true);
    if (!all.empty()) s["allOf"] = all;
  }
  return s;
}

json TargetProps(const domain::Repo& r) { return {{"id", IdSchema()}, {"pointer", RefPointerSchema(r)}}; }
json OneTarget() { return {{"oneOf", {{{"required", {"id"}}}, {{"required", {"pointer"}}}}}}; }

json WithRoot(json s, json defs = json::object()) {
  json out = {{"$schema", kDialect}};
  for (auto it = s.begin(); it != s.end(); ++it) out[it.key()] = it.value();
  if (!defs.empty()) out["$defs"] = std::move(defs);
  return out;
}

json JsonPatchSchema() {
  json op = {{"type", "object"},
             {"required", {"op", "path"}},
             {"properties",
              {{"op", {{"enum", {"add", "remove", "replace", "move", "copy", "test"}}}},
               {"path", {{"type", "string"}}},
               {"from", {{"type", "string"}}},
               {"value", json::object()}}}};
  return {{"type", "array"}, {"items", op}, {"description", "An RFC 6902 JSON Patch (HTTP: application/json-patch+json)."}};
}

json EventSchema() {
  json props = {{"offset", Int("Position in the log.", 1)},
                {"event_id", {{"type", "string"}}},
                {"envelope_version", {{"type", "integer"}}},
                {"event_type", {{"type", "string"}}},
                {"channel", {{"type", "string"}}},
                {"ts_utc", {{"type", "string"}}},
                {"object_pointer", {{"type", "string"}}},
                {"correlation_id", {{"type", "string"}}}};
  return {{"type", "object"},
          {"properties", props},
          {"required", {"offset", "event_id", "event_type", "channel", "ts_utc"}},
          {"description", "An event in the canonical envelope (BVER.md §6)."}};
}

json DigestSchema() {
  return {{"type", "string"},
          {"pattern", "^(sha256:)?[0-9a-fA-F]{64}$"},
          {"description", "The artifact's SHA-256: sha256:<64 hex>."}};
}

}  // namespace

json EmbedAt(const json& schema, const std::string& key) {
  json s = schema;
  std::string root_id;
  if (s.is_object()) {
    s.erase("$schema");
    if (auto it = s.find("$id"); it != s.end() && it->is_string()) {
      root_id = it->get<std::string>();
      if (!root_id.empty() && root_id.back() == '#') root_id.pop_back();
      s.erase(it);
    }
  }
  Rewrite(s, Ref(key), root_id);
  return s;
}

json InputSchema(const domain::Operation& op, const domain::Repo* repo) {
  switch (op.kind) {
    case OperationKind::kRefCreate: {
      const domain::Repo& r = *repo;
      json props = {{"id", {{"type", "string"},
                            {"pattern", kIdPattern},
                            {"description", "The new reference's id (default: a new UUIDv7)."}}},
                    {"body", {{"type", "object"}, {"description", "The body, valid for the repo (and kind) schema."}}},
                    {"idempotency_key", IdempotencyKeySchema()}};
      std::vector<std::string> required = {"body"};
      if (!r.kinds.empty()) {
        props["kind"] = {{"enum", KindEnum(r, false)},
                         {"description", r.kind_required ? "The reference's kind (required)."
                                                         : "The reference's kind (optional)."}};
        if (r.kind_required) required.push_back("kind");
      }
      json s = Obj(props, required);
      if (r.kinds.empty()) {
        s["properties"]["body"] = {{"$ref", Ref("body")}};
      } else {
        s["allOf"] = BodyByKind(r, /*output=*/false);
      }
      return WithRoot(s, BodyDefs(r));
    }
    case OperationKind::kRefGet:
    case OperationKind::kRefHistory:
      return WithRoot(With(Obj(TargetProps(*repo)), OneTarget()));
    case OperationKind::kRefPatch: {
      json props = TargetProps(*repo);
      props["merge"] = {{"type", "object"},
                        {"description", "An RFC 7386 merge patch (HTTP: application/merge-patch+json)."}};
      props["json_patch"] = JsonPatchSchema();
      props["expected_version"] = ExpectedVersionSchema();
      props["idempotency_key"] = IdempotencyKeySchema();
      json s = Obj(props);
      s["allOf"] = {OneTarget(), {{"oneOf", {{{"required", {"merge"}}}, {{"required", {"json_patch"}}}}}}};
      return WithRoot(s);
    }
    case OperationKind::kRefReplace: {
      json props = TargetProps(*repo);
      props["body"] = AnyBody(*repo);
      props["expected_version"] = ExpectedVersionSchema();
      props["idempotency_key"] = IdempotencyKeySchema();
      return WithRoot(With(Obj(props, {"body"}), OneTarget()), BodyDefs(*repo));
    }
    case OperationKind::kRefDelete: {
      json props = TargetProps(*repo);
      props["expected_version"] = ExpectedVersionSchema();
      props["idempotency_key"] = IdempotencyKeySchema();
      return WithRoot(With(Obj(props), OneTarget()));
    }
    case OperationKind::kRefList: {
      json props = {
          {"where", {{"type", "array"},
                     {"items", {{"type", "string"}, {"minLength", 1}}},
                     {"maxItems", 20},
                     {"description", "Filters, all of which must hold: PATH=V, PATH!=V, PATH<V, PATH<=V, PATH>V, "
                                     "PATH>=V, PATH (present), !PATH (absent); V is JSON, else a string."}}},
          {"cursor", Str("Continue after this cursor (next_cursor of the previous page).")},
          {"limit", {{"type", "integer"}, {"minimum", 1}, {"maximum", 1000}, {"default", 100},
                     {"description", "Page size."}}},
          {"include_deleted", Bool("Include deleted references (their tombstones).")}};
      if (!repo->kinds.empty()) props["kind"] = {{"enum", KindEnum(*repo, false)}, {"description", "Only this kind."}};
      return WithRoot(Obj(props));
    }
    case OperationKind::kRefVersion: {
      json props = TargetProps(*repo);
      props["version"] = Int("The version to read.", 1);
      return WithRoot(With(Obj(props, {"version"}), OneTarget()));
    }
    case OperationKind::kRefDiff: {
      json props = TargetProps(*repo);
      props["from"] = Int("The older version.", 1);
      props["to"] = Int("The newer version.", 1);
      return WithRoot(With(Obj(props, {"from", "to"}), OneTarget()));
    }
    case OperationKind::kResolve:
      return WithRoot(Obj({{"pointer", {{"type", "string"},
                                        {"pattern", "^bver://"},
                                        {"maxLength", 4096},
                                        {"description", "Any pointer: bver://ns/repo/id[~N][@path]."}}}},
                          {"pointer"}));
    case OperationKind::kEventsRead: {
      json strings = {{"type", "array"}, {"items", {{"type", "string"}, {"minLength", 1}}}};
      return WithRoot(Obj(
          {{"from", {{"type", "integer"}, {"minimum", 0}, {"default", 1},
                     {"description", "First offset to read; 0: only events committed after the call."}}},
           {"limit", {{"type", "integer"}, {"minimum", 1}, {"maximum", 1000}, {"default", 100},
                      {"description", "At most this many events."}}},
           {"channels", strings},
           {"event_types",
            {{"type", "array"},
             {"items", {{"type", "string"}, {"minLength", 1}}},
             {"description", "Exact types, or a prefix ending in \".*\" (\"ref.*\")."}}},
           {"pointer_prefix", Str("Only events whose object_pointer starts with this.")},
           {"wait_ms", {{"type", "integer"}, {"minimum", 0}, {"maximum", 60000}, {"default", 0},
                        {"description", "Wait this long for the first event when none is there yet."}}}}));
    }
    case OperationKind::kLedgerVerify:
      return WithRoot(Obj(json::object()));
    case OperationKind::kArtifactPut:
      return WithRoot(Obj({{"content_base64", {{"type", "string"},
                                               {"contentEncoding", "base64"},
                                               {"description", "The content, base64 (at most 4 MiB decoded; "
                                                               "larger files: the streaming route)."}}}},
                          {"content_base64"}));
    case OperationKind::kArtifactGet:
      return WithRoot(Obj({{"digest", DigestSchema()},
                           {"include_content", Bool("Also return the content, base64 (at most 4 MiB).")}},
                          {"digest"}));
    default:
      return WithRoot(Obj(json::object()));
  }
}

json OutputSchema(const domain::Operation& op, const domain::Repo* repo) {
  switch (op.kind) {
    case OperationKind::kRefCreate:
    case OperationKind::kRefGet:
    case OperationKind::kRefPatch:
    case OperationKind::kRefReplace:
      return WithRoot(ReferenceSchema(*repo, true), BodyDefs(*repo));
    case OperationKind::kRefVersion:
      return WithRoot(ReferenceSchema(*repo, false));
    case OperationKind::kRefDelete:
      return WithRoot(ReferenceSchema(*repo, false, /*with_body=*/false));
    case OperationKind::kRefList: {
      json s = Obj({{"items", {{"type", "array"}, {"items", {{"$ref", Ref("reference")}}}}},
                    {"next_cursor", Str("Present when more references follow: pass it as cursor.")}},
                   {"items"});
      json defs = BodyDefs(*repo);
      defs["reference"] = ReferenceSchema(*repo, true);
      return WithRoot(s, defs);
    }
    case OperationKind::kRefHistory: {
      json v = Obj({{"version", Int("", 1)},
                    {"change", {{"enum", {"created", "patched", "replaced", "deleted"}}}},
                    {"committed_at", TimestampSchema("When it was committed (UTC).")},
                    {"actor", Str("Who wrote it.")},
                    {"correlation_id", Str("The correlation id of the call that wrote it.")},
                    {"event_offset", Int("Its event in the log.", 1)},
                    {"provenance", {{"type", "object"}}}},
                   {"version", "change", "committed_at", "actor", "correlation_id", "event_offset"});
      return WithRoot(Obj({{"pointer", Str("The reference (unpinned).")}, {"versions", {{"type", "array"}, {"items", v}}}},
                          {"pointer", "versions"}));
    }
    case OperationKind::kRefDiff:
      return WithRoot(Obj({{"pointer", Str("The reference (unpinned).")},
                           {"from", Int("", 1)},
                           {"to", Int("", 1)},
                           {"patch", JsonPatchSchema()}},
                          {"pointer", "from", "to", "patch"}));
    case OperationKind::kResolve:
      return WithRoot(Obj({{"pointer", Str("The pointer resolved.")},
                           {"value", {{"description", "The value at the pointer: any JSON."}}}},
                          {"pointer", "value"}));
    case OperationKind::kEventsRead:
      return WithRoot(Obj({{"events", {{"type", "array"}, {"items", EventSchema()}}},
                           {"next_offset", Int("The offset to read from next (past every event scanned).", 1)},
                           {"log_end", Int("The last offset in the log when the answer was made.", 0)}},
                          {"events", "next_offset"}));
    case OperationKind::kLedgerVerify:
      return WithRoot(Obj({{"ok", Bool("True when every link of the hash chain holds.")},
                           {"entries", Int("Entries verified.", 0)},
                           {"first_broken", Int("The first bad entry (when not ok).", 1)},
                           {"problem", Str("What is wrong (when not ok).")}},
                          {"ok", "entries"}));
    case OperationKind::kArtifactPut:
      return WithRoot(Obj({{"digest", DigestSchema()},
                           {"size", Int("Bytes.", 0)},
                           {"existed", Bool("True when the store already held this content.")}},
                          {"digest", "size", "existed"}));
    case OperationKind::kArtifactGet:
      return WithRoot(Obj({{"digest", DigestSchema()},
                           {"size", Int("Bytes.", 0)},
                           {"content_base64", {{"type", "string"}, {"contentEncoding", "base64"}}}},
                          {"digest", "size"}));
    default:
      return WithRoot(Obj(json::object()));
  }
}

}  // namespace bver::runtime::internal
