#include "src/plugin/contracts.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "bver/pointer.h"
#include "src/schema/validator.h"

namespace bver::plugin {

using nlohmann::json;

namespace {

// A changeset: what a generator must, and an interpreter or simulator that
// declares `writes` may, return for the runtime to commit.
const char* kChangesetProperty = R"(
    "changeset": {
      "type": "object", "additionalProperties": false,
      "properties": {
        "creates": {"type": "array", "items": {
          "type": "object", "required": ["repo", "body"], "additionalProperties": false,
          "properties": {
            "repo": {"type": "string", "minLength": 1},
            "kind": {"type": "string", "minLength": 1},
            "id": {"type": "string", "minLength": 1},
            "body": {"type": "object"}}}},
        "patches": {"type": "array", "items": {
          "type": "object", "required": ["pointer"], "additionalProperties": false,
          "properties": {
            "pointer": {"type": "string", "pattern": "^bver://"},
            "merge": {"type": "object"},
            "patch": {"type": "array", "items": {"type": "object", "required": ["op", "path"]}}},
          "oneOf": [{"required": ["merge"]}, {"required": ["patch"]}]}},
        "deletes": {"type": "array", "items": {
          "type": "object", "required": ["pointer"], "additionalProperties": false,
          "properties": {"pointer": {"type": "string", "pattern": "^bver://"}}}}}})";

const char* kGeneratorSchema = R"({
  "type": "object", "required": ["changeset"],
  "properties": {
    "summary": {"type": "string"}, @CHANGESET@}})";

const char* kValidatorSchema = R"({
  "type": "object", "required": ["passed", "findings"],
  "properties": {
    "passed": {"type": "boolean"},
    "findings": {"type": "array", "items": {
      "type": "object", "required": ["severity", "pointer", "rule", "message"],
      "properties": {
        "severity": {"enum": ["error", "warning", "info"]},
        "pointer": {"type": "string"},
        "rule": {"type": "string", "minLength": 1},
        "message": {"type": "string"}}}}}})";

const char* kInterpreterSchema = R"({
  "type": "object", "required": ["proposed"],
  "properties": {"proposed": {"type": "array"}, @CHANGESET@}})";

const char* kResolverSchema = R"({
  "type": "object", "required": ["pointers"],
  "properties": {"pointers": {"type": "array", "items": {"type": "string", "pattern": "^bver://"}}}})";

const char* kSimulatorSchema = R"({
  "type": "object", "required": ["results"],
  "properties": {"results": {"type": "object"}, "evidence": {"type": "array"}, @CHANGESET@}})";

const char* kEvaluatorSchema = R"({
  "type": "object", "required": ["metrics"],
  "properties": {"metrics": {"type": "object"}}})";

const char* RawSchemaText(domain::Primitive p) {
  switch (p) {
    case domain::Primitive::kGenerator: return kGeneratorSchema;
    case domain::Primitive::kValidator: return kValidatorSchema;
    case domain::Primitive::kInterpreter: return kInterpreterSchema;
    case domain::Primitive::kResolver: return kResolverSchema;
    case domain::Primitive::kSimulator: return kSimulatorSchema;
    case domain::Primitive::kEvaluator: return kEvaluatorSchema;
  }
  return "{}";
}

// The primitive's contract with the changeset definition put in place.
std::string SchemaText(domain::Primitive p) {
  std::string text = RawSchemaText(p);
  if (std::size_t at = text.find("@CHANGESET@"); at != std::string::npos) {
    text.replace(at, std::string("@CHANGESET@").size(), kChangesetProperty);
  }
  return text;
}

// "ns/repo" of a writes entry matching `repo` ("ns/repo" or a bare repo name).
bool RepoAllowed(const std::string& repo, const std::vector<std::string>& writes) {
  for (const std::string& w : writes) {
    if (w == repo) return true;
    auto slash = w.find('/');
    if (repo.find('/') == std::string::npos && slash != std::string::npos &&
        w.compare(slash + 1, std::string::npos, repo) == 0) {
      return true;
    }
  }
  return false;
}

std::string JoinWrites(const std::vector<std::string>& writes) {
  if (writes.empty()) return "nothing";
  std::string s;
  for (const std::string& w : writes) s += (s.empty() ? "" : ", ") + w;
  return s;
}

}  // namespace

domain::JsonPtr StandardOutputSchema(domain::Primitive primitive) {
  // Parsed once per primitive; the texts are constants, so parsing cannot fail.
  static const std::vector<domain::JsonPtr> kAll = [] {
    std::vector<domain::JsonPtr> v;
    for (int i = 0; i <= static_cast<int>(domain::Primitive::kEvaluator); ++i) {
      v.push_back(std::make_shared<const json>(json::parse(SchemaText(static_cast<domain::Primitive>(i)))));
    }
    return v;
  }();
  return kAll[static_cast<std::size_t>(primitive)];
}

OutputContract::~OutputContract() = default;

Result<std::unique_ptr<OutputContract>> OutputContract::Make(
    std::string capability_id, domain::Primitive primitive,
    const std::vector<domain::JsonPtr>& declared, std::vector<std::string> writes) {
  std::unique_ptr<OutputContract> c(new OutputContract());
  c->capability_id_ = std::move(capability_id);
  c->primitive_ = primitive;
  c->writes_ = std::move(writes);
  std::vector<domain::JsonPtr> all = {StandardOutputSchema(primitive)};
  for (const domain::JsonPtr& d : declared) {
    if (d != nullptr) all.push_back(d);
  }
  for (const domain::JsonPtr& s : all) {
    Result<std::unique_ptr<schema::Validator>> v = schema::Validator::Compile(*s);
    if (!v.ok()) {
      return v.status().WithPrefix("output contract of capability " + c->capability_id_);
    }
    c->validators_.push_back(std::move(v).value());
  }
  return c;
}

Status OutputContract::Check(const json& output) const {
  std::vector<Violation> violations;
  for (const auto& v : validators_) {
    Status s = v->Validate(output);
    for (const Violation& x : s.violations()) {
      if (std::find(violations.begin(), violations.end(), x) == violations.end()) {
        violations.push_back(x);
      }
    }
  }
  if (!violations.empty()) {
    std::string first = violations.front().path.empty() ? "(output)" : violations.front().path;
    return InvalidArgumentError("capability " + capability_id_ + " returned output that breaks the " +
                                    domain::PrimitiveName(primitive_) + " contract (" +
                                    std::to_string(violations.size()) + " error(s); first at " +
                                    first + ": " + violations.front().message + ")",
                                violations);
  }
  if (primitive_ == domain::Primitive::kGenerator || output.contains("changeset")) {
    return CheckChangesetWrites(capability_id_, output.at("changeset"), writes_);
  }
  return Status::Ok();
}

Status CheckChangesetWrites(const std::string& capability_id, const json& changeset,
                            const std::vector<std::string>& writes) {
  std::vector<Violation> denied;
  std::vector<Violation> malformed;
  auto check = [&](const char* section, std::size_t i, const std::string& repo) {
    if (!RepoAllowed(repo, writes)) {
      denied.push_back({std::string("changeset.") + section + "[" + std::to_string(i) + "]",
                        "writes", "targets " + repo + ", outside the repos capability " +
                                      capability_id + " may write (" + JoinWrites(writes) + ")"});
    }
  };
  if (!changeset.is_object()) {
    return InvalidArgumentError("capability " + capability_id + " returned a changeset that is not an object");
  }
  if (auto it = changeset.find("creates"); it != changeset.end() && it->is_array()) {
    for (std::size_t i = 0; i < it->size(); ++i) {
      const json& e = (*it)[i];
      check("creates", i, e.is_object() && e.contains("repo") && e["repo"].is_string()
                              ? e["repo"].get<std::string>()
                              : std::string("(no repo)"));
    }
  }
  for (const char* section : {"patches", "deletes"}) {
    auto it = changeset.find(section);
    if (it == changeset.end() || !it->is_array()) continue;
    for (std::size_t i = 0; i < it->size(); ++i) {
      const json& e = (*it)[i];
      std::string text = e.is_object() && e.contains("pointer") && e["pointer"].is_string()
                             ? e["pointer"].get<std::string>()
                             : std::string();
      Result<Pointer> p = Pointer::Parse(text);
      std::string where = std::string("changeset.") + section + "[" + std::to_string(i) + "]";
      if (!p.ok()) {
        malformed.push_back({where + ".pointer", "pointer.syntax", p.status().message()});
        continue;
      }
      check(section, i, p->ns() + "/" + p->repo());
    }
  }
  if (!malformed.empty()) {
    return InvalidArgumentError("capability " + capability_id + " returned a changeset with " +
                                    std::to_string(malformed.size()) + " malformed pointer(s); first at " +
                                    malformed.front().path + ": " + malformed.front().message,
                                malformed);
  }
  if (!denied.empty()) {
    return Status(StatusCode::kPermissionDenied,
                  "capability " + capability_id + " may write only " + JoinWrites(writes) + ", but " +
                      denied.front().path + " " + denied.front().message.substr(0, denied.front().message.find(',')) +
                      (denied.size() > 1 ? " (and " + std::to_string(denied.size() - 1) + " more)" : ""),
                  denied);
  }
  return Status::Ok();
}

}  // namespace bver::plugin
