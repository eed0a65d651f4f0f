#include "src/domain/platform.h"

#include <algorithm>
#include <set>

#include <nlohmann/json.hpp>

#include "src/schema/validator.h"

namespace bver::domain {

const char* PrimitiveName(Primitive p) {
  switch (p) {
    case Primitive::kInterpreter: return "interpreter";
    case Primitive::kResolver: return "resolver";
    case Primitive::kGenerator: return "generator";
    case Primitive::kValidator: return "validator";
    case Primitive::kSimulator: return "simulator";
    case Primitive::kEvaluator: return "evaluator";
  }
  return "unknown";
}

const char* ConflictPolicyName(ConflictPolicy p) {
  switch (p) {
    case ConflictPolicy::kFail: return "fail";
    case ConflictPolicy::kRetry: return "retry";
    case ConflictPolicy::kRestartOnWrite: return "restart_on_write";
  }
  return "fail";
}

std::vector<Violation> AtBody(std::vector<Violation> violations) {
  for (Violation& v : violations) {
    v.path = v.path.empty() ? "body" : (v.path.front() == '[' ? "body" : "body.") + v.path;
  }
  return violations;
}

Result<std::shared_ptr<const schema::Validator>> Repo::BodyValidator(const std::string& kind) const {
  std::shared_ptr<const schema::Validator> compiled = validator;
  JsonPtr source = schema;
  if (!kind.empty()) {
    const Kind* k = FindKind(kind);
    if (k == nullptr) return NotFoundError("repo " + qualified_name() + " has no kind \"" + kind + "\"");
    compiled = k->validator;
    source = k->effective_schema;
  }
  if (compiled) return compiled;
  BVER_ASSIGN_OR_RETURN(std::unique_ptr<schema::Validator> fresh, schema::Validator::Compile(*source));
  return std::shared_ptr<const schema::Validator>(std::move(fresh));
}

nlohmann::json Repo::WithDefaults(nlohmann::json body) const {
  if (!body.is_object() || !schema || !schema->contains("properties")) return body;
  for (auto it = (*schema)["properties"].begin(); it != (*schema)["properties"].end(); ++it) {
    if (it.value().is_object() && it.value().contains("default") && !body.contains(it.key())) {
      body[it.key()] = it.value()["default"];
    }
  }
  return body;
}

const Kind* Repo::FindKind(const std::string& kind) const {
  for (const Kind& k : kinds) {
    if (k.name == kind) return &k;
  }
  return nullptr;
}

const Repo* Platform::FindRepo(const std::string& name) const {
  for (const Repo& r : repos) {
    if (r.name == name || r.qualified_name() == name) return &r;
  }
  return nullptr;
}

const Capability* Platform::FindCapability(const std::string& id) const {
  for (const Capability& c : capabilities) {
    if (c.id == id) return &c;
  }
  return nullptr;
}

const Operation* Platform::FindOperation(const std::string& id) const {
  for (const Operation& o : operations) {
    if (o.id == id) return &o;
  }
  return nullptr;
}

std::vector<std::string> Platform::AllScopes() const {
  std::set<std::string> s = {"admin"};
  for (const Operation& o : operations) s.insert(o.scopes.begin(), o.scopes.end());
  for (const Repo& r : repos) {
    s.insert(r.read_scope);
    s.insert(r.write_scope);
  }
  return {s.begin(), s.end()};
}

}  // namespace bver::domain
