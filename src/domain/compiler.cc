#include "src/domain/compiler.h"

#include <algorithm>
#include <functional>
#include <map>
#include <regex>
#include <set>

#include <nlohmann/json.hpp>

#include "src/domain/reader.h"
#include "src/domain/schema_walk.h"
#include "src/schema/validator.h"

namespace bver::domain {
namespace {

using nlohmann::json;

const std::regex& DottedName() {
  static const std::regex k(R"([a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*)");
  return k;
}
const std::regex& SimpleName() {
  static const std::regex k(R"([a-z][a-z0-9_]{0,62})");
  return k;
}

JsonPtr Share(json v) { return std::make_shared<const json>(std::move(v)); }

// Standard output contracts of the primitives, used when a capability does
// not declare its own (BVER.md §5).
json DefaultOutputSchema(Primitive p) {
  switch (p) {
    case Primitive::kValidator:
      return json::parse(R"({
        "type": "object", "required": ["passed", "findings"],
        "properties": {
          "passed": {"type": "boolean"},
          "findings": {"type": "array", "items": {
            "type": "object", "required": ["severity", "rule", "message"],
            "properties": {
              "severity": {"enum": ["error", "warning", "info"]},
              "pointer": {"type": "string"},
              "rule": {"type": "string"},
              "message": {"type": "string"}}}}}})");
    case Primitive::kGenerator:
      return json::parse(R"({
        "type": "object", "required": ["changeset"],
        "properties": {"changeset": {"type": "object", "properties": {
          "creates": {"type": "array"}, "patches": {"type": "array"}, "deletes": {"type": "array"}}}}})");
    case Primitive::kResolver:
      return json::parse(R"({"type": "object", "required": ["pointers"],
        "properties": {"pointers": {"type": "array", "items": {"type": "string"}}}})");
    case Primitive::kEvaluator:
      return json::parse(R"({"type": "object", "required": ["metrics"],
        "properties": {"metrics": {"type": "object"}}})");
    case Primitive::kSimulator:
      return json::parse(R"({"type": "object", "required": ["results"],
        "properties": {"results": {}, "evidence": {}}})");
    case Primitive::kInterpreter:
      return json::parse(R"({"type": "object",
        "properties": {"proposed": {"type": "array"}, "values": {}}})");
  }
  return json::object();
}

std::optional<Primitive> ParsePrimitive(const std::string& s) {
  static const std::map<std::string, Primitive> k = {
      {"interpreter", Primitive::kInterpreter}, {"resolver", Primitive::kResolver},
      {"generator", Primitive::kGenerator},     {"validator", Primitive::kValidator},
      {"simulator", Primitive::kSimulator},     {"evaluator", Primitive::kEvaluator}};
  auto it = k.find(s);
  if (it == k.end()) return std::nullopt;
  return it->second;
}

class Compiler {
  // A figment as read, with what its users need merged in.
  struct FigmentSource {
    Figment figment;
    AttributePath path;
    std::vector<PointerField> pointers;
    std::vector<std::string> artifacts;
    std::vector<json> rule_schemas;
    json fragment;  // the schema fragment, expanded, without the rules
  };
  // One `use:` by a repo or kind: where its templates are instantiated.
  struct FigmentUse {
    FigmentSource* source;
    std::string repo;       // "ns/repo"
    std::string repo_name;  // "repo"
    std::string kind;       // empty for the repo's own use
  };

 public:
  explicit Compiler(const SourceDocument& doc) : doc_(doc), diag_(doc) {}

  Result<Platform> Run() {
    const json& root = doc_.value();
    ObjectReader top(diag_, root, AttributePath(),
                     {"bver", "platform", "namespaces", "capabilities", "jobs", "orchestrators",
                      "triggers", "migrations", "figments"});
    if (!top.valid()) return diag_.ToStatus();
    if (auto v = top.Integer("bver", 1, 1000)) {
      if (*v != kManifestFormatVersion) {
        diag_.Error(AttributePath().Key("bver"), "domain.format",
                    "format version " + std::to_string(*v) + " is not supported; this build reads " +
                        std::to_string(kManifestFormatVersion));
      }
    } else if (!top.Has("bver")) {
      diag_.Error(AttributePath(), "domain.required",
                  "missing required key \"bver\" (the format version, 1)");
    }
    ReadPlatform(top);
    if (const json* figments = top.Object("figments")) ReadFigments(*figments);
    if (const json* ns = top.Object("namespaces", true)) ReadNamespaces(*ns);
    if (const json* caps = top.Object("capabilities")) ReadCapabilities(*caps);
    if (const json* jobs = top.Object("jobs")) ReadJobs(*jobs);
    if (const json* orchs = top.Object("orchestrators")) ReadOrchestrators(*orchs);
    InstantiateFigments(/*triggers=*/false);
    CheckPointerTargets();
    GenerateOperations();
    if (const json* triggers = top.Object("triggers")) ReadTriggers(*triggers);
    InstantiateFigments(/*triggers=*/true);
    CheckFigmentsUsed();
    CheckOrchestratorOps();
    if (const json* migrations = top.Object("migrations")) ReadMigrations(*migrations);
    if (!diag_.ok()) return diag_.ToStatus();
    return std::move(p_);
  }


  // figments: { ID: { version, description?, schema?, rules?, triggers?, orchestrators? } }
  // Read before anything that may `use:` them.
  void ReadFigments(const json& figments) {
    AttributePath base = AttributePath().Key("figments");
    for (auto it = figments.begin(); it != figments.end(); ++it) {
      AttributePath path = base.Key(it.key());
      if (!IsValidNamespaceName(it.key())) {
        diag_.Error(path, "domain.name", "figment id \"" + it.key() + "\" must match [a-z][a-z0-9_-]{0,62}");
      }
      ObjectReader r(diag_, it.value(), path,
                     {"version", "description", "schema", "rules", "triggers", "orchestrators"});
      if (!r.valid()) continue;
      FigmentSource src;
      src.path = path;
      Figment& f = src.figment;
      f.id = it.key();
      f.version = r.String("version", true).value_or("");
      if (!f.version.empty() && !IsSemver(f.version)) {
        diag_.Error(path.Key("version"), "domain.semver",
                    "\"" + f.version + "\" is not a semantic version (MAJOR.MINOR.PATCH)");
      }
      f.description = r.String("description").value_or("");
      json fragment = json::object();
      if (const json* schema = r.Get("schema")) {
        SchemaWalkResult walked = WalkSchema(*schema, path.Key("schema"), diag_);
        if (!schema->is_object()) {
          diag_.Error(path.Key("schema"), "domain.schema", "a figment schema is a mapping (a JSON Schema fragment)");
        } else {
          fragment = walked.expanded;
          src.pointers = walked.pointers;
          src.artifacts = walked.artifacts;
        }
      }
      if (fragment.contains("type") && fragment["type"] != "object") {
        diag_.Error(path.Key("schema").Key("type"), "domain.schema",
                    "a figment schema describes part of an object: its type, when given, is \"object\"");
      }
      f.schema = Share(fragment);
      // Rules are named schema conditions every body of a user must meet;
      // they join the user's schema under allOf, each with its description.
      json rules = json::object();
      if (const json* rj = r.Object("rules")) {
        for (auto rit = rj->begin(); rit != rj->end(); ++rit) {
          AttributePath rpath = path.Key("rules").Key(rit.key());
          ObjectReader rr(diag_, rit.value(), rpath, {"description", "schema"});
          if (!rr.valid()) continue;
          const json* rs = rr.Get("schema");
          if (rs == nullptr || !rs->is_object()) {
            diag_.Error(rs ? rpath.Key("schema") : rpath, "domain.required",
                        "a rule needs a schema: the JSON Schema condition a body must meet");
            continue;
          }
          SchemaWalkResult walked = WalkSchema(*rs, rpath.Key("schema"), diag_);
          json rule = walked.expanded;
          std::string description = rr.String("description").value_or("");
          if (!description.empty()) rule["description"] = description;
          rule["title"] = f.id + "." + rit.key();
          CheckSchemaCompiles(rule, rpath.Key("schema"));
          rules[rit.key()] = rule;
          src.rule_schemas.push_back(std::move(rule));
        }
      }
      f.rules = Share(rules);
      const json* triggers = r.Object("triggers");
      const json* orchs = r.Object("orchestrators");
      f.triggers = Share(triggers ? *triggers : json::object());
      f.orchestrators = Share(orchs ? *orchs : json::object());
      src.fragment = fragment;
      CheckSchemaCompiles(fragment, path.Key("schema"));
      figments_.emplace(f.id, std::move(src));
    }
  }

  // `use: [id, id@1, id@1.2, id@1.2.3]` of a repo, kind or capability: the
  // figments, checked against their declared versions (a partial version
  // is a prefix: id@1 accepts every 1.x.y). `user` is recorded in each
  // figment's used_by.
  std::vector<FigmentSource*> ResolveUses(ObjectReader& r, const AttributePath& path, const std::string& user) {
    std::vector<FigmentSource*> out;
    std::vector<std::string> uses = r.StringList("use");
    for (std::size_t i = 0; i < uses.size(); ++i) {
      AttributePath upath = path.Key("use").Index(i);
      const std::string& use = uses[i];
      std::string id = use.substr(0, use.find('@'));
      std::string want = use.find('@') == std::string::npos ? "" : use.substr(use.find('@') + 1);
      auto it = figments_.find(id);
      if (it == figments_.end()) {
        diag_.Error(upath, "domain.reference", "no figment \"" + id + "\" is declared under figments");
        continue;
      }
      FigmentSource& src = it->second;
      if (!want.empty() && !VersionMatches(want, src.figment.version)) {
        diag_.Error(upath, "domain.version",
                    "\"" + use + "\" asks for version " + want + ", but figment " + id + " is declared at " +
                        src.figment.version + "; write " + id + "@" + src.figment.version + " (or " + id +
                        "@MAJOR) to include it");
        continue;
      }
      if (std::find(out.begin(), out.end(), &src) != out.end()) {
        diag_.Error(upath, "domain.duplicate", "figment " + id + " is used twice here");
        continue;
      }
      src.figment.used_by.push_back(user);
      out.push_back(&src);
    }
    return out;
  }

  // "1", "1.2" or "1.2.3" against a declared semver: component by component.
  static bool VersionMatches(const std::string& want, const std::string& have) {
    static const std::regex kPartial(R"(\d+(\.\d+){0,2})");
    if (!std::regex_match(want, kPartial)) return false;
    if (have.size() < want.size() || have.compare(0, want.size(), want) != 0) return false;
    return have.size() == want.size() || have[want.size()] == '.' || have[want.size()] == '-' ||
           have[want.size()] == '+';
  }

  // Merges the fragments (schema and rules) of `uses` into `schema`; a
  // property the figment defines differently from the user is an error at
  // the `use:` entry. Pointer and artifact fields join the repo's.
  void MergeFigments(const std::vector<FigmentSource*>& uses, const AttributePath& path, json& schema,
                     std::vector<PointerField>* pointers, std::vector<std::string>* artifacts) {
    for (std::size_t i = 0; i < uses.size(); ++i) {
      Result<json> merged = MergeKindSchema(schema, uses[i]->fragment);
      if (!merged.ok()) {
        std::string msg = merged.status().message();
        if (auto k = msg.find("the kind redefines"); k != std::string::npos) {
          msg.replace(k, std::string("the kind redefines").size(), "figment " + uses[i]->figment.id + " redefines");
        }
        diag_.Error(path.Key("use").Index(i), "domain.figment", msg);
        continue;
      }
      schema = std::move(merged).value();
      // Each rule its own allOf entry, titled "figment.rule", so the planner
      // can tell which one changed.
      for (const json& rule : uses[i]->rule_schemas) {
        if (!schema.contains("allOf")) schema["allOf"] = json::array();
        if (std::find(schema["allOf"].begin(), schema["allOf"].end(), rule) == schema["allOf"].end()) {
          schema["allOf"].push_back(rule);
        }
      }
      if (pointers) pointers->insert(pointers->end(), uses[i]->pointers.begin(), uses[i]->pointers.end());
      if (artifacts) artifacts->insert(artifacts->end(), uses[i]->artifacts.begin(), uses[i]->artifacts.end());
    }
  }

  static std::vector<std::string> Refs(const std::vector<FigmentSource*>& uses) {
    std::vector<std::string> out;
    for (const FigmentSource* u : uses) out.push_back(u->figment.ref());
    return out;
  }

  // Replaces ${use.repo} ("ns/repo"), ${use.name} (the repo's name) and
  // ${use.kind} in every string of a template.
  static json Substitute(const json& v, const std::string& repo, const std::string& name, const std::string& kind) {
    if (v.is_string()) {
      std::string s = v.get<std::string>();
      for (const auto& [from, to] : {std::pair<std::string, std::string>{"${use.repo}", repo},
                                     {"${use.name}", name},
                                     {"${use.kind}", kind}}) {
        for (std::size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) {
          s.replace(at, from.size(), to);
        }
      }
      return s;
    }
    if (v.is_object()) {
      json out = json::object();
      for (auto it = v.begin(); it != v.end(); ++it) out[it.key()] = Substitute(it.value(), repo, name, kind);
      return out;
    }
    if (v.is_array()) {
      json out = json::array();
      for (const json& e : v) out.push_back(Substitute(e, repo, name, kind));
      return out;
    }
    return v;
  }

  // The orchestrators (before operations are generated) or the triggers
  // (after) of every figment a repo or kind uses, one instance per user,
  // named "<template>_<repo>[_<kind>]". A trigger template's `on.repo` (and
  // `on.kind` for a kind's use) defaults to its user.
  void InstantiateFigments(bool triggers) {
    for (const FigmentUse& use : uses_) {
      const Figment& f = use.source->figment;
      const json& templates = triggers ? *f.triggers : *f.orchestrators;
      for (auto it = templates.begin(); it != templates.end(); ++it) {
        std::string suffix = use.repo_name + (use.kind.empty() ? "" : "_" + use.kind);
        std::replace(suffix.begin(), suffix.end(), '-', '_');
        std::replace(suffix.begin(), suffix.end(), '.', '_');
        std::string name = it.key() + "_" + suffix;
        AttributePath path = use.source->path.Key(triggers ? "triggers" : "orchestrators").Key(it.key());
        json value = Substitute(it.value(), use.repo, use.repo_name, use.kind);
        if (triggers && value.is_object() && value.contains("on") && value["on"].is_object()) {
          if (!value["on"].contains("repo")) value["on"]["repo"] = use.repo;
          if (!use.kind.empty() && !value["on"].contains("kind")) value["on"]["kind"] = use.kind;
        }
        if (triggers) {
          ReadTrigger(name, value, path, f.ref());
        } else {
          ReadOrchestrator(name, value, path, f.ref());
        }
      }
    }
  }

  // A figment no one uses is most likely a mistake (a misspelt `use:`).
  void CheckFigmentsUsed() {
    for (auto& [id, src] : figments_) {
      if (src.figment.used_by.empty()) {
        diag_.Error(src.path, "domain.figment",
                    "figment " + id + " is declared but no repo, kind or capability uses it (`use: [" + id + "]`)");
      }
      p_.figments.push_back(src.figment);
    }
  }

  // migrations: { NAME: { from: VERSION, repo: ns/repo, kind: K?, steps: [...] } }
  // The steps' shapes are checked here; what they do to a body is
  // src/migrate/'s (docs/migrations.md).
  void ReadMigrations(const json& migrations) {
    AttributePath base = AttributePath().Key("migrations");
    for (auto it = migrations.begin(); it != migrations.end(); ++it) {
      AttributePath path = base.Key(it.key());
      ObjectReader r(diag_, it.value(), path, {"from", "repo", "kind", "steps", "description"});
      if (!r.valid()) continue;
      Transform t;
      t.name = it.key();
      t.from = r.String("from", true).value_or("");
      if (!t.from.empty() && !IsSemver(t.from)) {
        diag_.Error(path.Key("from"), "domain.semver",
                    "\"" + t.from + "\" is not a semantic version: name the platform version the store migrates from");
      }
      std::string repo_name = r.String("repo", true).value_or("");
      const Repo* repo = repo_name.empty() ? nullptr : p_.FindRepo(repo_name);
      if (!repo_name.empty() && repo == nullptr) {
        diag_.Error(path.Key("repo"), "domain.reference", "no repo \"" + repo_name + "\" in this platform");
      }
      if (repo != nullptr) t.repo = repo->qualified_name();
      t.kind = r.String("kind").value_or("");
      if (repo != nullptr && !t.kind.empty() && repo->FindKind(t.kind) == nullptr) {
        diag_.Error(path.Key("kind"), "domain.reference",
                    "repo " + repo->qualified_name() + " has no kind \"" + t.kind + "\"");
      }
      const json* steps = r.Get("steps");
      if (steps == nullptr || !steps->is_array() || steps->empty()) {
        diag_.Error(path.Key("steps"), "domain.required",
                    "steps must be a non-empty list (RFC 6902 operations, split, map)");
        continue;
      }
      for (std::size_t i = 0; i < steps->size(); ++i) CheckStep((*steps)[i], path.Key("steps").Index(i));
      t.steps = Share(*steps);
      p_.migrations.push_back(std::move(t));
    }
  }

  void CheckStep(const json& step, const AttributePath& path) {
    static const std::map<std::string, std::vector<const char*>> kRequired = {
        {"add", {"path", "value"}},   {"remove", {"path"}},         {"replace", {"path", "value"}},
        {"move", {"from", "path"}},   {"copy", {"from", "path"}},   {"test", {"path", "value"}},
        {"split", {"from", "into"}},  {"map", {"path", "values"}}};
    if (!step.is_object() || !step.contains("op") || !step["op"].is_string()) {
      diag_.Error(path, "domain.migration", "a step is a mapping with an \"op\"");
      return;
    }
    auto rule = kRequired.find(step["op"].get<std::string>());
    if (rule == kRequired.end()) {
      diag_.Error(path.Key("op"), "domain.migration",
                  "unknown op \"" + step["op"].get<std::string>() +
                      "\"; expected add, remove, replace, move, copy, test, split or map");
      return;
    }
    for (const char* key : rule->second) {
      if (!step.contains(key)) {
        diag_.Error(path, "domain.migration", "op \"" + rule->first + "\" needs \"" + key + "\"");
      }
    }
    for (const char* key : {"path", "from"}) {
      if (step.contains(key) && (!step[key].is_string() || (!step[key].get<std::string>().empty() &&
                                                             step[key].get<std::string>()[0] != '/'))) {
        diag_.Error(path.Key(key), "domain.migration", std::string(key) + " is a JSON Pointer such as \"/name\"");
      }
    }
    if (rule->first == "split") {
      const json& into = step.value("into", json());
      bool ok = into.is_array() && into.size() >= 2 &&
                std::all_of(into.begin(), into.end(), [](const json& x) { return x.is_string(); });
      if (!ok) diag_.Error(path.Key("into"), "domain.migration", "into is a list of at least two JSON Pointers");
      if (step.contains("separator") && (!step["separator"].is_string() || step["separator"].get<std::string>().empty())) {
        diag_.Error(path.Key("separator"), "domain.migration", "separator is a non-empty string");
      }
    }
    if (rule->first == "map" && !step.value("values", json()).is_object()) {
      diag_.Error(path.Key("values"), "domain.migration", "values maps old string values to new values");
    }
  }

 private:
  void ReadPlatform(ObjectReader& top) {
    const json* pj = top.Object("platform", true);
    if (pj == nullptr) return;
    AttributePath path = AttributePath().Key("platform");
    ObjectReader r(diag_, *pj, path, {"id", "version", "description"});
    if (auto id = r.String("id", true)) {
      if (!IsValidNamespaceName(*id)) {
        diag_.Error(path.Key("id"), "domain.name",
                    "platform id \"" + *id + "\" must match [a-z][a-z0-9_-]{0,62}");
      }
      p_.id = *id;
    }
    if (auto v = r.String("version", true)) {
      if (!IsSemver(*v)) {
        diag_.Error(path.Key("version"), "domain.semver",
                    "\"" + *v + "\" is not a semantic version (MAJOR.MINOR.PATCH)");
      }
      p_.version = *v;
    }
    p_.description = r.String("description").value_or("");
  }

  void ReadNamespaces(const json& nss) {
    AttributePath base = AttributePath().Key("namespaces");
    if (nss.empty()) diag_.Error(base, "domain.required", "declare at least one namespace");
    std::map<std::string, std::string> repo_owner;  // repo name -> namespace
    for (auto it = nss.begin(); it != nss.end(); ++it) {
      AttributePath path = base.Key(it.key());
      if (!IsValidNamespaceName(it.key())) {
        diag_.Error(path, "domain.name",
                    "namespace \"" + it.key() + "\" must match [a-z][a-z0-9_-]{0,62}");
      }
      ObjectReader r(diag_, it.value(), path, {"owner", "description", "repos"});
      if (!r.valid()) continue;
      Namespace ns;
      ns.name = it.key();
      ns.owner = r.String("owner").value_or("core");
      ns.description = r.String("description").value_or("");
      if (const json* repos = r.Object("repos", true)) {
        for (auto rit = repos->begin(); rit != repos->end(); ++rit) {
          AttributePath rpath = path.Key("repos").Key(rit.key());
          auto [prev, inserted] = repo_owner.emplace(rit.key(), ns.name);
          if (!inserted) {
            diag_.Error(rpath, "domain.duplicate",
                        "repo \"" + rit.key() + "\" is already declared in namespace \"" +
                            prev->second + "\"; repo names are unique in a platform");
            continue;
          }
          ns.repos.push_back(rit.key());
          ReadRepo(ns.name, rit.key(), rit.value(), rpath);
        }
      }
      p_.namespaces.push_back(std::move(ns));
    }
  }

  void ReadRepo(const std::string& ns, const std::string& name, const json& value,
                const AttributePath& path) {
    if (!IsValidNamespaceName(name)) {
      diag_.Error(path, "domain.name", "repo \"" + name + "\" must match [a-z][a-z0-9_-]{0,62}");
    }
    ObjectReader r(diag_, value, path,
                   {"description", "version", "schema", "kinds", "kind_required", "scopes", "use"});
    if (!r.valid()) return;
    Repo repo;
    repo.ns = ns;
    repo.name = name;
    repo.description = r.String("description").value_or("");
    repo.schema_version = r.String("version").value_or("1.0.0");
    if (!IsSemver(repo.schema_version)) {
      diag_.Error(path.Key("version"), "domain.semver",
                  "\"" + repo.schema_version + "\" is not a semantic version (MAJOR.MINOR.PATCH)");
    }
    repo.kind_required = r.Bool("kind_required").value_or(false);
    repo.read_scope = ns + "." + name + ":read";
    repo.write_scope = ns + "." + name + ":write";
    if (const json* scopes = r.Object("scopes")) {
      ObjectReader sr(diag_, *scopes, path.Key("scopes"), {"read", "write"});
      if (auto s = sr.String("read")) repo.read_scope = *s;
      if (auto s = sr.String("write")) repo.write_scope = *s;
    }

    const json* schema = r.Get("schema");
    if (schema == nullptr) {
      diag_.Error(path, "domain.required",
                  "missing required key \"schema\" (the JSON Schema of the body)");
      return;
    }
    SchemaWalkResult walked = WalkSchema(*schema, path.Key("schema"), diag_);
    if (!schema->is_object()) {
      diag_.Error(path.Key("schema"), "domain.schema", "a repo schema must be a mapping");
      return;
    }
    if (schema->contains("type") && (*schema)["type"] != "object") {
      diag_.Error(path.Key("schema").Key("type"), "domain.schema",
                  "a reference body is a JSON object: the root type must be \"object\"");
    }
    json base = walked.expanded;
    if (!base.contains("type")) base["type"] = "object";
    repo.pointers = walked.pointers;
    repo.artifact_fields = walked.artifacts;
    const std::string qualified = ns + "/" + name;
    std::vector<FigmentSource*> uses = ResolveUses(r, path, qualified);
    MergeFigments(uses, path, base, &repo.pointers, &repo.artifact_fields);
    repo.figments = Refs(uses);
    for (FigmentSource* u : uses) uses_.push_back(FigmentUse{u, qualified, name, ""});
    repo.validator = CheckSchemaCompiles(base, path.Key("schema"));
    repo.schema = Share(base);

    if (const json* kinds = r.Object("kinds")) {
      for (auto kit = kinds->begin(); kit != kinds->end(); ++kit) {
        AttributePath kpath = path.Key("kinds").Key(kit.key());
        if (!std::regex_match(kit.key(), DottedName())) {
          diag_.Error(kpath, "domain.name",
                      "kind \"" + kit.key() +
                          "\" must be dotted lower-case words, e.g. power.substation");
        }
        ObjectReader kr(diag_, kit.value(), kpath, {"description", "schema", "renamed_from", "use"});
        if (!kr.valid()) continue;
        Kind kind;
        kind.name = kit.key();
        kind.description = kr.String("description").value_or("");
        kind.renamed_from = kr.String("renamed_from").value_or("");
        if (!kind.renamed_from.empty() && !std::regex_match(kind.renamed_from, DottedName())) {
          diag_.Error(kpath.Key("renamed_from"), "domain.name",
                      "renamed_from names the kind's former name, dotted lower-case words");
        }
        json ext = json::object();
        if (const json* ks = kr.Get("schema")) {
          SchemaWalkResult kw = WalkSchema(*ks, kpath.Key("schema"), diag_);
          if (!ks->is_object()) {
            diag_.Error(kpath.Key("schema"), "domain.schema",
                        "a kind schema extension must be a mapping");
            continue;
          }
          ext = kw.expanded;
          for (PointerField& f : kw.pointers) repo.pointers.push_back(f);
          for (std::string& a : kw.artifacts) repo.artifact_fields.push_back(a);
        }
        std::vector<FigmentSource*> kuses = ResolveUses(kr, kpath, qualified + "#" + kind.name);
        MergeFigments(kuses, kpath, ext, &repo.pointers, &repo.artifact_fields);
        kind.figments = Refs(kuses);
        for (FigmentSource* u : kuses) uses_.push_back(FigmentUse{u, qualified, name, kind.name});
        Result<json> merged = MergeKindSchema(base, ext);
        if (!merged.ok()) {
          diag_.Error(kpath.Key("schema"), "domain.kind", merged.status().message());
          continue;
        }
        kind.validator = CheckSchemaCompiles(*merged, kpath.Key("schema"));
        kind.extension = Share(std::move(ext));
        kind.effective_schema = Share(std::move(merged).value());
        repo.kinds.push_back(std::move(kind));
      }
    }
    if (repo.kind_required && repo.kinds.empty()) {
      diag_.Error(path.Key("kind_required"), "domain.kind",
                  "kind_required is true but the repo declares no kinds");
    }
    // Several kinds may declare the same pointer field: keep one of each.
    std::sort(repo.pointers.begin(), repo.pointers.end(),
              [](const PointerField& a, const PointerField& b) {
                return std::tie(a.path, a.target) < std::tie(b.path, b.target);
              });
    repo.pointers.erase(std::unique(repo.pointers.begin(), repo.pointers.end(),
                                    [](const PointerField& a, const PointerField& b) {
                                      return a.path == b.path && a.target == b.target;
                                    }),
                        repo.pointers.end());
    std::sort(repo.artifact_fields.begin(), repo.artifact_fields.end());
    repo.artifact_fields.erase(
        std::unique(repo.artifact_fields.begin(), repo.artifact_fields.end()),
        repo.artifact_fields.end());
    pointer_paths_.push_back({repo.name, path});
    p_.repos.push_back(std::move(repo));
  }

  // A contract schema declared inline (capability input/output,
  // orchestrator input): must be an object schema that compiles.
  JsonPtr ReadContract(const json* value, const AttributePath& path, json fallback) {
    if (value == nullptr) return Share(std::move(fallback));
    SchemaWalkResult walked = WalkSchema(*value, path, diag_);
    if (!value->is_object()) {
      diag_.Error(path, "domain.schema", "a contract must be a JSON Schema mapping");
      return Share(std::move(fallback));
    }
    json s = walked.expanded;
    if (!s.contains("type")) s["type"] = "object";
    if (s["type"] != "object") {
      diag_.Error(path.Key("type"), "domain.schema",
                  "contracts are JSON objects: the root type must be \"object\"");
    }
    CheckSchemaCompiles(s, path);
    return Share(std::move(s));
  }

  // The compiled schema, or null (and an error) when it does not compile.
  std::shared_ptr<const schema::Validator> CheckSchemaCompiles(const json& schema, const AttributePath& path) {
    auto compiled = schema::Validator::Compile(schema);
    if (!compiled.ok()) {
      diag_.Error(path, "domain.schema", "invalid JSON Schema: " + compiled.status().message());
      return nullptr;
    }
    return std::shared_ptr<const schema::Validator>(std::move(compiled).value());
  }

  void ReadCapabilities(const json& caps) {
    AttributePath base = AttributePath().Key("capabilities");
    for (auto it = caps.begin(); it != caps.end(); ++it) {
      AttributePath path = base.Key(it.key());
      if (!std::regex_match(it.key(), DottedName())) {
        diag_.Error(path, "domain.name",
                    "capability id \"" + it.key() + "\" must be dotted lower-case words");
      }
      ObjectReader r(diag_, it.value(), path,
                     {"type", "version", "plugin", "description", "deterministic", "input",
                      "output", "writes", "reads", "requires_labels", "use"});
      if (!r.valid()) continue;
      Capability c;
      c.id = it.key();
      if (auto t = r.String("type", true)) {
        if (auto p = ParsePrimitive(*t)) {
          c.primitive = *p;
        } else {
          diag_.Error(path.Key("type"), "domain.enum",
                      "unknown primitive \"" + *t +
                          "\"; expected one of: interpreter, resolver, generator, validator, "
                          "simulator, evaluator");
        }
      }
      c.version = r.String("version", true).value_or("");
      if (!c.version.empty() && !IsSemver(c.version)) {
        diag_.Error(path.Key("version"), "domain.semver",
                    "\"" + c.version + "\" is not a semantic version (MAJOR.MINOR.PATCH)");
      }
      c.plugin = r.String("plugin", true).value_or("");
      c.description = r.String("description").value_or("");
      c.deterministic = r.Bool("deterministic").value_or(true);
      c.input_schema = ReadContract(r.Get("input"), path.Key("input"),
                                    json{{"type", "object"}});
      // A capability takes a figment's schema and rules into its input
      // contract; its templates are for repos and kinds only.
      if (std::vector<FigmentSource*> cuses = ResolveUses(r, path, "capability:" + c.id); !cuses.empty()) {
        json in = *c.input_schema;
        MergeFigments(cuses, path, in, nullptr, nullptr);
        CheckSchemaCompiles(in, path.Key("input"));
        c.input_schema = Share(std::move(in));
        c.figments = Refs(cuses);
      }
      c.output_schema = ReadContract(r.Get("output"), path.Key("output"),
                                     DefaultOutputSchema(c.primitive));
      c.writes = r.StringList("writes");
      c.reads = r.StringList("reads");
      reads_paths_.push_back({c.id, path.Key("reads")});
      c.requires_labels = r.StringList("requires_labels");
      writes_paths_.push_back({c.id, path.Key("writes")});
      p_.capabilities.push_back(std::move(c));
    }
  }

  void ReadJobs(const json& jobs) {
    AttributePath base = AttributePath().Key("jobs");
    for (auto it = jobs.begin(); it != jobs.end(); ++it) {
      AttributePath path = base.Key(it.key());
      if (!std::regex_match(it.key(), SimpleName())) {
        diag_.Error(path, "domain.name", "job name \"" + it.key() + "\" must match [a-z][a-z0-9_]*");
      }
      ObjectReader r(diag_, it.value(), path,
                     {"capability", "description", "on_conflict", "timeout_seconds", "max_retries",
                      "scope"});
      if (!r.valid()) continue;
      Job j;
      j.name = it.key();
      j.capability = r.String("capability", true).value_or("");
      if (!j.capability.empty() && p_.FindCapability(j.capability) == nullptr) {
        diag_.Error(path.Key("capability"), "domain.reference",
                    "no capability \"" + j.capability + "\" is declared under capabilities");
      }
      j.description = r.String("description").value_or("");
      if (auto c = r.String("on_conflict")) {
        if (*c == "fail") {
          j.on_conflict = ConflictPolicy::kFail;
        } else if (*c == "retry") {
          j.on_conflict = ConflictPolicy::kRetry;
        } else if (*c == "restart_on_write") {
          j.on_conflict = ConflictPolicy::kRestartOnWrite;
        } else {
          diag_.Error(path.Key("on_conflict"), "domain.enum",
                      "unknown policy \"" + *c + "\"; expected fail, retry or restart_on_write");
        }
      }
      j.timeout_seconds = r.Integer("timeout_seconds", 1, 7 * 24 * 3600).value_or(300);
      j.max_retries = static_cast<int>(r.Integer("max_retries", 0, 100).value_or(3));
      j.scope = r.String("scope").value_or("jobs." + j.name + ":run");
      p_.jobs.push_back(std::move(j));
    }
  }

  void ReadOrchestrators(const json& orchs) {
    AttributePath base = AttributePath().Key("orchestrators");
    for (auto it = orchs.begin(); it != orchs.end(); ++it) {
      ReadOrchestrator(it.key(), it.value(), base.Key(it.key()), "");
    }
  }

  // One orchestrator: declared (`figment` empty) or instantiated from a
  // figment's template at `path`.
  void ReadOrchestrator(const std::string& name, const json& value, const AttributePath& path,
                        const std::string& figment) {
    {
      if (!std::regex_match(name, SimpleName())) {
        diag_.Error(path, "domain.name",
                    "orchestrator name \"" + name + "\" must match [a-z][a-z0-9_]*");
      }
      for (const Orchestrator& x : p_.orchestrators) {
        if (x.name == name) {
          diag_.Error(path, "domain.duplicate",
                      "orchestrator \"" + name + "\" is declared twice" +
                          (figment.empty() ? "" : " (once by figment " + figment + ")"));
          return;
        }
      }
      ObjectReader r(diag_, value, path, {"description", "input", "steps", "scope"});
      if (!r.valid()) return;
      Orchestrator o;
      o.name = name;
      o.figment = figment;
      o.description = r.String("description").value_or("");
      o.scope = r.String("scope").value_or("orch." + o.name + ":run");
      o.input_schema = ReadContract(r.Get("input"), path.Key("input"), json{{"type", "object"}});
      const json* steps = r.Get("steps");
      if (steps == nullptr || !steps->is_array() || steps->empty()) {
        diag_.Error(steps ? path.Key("steps") : path, "domain.required",
                    "an orchestrator needs a non-empty list of steps");
        p_.orchestrators.push_back(std::move(o));
        return;
      }
      std::set<std::string> ids;
      for (std::size_t i = 0; i < steps->size(); ++i) {
        AttributePath spath = path.Key("steps").Index(i);
        ObjectReader sr(diag_, (*steps)[i], spath,
                        {"id", "op", "input", "after", "when", "for_each", "retries"});
        if (!sr.valid()) continue;
        Step s;
        s.id = sr.String("id", true).value_or("");
        if (!s.id.empty() && !std::regex_match(s.id, SimpleName())) {
          diag_.Error(spath.Key("id"), "domain.name",
                      "step id \"" + s.id + "\" must match [a-z][a-z0-9_]*");
        }
        if (!s.id.empty() && !ids.insert(s.id).second) {
          diag_.Error(spath.Key("id"), "domain.duplicate", "step id \"" + s.id + "\" is used twice");
        }
        s.op = sr.String("op", true).value_or("");
        s.input = Share(sr.Get("input") ? *sr.Get("input") : json::object());
        s.after = sr.StringList("after");
        s.when = sr.String("when").value_or("");
        s.for_each = sr.String("for_each").value_or("");
        s.retries = static_cast<int>(sr.Integer("retries", 0, 100).value_or(0));
        o.steps.push_back(std::move(s));
      }
      CheckDag(o, path);
      orch_paths_.push_back({o.name, path});
      p_.orchestrators.push_back(std::move(o));
    }
  }

  // Step dependencies are the explicit `after` list plus every step whose
  // output an input, condition or fan-out refers to. They must name steps of
  // the same orchestrator and form no cycle.
  void CheckDag(Orchestrator& o, const AttributePath& path) {
    static const std::regex kRef(R"(\$\{steps\.([a-z][a-z0-9_]*)\b)");
    std::map<std::string, std::size_t> index;
    for (std::size_t i = 0; i < o.steps.size(); ++i) index[o.steps[i].id] = i;
    std::vector<std::set<std::size_t>> deps(o.steps.size());
    for (std::size_t i = 0; i < o.steps.size(); ++i) {
      Step& s = o.steps[i];
      AttributePath spath = path.Key("steps").Index(i);
      std::vector<std::string> referenced = s.after;
      std::string texts = s.input->dump() + " " + s.when + " " + s.for_each;
      for (std::sregex_iterator m(texts.begin(), texts.end(), kRef), end; m != end; ++m) {
        referenced.push_back((*m)[1].str());
      }
      for (const std::string& d : referenced) {
        auto it = index.find(d);
        if (it == index.end()) {
          diag_.Error(spath, "domain.reference",
                      "step \"" + s.id + "\" depends on \"" + d +
                          "\", which is not a step of this orchestrator");
          continue;
        }
        if (it->second == i) {
          diag_.Error(spath, "domain.cycle", "step \"" + s.id + "\" depends on itself");
          continue;
        }
        deps[i].insert(it->second);
        if (std::find(s.after.begin(), s.after.end(), d) == s.after.end()) s.after.push_back(d);
      }
      std::sort(s.after.begin(), s.after.end());
    }
    // Kahn's algorithm: what remains after peeling is a cycle.
    std::vector<int> state(o.steps.size(), 0);
    std::function<bool(std::size_t)> visit = [&](std::size_t n) -> bool {
      if (state[n] == 1) return false;
      if (state[n] == 2) return true;
      state[n] = 1;
      for (std::size_t d : deps[n]) {
        if (!visit(d)) return false;
      }
      state[n] = 2;
      return true;
    };
    for (std::size_t i = 0; i < o.steps.size(); ++i) {
      if (state[i] == 0 && !visit(i)) {
        diag_.Error(path.Key("steps"), "domain.cycle",
                    "the steps of orchestrator \"" + o.name +
                        "\" form a cycle; an orchestrator must be a DAG");
        return;
      }
    }
  }

  void ReadTriggers(const json& triggers) {
    AttributePath base = AttributePath().Key("triggers");
    for (auto it = triggers.begin(); it != triggers.end(); ++it) {
      ReadTrigger(it.key(), it.value(), base.Key(it.key()), "");
    }
  }

  // One trigger, declared or instantiated from a figment (as ReadOrchestrator).
  void ReadTrigger(const std::string& name, const json& value, const AttributePath& path,
                   const std::string& figment) {
    {
      if (!std::regex_match(name, SimpleName())) {
        diag_.Error(path, "domain.name",
                    "trigger name \"" + name + "\" must match [a-z][a-z0-9_]*");
      }
      for (const Trigger& x : p_.triggers) {
        if (x.name == name) {
          diag_.Error(path, "domain.duplicate",
                      "trigger \"" + name + "\" is declared twice" +
                          (figment.empty() ? "" : " (once by figment " + figment + ")"));
          return;
        }
      }
      ObjectReader r(diag_, value, path, {"on", "start", "input"});
      if (!r.valid()) return;
      Trigger t;
      t.name = name;
      t.figment = figment;
      if (const json* on = r.Object("on", true)) {
        AttributePath opath = path.Key("on");
        ObjectReader orr(diag_, *on, opath, {"channel", "event_type", "repo", "kind", "changed", "ignore_changes"});
        t.on.channel = orr.String("channel").value_or("");
        if (!t.on.channel.empty() && t.on.channel != "traffic" && t.on.channel != "control" &&
            t.on.channel != "audit") {
          diag_.Error(opath.Key("channel"), "domain.enum",
                      "unknown channel \"" + t.on.channel + "\"; expected traffic, control or audit");
        }
        t.on.event_type = orr.String("event_type").value_or("");
        t.on.repo = orr.String("repo").value_or("");
        t.on.kind = orr.String("kind").value_or("");
        t.on.changed = orr.String("changed").value_or("");
        const Repo* repo = nullptr;
        if (!t.on.repo.empty()) {
          repo = p_.FindRepo(t.on.repo);
          if (repo == nullptr) {
            diag_.Error(opath.Key("repo"), "domain.reference",
                        "no repo \"" + t.on.repo + "\" is declared");
          }
        }
        if (!t.on.kind.empty()) {
          if (repo == nullptr) {
            diag_.Error(opath.Key("kind"), "domain.reference", "a kind needs a repo beside it");
          } else if (repo->FindKind(t.on.kind) == nullptr) {
            diag_.Error(opath.Key("kind"), "domain.reference",
                        "repo \"" + repo->qualified_name() + "\" has no kind \"" + t.on.kind + "\"");
          }
        }
        if (!t.on.changed.empty() && !AttributePath::Parse(t.on.changed).ok()) {
          diag_.Error(opath.Key("changed"), "domain.path",
                      AttributePath::Parse(t.on.changed).status().message());
        }
        t.on.ignore_changes = orr.StringList("ignore_changes");
        for (std::size_t k = 0; k < t.on.ignore_changes.size(); ++k) {
          if (Result<AttributePath> ip = AttributePath::Parse(t.on.ignore_changes[k]); !ip.ok()) {
            diag_.Error(opath.Key("ignore_changes").Index(k), "domain.path", ip.status().message());
          }
        }
      }
      t.start = r.String("start", true).value_or("");
      if (!t.start.empty()) {
        const Operation* op = p_.FindOperation(t.start);
        if (op == nullptr ||
            (op->kind != OperationKind::kJobStart && op->kind != OperationKind::kOrchStart)) {
          diag_.Error(path.Key("start"), "domain.reference",
                      "\"" + t.start +
                          "\" is not a jobs.<job>.start or orch.<orchestrator>.start operation "
                          "of this platform");
        }
      }
      t.input = Share(r.Get("input") ? *r.Get("input") : json::object());
      p_.triggers.push_back(std::move(t));
    }
  }

  void CheckPointerTargets() {
    for (const auto& [repo_name, path] : pointer_paths_) {
      const Repo* repo = p_.FindRepo(repo_name);
      for (const PointerField& f : repo->pointers) {
        if (f.target != "*" && p_.FindRepo(f.target) == nullptr) {
          diag_.Error(path.Key("schema"), "domain.reference",
                      "field \"" + f.path + "\" points to \"" + f.target +
                          "\", which is not a declared repo (write ns/repo)");
        }
      }
    }
    for (const auto& [cap_id, path] : writes_paths_) {
      const Capability* c = p_.FindCapability(cap_id);
      for (const std::string& w : c->writes) {
        if (p_.FindRepo(w) == nullptr) {
          diag_.Error(path, "domain.reference", "capability writes \"" + w +
                                                    "\", which is not a declared repo");
        }
      }
    }
    for (const auto& [cap_id, path] : reads_paths_) {
      const Capability* c = p_.FindCapability(cap_id);
      for (const std::string& w : c->reads) {
        if (p_.FindRepo(w) == nullptr) {
          diag_.Error(path, "domain.reference", "capability reads \"" + w +
                                                    "\", which is not a declared repo");
        }
      }
    }
  }

  void CheckOrchestratorOps() {
    for (const auto& [name, path] : orch_paths_) {
      const Orchestrator* o = nullptr;
      for (const Orchestrator& x : p_.orchestrators) {
        if (x.name == name) o = &x;
      }
      for (std::size_t i = 0; i < o->steps.size(); ++i) {
        const std::string& op = o->steps[i].op;
        if (!op.empty() && p_.FindOperation(op) == nullptr) {
          diag_.Error(path.Key("steps").Index(i).Key("op"), "domain.reference",
                      "no operation \"" + op + "\" in this platform (see `bver plan`)");
        }
      }
    }
  }

  void AddOp(std::string id, OperationKind kind, std::string summary, std::string target,
             std::vector<std::string> scopes, bool read_only, bool destructive, bool idempotent) {
    p_.operations.push_back(Operation{std::move(id), kind, std::move(summary), std::move(target),
                                      std::move(scopes), read_only, destructive, idempotent});
  }

  // "a site", "an asset", "a unit": the article a summary reads right with.
  static std::string A(const std::string& noun) {
    const std::string n = noun.substr(0, 3);
    const bool vowel = !noun.empty() && std::string("aeiouAEIOU").find(noun[0]) != std::string::npos;
    const bool sounds_like_y = n == "uni" || n == "use" || n == "usu" || n.rfind("eu", 0) == 0 || n == "one";
    return (vowel && !sounds_like_y ? "an " : "a ") + noun;
  }

  void GenerateOperations() {
    for (const Repo& r : p_.repos) {
      std::string pre = "refs." + r.name + ".";
      std::string t = r.qualified_name();
      AddOp(pre + "create", OperationKind::kRefCreate, "Create " + A(r.name), t, {r.write_scope},
            false, false, false);
      AddOp(pre + "get", OperationKind::kRefGet, "Get " + A(r.name) + " (latest or pinned version)",
            t, {r.read_scope}, true, false, true);
      AddOp(pre + "patch", OperationKind::kRefPatch,
            "Patch " + A(r.name) + " (RFC 7386 merge patch or RFC 6902 JSON Patch)", t,
            {r.write_scope}, false, false, false);
      AddOp(pre + "replace", OperationKind::kRefReplace, "Replace the body of " + A(r.name), t,
            {r.write_scope}, false, false, true);
      AddOp(pre + "delete", OperationKind::kRefDelete,
            "Delete " + A(r.name) + " (a tombstone version; history stays)", t, {r.write_scope},
            false, true, true);
      AddOp(pre + "list", OperationKind::kRefList, "List " + r.name + " references with filters",
            t, {r.read_scope}, true, false, true);
      AddOp(pre + "history", OperationKind::kRefHistory, "Version history of " + A(r.name), t,
            {r.read_scope}, true, false, true);
      AddOp(pre + "version", OperationKind::kRefVersion, "Get version N of " + A(r.name), t,
            {r.read_scope}, true, false, true);
      AddOp(pre + "diff", OperationKind::kRefDiff,
            "RFC 6902 diff between two versions of " + A(r.name), t, {r.read_scope}, true, false,
            true);
    }
    AddOp("resolve", OperationKind::kResolve,
          "Resolve any pointer to its value (needs the read scope of the target repo)", "", {},
          true, false, true);
    AddOp("events.read", OperationKind::kEventsRead, "Read the event log from an offset", "",
          {"events:read"}, true, false, true);
    AddOp("ledger.verify", OperationKind::kLedgerVerify, "Verify the hash chain of the ledger", "",
          {"admin"}, true, false, true);
    AddOp("artifacts.put", OperationKind::kArtifactPut, "Store a content-addressed blob", "",
          {"artifacts:write"}, false, false, true);
    AddOp("artifacts.get", OperationKind::kArtifactGet, "Read a blob by its SHA-256 digest", "",
          {"artifacts:read"}, true, false, true);
    for (const Job& j : p_.jobs) {
      AddOp("jobs." + j.name + ".start", OperationKind::kJobStart,
            "Start job " + j.name + " (capability " + j.capability + ")", j.name, {j.scope}, false,
            false, false);
    }
    if (!p_.jobs.empty()) {
      AddOp("jobs.status", OperationKind::kJobStatus, "Status of a job by handle", "",
            {"jobs:read"}, true, false, true);
      AddOp("jobs.cancel", OperationKind::kJobCancel, "Cancel a job by handle", "", {"jobs:cancel"},
            false, true, true);
    }
    for (const Orchestrator& o : p_.orchestrators) {
      std::string pre = "orch." + o.name + ".";
      AddOp(pre + "start", OperationKind::kOrchStart, "Start orchestrator " + o.name, o.name,
            {o.scope}, false, false, false);
      AddOp(pre + "get", OperationKind::kOrchGet, "State of a run of " + o.name, o.name,
            {o.scope}, true, false, true);
      AddOp(pre + "cancel", OperationKind::kOrchCancel, "Cancel a run of " + o.name, o.name,
            {o.scope}, false, true, true);
    }
  }

  const SourceDocument& doc_;
  Diagnostics diag_;
  Platform p_;
  std::map<std::string, FigmentSource> figments_;
  std::vector<FigmentUse> uses_;
  std::vector<std::pair<std::string, AttributePath>> pointer_paths_;
  std::vector<std::pair<std::string, AttributePath>> writes_paths_;
  std::vector<std::pair<std::string, AttributePath>> reads_paths_;
  std::vector<std::pair<std::string, AttributePath>> orch_paths_;
};

}  // namespace

Result<Platform> Compile(const SourceDocument& doc) {
  try {
    return Compiler(doc).Run();
  } catch (const nlohmann::json::exception& e) {
    // Every access above is checked first; reaching this is a bug, reported
    // as such rather than crashing the caller.
    return InternalError(std::string("domain compiler: ") + e.what());
  }
}

Result<Platform> CompileFile(const std::string& path) {
  BVER_ASSIGN_OR_RETURN(SourceDocument doc, LoadYamlFile(path));
  return Compile(doc);
}

}  // namespace bver::domain
