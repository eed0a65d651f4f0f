#include "src/migrate/body.h"

#include <algorithm>
#include <set>

#include "bver/pointer.h"
#include "src/patch/patch.h"
#include "src/schema/validator.h"

namespace bver::migrate::internal {
namespace {

using nlohmann::json;

std::string Child(const std::string& base, const std::string& key) { return base.empty() ? key : base + "." + key; }

const json& Props(const json& schema) {
  static const json empty = json::object();
  if (schema.is_object() && schema.contains("properties") && schema["properties"].is_object()) {
    return schema["properties"];
  }
  return empty;
}

// "terminals[3].label" -> "terminals[*].label": how the planner names paths.
std::string Generic(const std::string& path) {
  std::string out;
  for (std::size_t i = 0; i < path.size(); ++i) {
    if (path[i] == '[') {
      std::size_t close = path.find(']', i);
      if (close != std::string::npos && close > i + 1 &&
          std::all_of(path.begin() + static_cast<long>(i) + 1, path.begin() + static_cast<long>(close),
                      [](char c) { return c >= '0' && c <= '9'; })) {
        out += "[*]";
        i = close;
        continue;
      }
    }
    out += path[i];
  }
  return out;
}

std::string Parent(const std::string& path) {
  std::size_t dot = path.rfind('.');
  std::size_t bracket = path.rfind('[');
  std::size_t cut = std::string::npos;
  if (dot != std::string::npos) cut = dot;
  if (bracket != std::string::npos && (cut == std::string::npos || bracket > cut)) cut = bracket;
  return cut == std::string::npos ? "" : path.substr(0, cut);
}

// The RFC 6901 pointer of an attribute path ("a.b[2]" -> "/a/b/2").
Result<json::json_pointer> ToJsonPointer(const std::string& attribute_path) {
  BVER_ASSIGN_OR_RETURN(AttributePath p, AttributePath::Parse(attribute_path));
  std::string out;
  for (const PathSegment& s : p.segments()) {
    out += "/" + (s.is_key() ? patch::EscapePointerToken(s.key()) : std::to_string(s.index()));
  }
  return json::json_pointer(out);
}

// Removes the value at `ptr` (not the root); whether there was one.
bool Erase(json& doc, const json::json_pointer& ptr) {
  if (ptr.empty() || !doc.contains(ptr)) return false;
  json& parent = doc[ptr.parent_pointer()];
  const std::string& last = ptr.back();
  if (parent.is_object()) return parent.erase(last) > 0;
  if (parent.is_array()) {
    std::size_t index = std::stoul(last);
    if (index >= parent.size()) return false;
    parent.erase(parent.begin() + static_cast<long>(index));
    return true;
  }
  return false;
}

Result<json::json_pointer> StepPointer(const json& step, const char* key) {
  std::string text = step.value(key, "");
  if (!text.empty() && text[0] != '/') return InvalidArgumentError(std::string(key) + " is not a JSON Pointer");
  try {
    return json::json_pointer(text);
  } catch (const json::exception& e) {
    return InvalidArgumentError(std::string(key) + " is not a JSON Pointer: " + e.what());
  }
}

Status RunStep(json& body, const json& step) {
  const std::string op = step.value("op", "");
  if (op == "split") {
    BVER_ASSIGN_OR_RETURN(json::json_pointer from, StepPointer(step, "from"));
    if (!body.contains(from)) return Status::Ok();  // nothing to split
    if (!body[from].is_string()) return FailedPreconditionError(step.value("from", "") + " is not a string");
    std::string text = body[from].get<std::string>();
    std::string sep = step.value("separator", " ");
    const json& into = step["into"];
    std::vector<std::string> parts;
    std::size_t at = 0;
    while (parts.size() + 1 < into.size()) {
      std::size_t next = text.find(sep, at);
      if (next == std::string::npos) break;
      parts.push_back(text.substr(at, next - at));
      at = next + sep.size();
    }
    parts.push_back(text.substr(at));
    if (!step.value("keep", false)) Erase(body, from);
    for (std::size_t i = 0; i < parts.size(); ++i) {
      json one = json{{"path", into[i]}};
      BVER_ASSIGN_OR_RETURN(json::json_pointer to, StepPointer(one, "path"));
      body[to] = parts[i];
    }
    return Status::Ok();
  }
  if (op == "map") {
    BVER_ASSIGN_OR_RETURN(json::json_pointer path, StepPointer(step, "path"));
    if (!body.contains(path)) return Status::Ok();
    const json& value = body[path];
    const json& values = step["values"];
    if (value.is_string() && values.contains(value.get<std::string>())) {
      body[path] = values[value.get<std::string>()];
    } else if (step.contains("default")) {
      body[path] = step["default"];
    }
    return Status::Ok();
  }
  return patch::ApplyJsonPatch(body, json::array({step}));
}

}  // namespace

Status RunSteps(json& body, const json& steps) {
  for (std::size_t i = 0; i < steps.size(); ++i) {
    Status s = RunStep(body, steps[i]);
    if (!s.ok()) {
      return Status(s.code(), "steps[" + std::to_string(i) + "] (" + steps[i].value("op", "") + "): " + s.message());
    }
  }
  return Status::Ok();
}

Migrator::Migrator(const json& old_manifest, const json& new_manifest, const domain::Platform& platform,
                   const domain::MigrationPlan& plan)
    : platform_(platform), plan_(plan) {
  auto name = [](const json& r) { return r.value("namespace", "") + "/" + r.value("name", ""); };
  for (const json& r : old_manifest.value("repos", json::array())) old_repos_[name(r)] = r;
  for (const json& r : new_manifest.value("repos", json::array())) new_repos_[name(r)] = r;
  for (const json& r : old_manifest.value("repos", json::array())) {
    (new_repos_.count(name(r)) ? repos_ : dropped_).push_back(name(r));
  }
  for (const auto& [repo, r] : new_repos_) {
    auto old = old_repos_.find(repo);
    if (old != old_repos_.end()) kind_renames_[repo] = domain::KindRenames(old->second, r);
  }
  std::string from_version = old_manifest.value("/platform/version"_json_pointer, "");
  for (const json& t : new_manifest.value("migrations", json::array())) {
    if (t.value("from", "") == from_version) transforms_.push_back(t);
  }
}

const json* Migrator::OldSchema(const std::string& repo, const std::string& kind) const {
  auto r = old_repos_.find(repo);
  if (r == old_repos_.end()) return nullptr;
  if (kind.empty()) return &r->second["schema"];
  for (const json& k : r->second["kinds"]) {
    if (k.value("name", "") == kind) return &k["schema"];
  }
  return &r->second["schema"];
}

const json* Migrator::NewSchema(const std::string& repo, const std::string& kind) const {
  auto r = new_repos_.find(repo);
  if (r == new_repos_.end()) return nullptr;
  if (kind.empty()) return &r->second["schema"];
  for (const json& k : r->second["kinds"]) {
    if (k.value("name", "") == kind) return &k["schema"];
  }
  return nullptr;
}

int Migrator::FindChange(const std::string& what, const std::string& repo, const std::string& kind,
                         const std::string& path) const {
  for (std::size_t i = 0; i < plan_.changes.size(); ++i) {
    const domain::Change& c = plan_.changes[i];
    if (c.what == what && c.repo == repo && (c.kind.empty() || c.kind == kind) && c.path == path) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

// The destructive change a violation comes from: same repo and kind, and
// the change's path is the violation's (or, for `required`, a child of it).
int Migrator::MatchViolation(const std::string& repo, const std::string& kind, const Violation& v) const {
  std::string vp = Generic(v.path);
  int prefix = -1;
  for (std::size_t i = 0; i < plan_.changes.size(); ++i) {
    const domain::Change& c = plan_.changes[i];
    if (c.cls != domain::ChangeClass::kDestructive || c.repo != repo || !(c.kind.empty() || c.kind == kind)) continue;
    if (c.path == vp) return static_cast<int>(i);
    if (v.rule == "required" && Parent(c.path) == vp) return static_cast<int>(i);
    if (prefix < 0 && !c.path.empty() && vp.rfind(c.path + ".", 0) == 0) prefix = static_cast<int>(i);
  }
  return prefix;
}

void Migrator::Reshape(json& body, const json& os, const json& ns, const std::string& repo, const std::string& kind,
                       const std::string& path, bool settle, Outcome& out) const {
  if (!body.is_object()) return;
  const json& op = Props(os);
  const json& np = Props(ns);
  const std::map<std::string, std::string> renamed = domain::FieldRenames(op, np);
  std::map<std::string, std::string> reverse;  // new -> old
  for (const auto& [from, to] : renamed) reverse[to] = from;
  if (!settle) {
    for (const auto& [from, to] : renamed) {
      if (body.contains(from) && !body.contains(to)) {
        body[to] = std::move(body[from]);
        body.erase(from);
      }
    }
  } else {
    // What a transform did not carry over is dropped: the data loss the
    // sweep lists.
    for (auto it = op.begin(); it != op.end(); ++it) {
      if (np.contains(it.key()) || renamed.count(it.key()) || !body.contains(it.key())) continue;
      body.erase(it.key());
      std::string p = Child(path, it.key());
      out.touched.push_back(FindChange("field removed", repo, kind, p));
      out.losses.push_back(p + " dropped (the field was removed)");
    }
  }
  for (auto it = np.begin(); it != np.end(); ++it) {
    auto r = reverse.find(it.key());
    const std::string& old_name = r == reverse.end() ? it.key() : r->second;
    if (!op.contains(old_name) || !body.contains(it.key())) continue;
    json& value = body[it.key()];
    std::string p = Child(path, it.key());
    if (value.is_object()) Reshape(value, op[old_name], it.value(), repo, kind, p, settle, out);
    if (value.is_array() && op[old_name].is_object() && op[old_name].contains("items") && it.value().is_object() &&
        it.value().contains("items")) {
      for (json& item : value) {
        Reshape(item, op[old_name]["items"], it.value()["items"], repo, kind, p + "[*]", settle, out);
      }
    }
  }
  if (!settle) return;
  for (const json& r : ns.value("required", json::array())) {
    if (!r.is_string() || body.contains(r.get<std::string>())) continue;
    const std::string key = r.get<std::string>();
    if (np.contains(key) && np[key].is_object() && np[key].contains("default")) body[key] = np[key]["default"];
  }
}

Outcome Migrator::Run(const std::string& repo, const std::string& kind, const json& body, bool yes) const {
  Outcome out;
  out.kind = kind;
  out.body = body;
  const domain::Repo* target = platform_.FindRepo(repo);
  if (target == nullptr) {
    out.failure = "repo " + repo + " is not in the new platform";
    return out;
  }
  if (auto renames = kind_renames_.find(repo); renames != kind_renames_.end() && !kind.empty()) {
    if (auto r = renames->second.find(kind); r != renames->second.end()) out.kind = r->second;
  }
  if (!out.kind.empty() && target->FindKind(out.kind) == nullptr) {
    out.touched.push_back(FindChange("kind removed", repo, kind, ""));
    out.losses.push_back("kind " + kind + " dropped (the kind was removed)");
    out.kind.clear();
  }
  const json* os = OldSchema(repo, kind);
  const json* ns = NewSchema(repo, out.kind);
  // Renames first, then the declared transforms (they see the old fields
  // and the renamed ones), then what is left of removed fields is dropped
  // and defaults are filled.
  if (os != nullptr && ns != nullptr) Reshape(out.body, *os, *ns, repo, out.kind, "", false, out);
  for (const json& t : transforms_) {
    if (t.value("repo", "") != repo) continue;
    if (!t.value("kind", "").empty() && t.value("kind", "") != out.kind) continue;
    Status s = RunSteps(out.body, t["steps"]);
    if (!s.ok()) {
      out.failure = "migrations." + t.value("name", "") + " " + s.message();
      return out;
    }
  }
  if (os != nullptr && ns != nullptr) Reshape(out.body, *os, *ns, repo, out.kind, "", true, out);
  Result<std::shared_ptr<const schema::Validator>> validator = target->BodyValidator(out.kind);
  if (!validator.ok()) {
    out.failure = validator.status().message();
    return out;
  }
  Status valid = out.body.is_object() ? (*validator)->Validate(out.body)
                                      : InvalidArgumentError("the body is no longer a JSON object");
  for (int round = 0; !valid.ok() && round < 4; ++round) {
    std::vector<Violation> violations = valid.violations();
    if (violations.empty()) violations.push_back({"", "type", valid.message()});
    if (round == 0) {
      for (const Violation& v : violations) {
        out.touched.push_back(MatchViolation(repo, out.kind, v));
        out.losses.push_back((v.path.empty() ? std::string("the body") : v.path) + ": " + v.message);
      }
    }
    if (!yes) {
      out.invalid = std::move(violations);
      break;
    }
    // --yes: remove what the new schema refuses, when that is a field.
    bool removed = false;
    for (const Violation& v : violations) {
      if (v.path.empty() || v.rule == "required") continue;
      Result<json::json_pointer> ptr = ToJsonPointer(v.path);
      if (ptr.ok() && Erase(out.body, *ptr)) removed = true;
    }
    valid = (*validator)->Validate(out.body);
    if (!removed && !valid.ok()) {
      out.invalid = valid.violations();
      if (out.invalid.empty()) out.invalid.push_back({"", "type", valid.message()});
      break;
    }
  }
  if (!valid.ok() && out.invalid.empty()) out.invalid = valid.violations();
  std::sort(out.touched.begin(), out.touched.end());
  out.touched.erase(std::unique(out.touched.begin(), out.touched.end()), out.touched.end());
  out.changed = out.kind != kind || out.body != body;
  return out;
}

}  // namespace bver::migrate::internal
