#include "src/domain/migration.h"

#include <algorithm>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

namespace bver::domain {
namespace {

using nlohmann::json;

std::set<std::string> TypeSet(const json& schema) {
  std::set<std::string> out;
  if (!schema.is_object() || !schema.contains("type")) return out;  // any
  const json& t = schema["type"];
  if (t.is_string()) out.insert(t.get<std::string>());
  if (t.is_array()) {
    for (const json& e : t) {
      if (e.is_string()) out.insert(e.get<std::string>());
    }
  }
  return out;
}

// Does a value of type `t` always satisfy type set `s` ("integer" is a number)?
bool Covers(const std::set<std::string>& s, const std::string& t) {
  if (s.empty()) return true;
  if (s.count(t)) return true;
  return t == "integer" && s.count("number");
}

bool CoversAll(const std::set<std::string>& wide, const std::set<std::string>& narrow) {
  if (wide.empty()) return true;
  if (narrow.empty()) return false;
  return std::all_of(narrow.begin(), narrow.end(), [&](const std::string& t) { return Covers(wide, t); });
}

std::string Join(const std::set<std::string>& s) {
  if (s.empty()) return "any";
  std::string out;
  for (const std::string& x : s) out += (out.empty() ? "" : "|") + x;
  return out;
}

std::string Child(const std::string& base, const std::string& key) {
  return base.empty() ? key : base + "." + key;
}

class Planner {
 public:
  // Where the changes being added are (CompareSchema keeps it current).
  struct Loc {
    std::string repo, kind, path;
  };

  void Add(ChangeClass c, std::string subject, std::string what, std::string detail,
           std::vector<Touches> touches = {}, bool rewrites = false) {
    Change ch;
    ch.cls = c;
    ch.subject = std::move(subject);
    ch.what = std::move(what);
    ch.detail = std::move(detail);
    ch.touches = std::move(touches);
    ch.repo = loc_.repo;
    ch.kind = loc_.kind;
    ch.path = loc_.path;
    ch.rewrites = rewrites || c == ChangeClass::kDestructive;
    plan.changes.push_back(std::move(ch));
  }
  void At(std::string repo, std::string kind, std::string path) {
    loc_ = Loc{std::move(repo), std::move(kind), std::move(path)};
  }

  // Compares two schemas describing the values at `path` of records of
  // repo (and kind).
  void CompareSchema(const json& o, const json& n, const std::string& repo, const std::string& kind,
                     const std::string& path, int depth) {
    if (depth > 32 || !o.is_object() || !n.is_object()) return;
    At(repo, kind, path);
    std::string subject = repo + (kind.empty() ? "" : "#" + kind) + (path.empty() ? "" : ": " + path);
    std::string where_path = path.empty() ? "body" : path;
    Touches all{repo, kind, path.empty() ? "all" : where_path + " exists"};

    std::set<std::string> ot = TypeSet(o), nt = TypeSet(n);
    if (ot != nt) {
      if (CoversAll(nt, ot)) {
        Add(ChangeClass::kCompatible, subject, "type widened", Join(ot) + " -> " + Join(nt));
      } else {
        Add(ChangeClass::kDestructive, subject, CoversAll(ot, nt) ? "type narrowed" : "type changed",
            Join(ot) + " -> " + Join(nt) + "; values of the dropped type become invalid", {all});
      }
    }
    if (o.contains("enum") || n.contains("enum")) {
      if (!n.contains("enum")) {
        Add(ChangeClass::kCompatible, subject, "enum removed", "any value is now allowed");
      } else if (!o.contains("enum")) {
        Add(ChangeClass::kDestructive, subject, "enum added",
            "values outside " + n["enum"].dump() + " become invalid",
            {{repo, kind, where_path + " not in " + n["enum"].dump()}});
      } else {
        json removed = json::array(), added = json::array();
        for (const json& v : o["enum"]) {
          if (std::find(n["enum"].begin(), n["enum"].end(), v) == n["enum"].end()) removed.push_back(v);
        }
        for (const json& v : n["enum"]) {
          if (std::find(o["enum"].begin(), o["enum"].end(), v) == o["enum"].end()) added.push_back(v);
        }
        if (!removed.empty()) {
          Add(ChangeClass::kDestructive, subject, "enum value removed",
              "records holding " + removed.dump() + " become invalid",
              {{repo, kind, where_path + " in " + removed.dump()}});
        }
        if (!added.empty()) {
          Add(ChangeClass::kCompatible, subject, "enum value added", added.dump() + " now allowed");
        }
      }
    }
    if (o.value("const", json()) != n.value("const", json()) && n.contains("const")) {
      Add(ChangeClass::kDestructive, subject, "const changed", "now must equal " + n["const"].dump(),
          {{repo, kind, where_path + " != " + n["const"].dump()}});
    }
    CompareBound(o, n, "maximum", true, subject, repo, kind, where_path, "<=");
    CompareBound(o, n, "exclusiveMaximum", true, subject, repo, kind, where_path, "<");
    CompareBound(o, n, "maxLength", true, subject, repo, kind, where_path, "length <=");
    CompareBound(o, n, "maxItems", true, subject, repo, kind, where_path, "items <=");
    CompareBound(o, n, "maxProperties", true, subject, repo, kind, where_path, "properties <=");
    CompareBound(o, n, "minimum", false, subject, repo, kind, where_path, ">=");
    CompareBound(o, n, "exclusiveMinimum", false, subject, repo, kind, where_path, ">");
    CompareBound(o, n, "minLength", false, subject, repo, kind, where_path, "length >=");
    CompareBound(o, n, "minItems", false, subject, repo, kind, where_path, "items >=");
    CompareBound(o, n, "minProperties", false, subject, repo, kind, where_path, "properties >=");
    if (o.value("pattern", "") != n.value("pattern", "")) {
      if (!n.contains("pattern")) {
        Add(ChangeClass::kCompatible, subject, "pattern removed", "any string is now allowed");
      } else {
        Add(ChangeClass::kDestructive, subject, o.contains("pattern") ? "pattern changed" : "pattern added",
            "values not matching " + n["pattern"].dump() + " become invalid",
            {{repo, kind, where_path + " !~ " + n["pattern"].dump()}});
      }
    }
    CompareRules(o, n, subject, repo, kind);
    if (o.value("x-bver-pointer", "") != n.value("x-bver-pointer", "") && n.contains("x-bver-pointer")) {
      Add(ChangeClass::kDestructive, subject, "pointer target changed",
          "now points to " + n["x-bver-pointer"].get<std::string>(), {all});
    }

    // Object structure.
    const json empty = json::object();
    const json& op = o.contains("properties") ? o["properties"] : empty;
    const json& np = n.contains("properties") ? n["properties"] : empty;
    std::set<std::string> oreq, nreq;
    for (const json& r : o.value("required", json::array())) {
      if (r.is_string()) oreq.insert(r.get<std::string>());
    }
    for (const json& r : n.value("required", json::array())) {
      if (r.is_string()) nreq.insert(r.get<std::string>());
    }
    const std::map<std::string, std::string> renamed = FieldRenames(op, np);
    std::set<std::string> rename_targets;
    for (const auto& [from, to] : renamed) {
      rename_targets.insert(to);
      if (oreq.count(from)) oreq.insert(to);
    }
    for (auto it = op.begin(); it != op.end(); ++it) {
      std::string p = Child(path, it.key());
      std::string s = repo + (kind.empty() ? "" : "#" + kind) + ": " + p;
      At(repo, kind, p);
      if (auto r = renamed.find(it.key()); r != renamed.end()) {
        std::string np_path = Child(path, r->second);
        At(repo, kind, np_path);
        Add(ChangeClass::kCompatible, repo + (kind.empty() ? "" : "#" + kind) + ": " + np_path, "field renamed",
            p + " -> " + np_path + "; values move with it", {}, true);
        CompareSchema(it.value(), np[r->second], repo, kind, np_path, depth + 1);
        continue;
      }
      if (!np.contains(it.key())) {
        bool closed = n.value("additionalProperties", json(true)) == false ||
                      n.value("unevaluatedProperties", json(true)) == false;
        Add(ChangeClass::kDestructive, s, "field removed",
            closed ? "records that set it become invalid (additionalProperties is false)"
                   : "its values are no longer described or validated; data is dropped on sweep",
            {{repo, kind, p + " exists"}});
      } else {
        CompareSchema(it.value(), np[it.key()], repo, kind, p, depth + 1);
      }
    }
    for (auto it = np.begin(); it != np.end(); ++it) {
      if (op.contains(it.key()) || rename_targets.count(it.key())) continue;
      std::string p = Child(path, it.key());
      std::string s = repo + (kind.empty() ? "" : "#" + kind) + ": " + p;
      At(repo, kind, p);
      if (!nreq.count(it.key())) Add(ChangeClass::kAdditive, s, "field added", "optional");
    }
    for (const std::string& r : nreq) {
      if (oreq.count(r)) continue;
      std::string p = Child(path, r);
      std::string s = repo + (kind.empty() ? "" : "#" + kind) + ": " + p;
      At(repo, kind, p);
      bool has_default = np.contains(r) && np[r].is_object() && np[r].contains("default");
      bool is_new = !op.contains(r) && !rename_targets.count(r);
      if (has_default) {
        Add(ChangeClass::kCompatible, s, is_new ? "required field added with default" : "field made required",
            "records without it take the default " + np[r]["default"].dump(), {}, true);
      } else {
        Add(ChangeClass::kDestructive, s,
            is_new ? "required field added without default" : "field made required without default",
            "records without it become invalid", {{repo, kind, p + " missing"}});
      }
    }
    At(repo, kind, path);
    for (const std::string& r : oreq) {
      if (!nreq.count(r) && np.contains(r)) {
        Add(ChangeClass::kCompatible, repo + (kind.empty() ? "" : "#" + kind) + ": " + Child(path, r),
            "field made optional", "");
      }
    }
    At(repo, kind, path);
    bool o_closed = o.value("additionalProperties", json(true)) == false;
    bool n_closed = n.value("additionalProperties", json(true)) == false;
    if (!o_closed && n_closed) {
      Add(ChangeClass::kDestructive, subject, "additional properties forbidden",
          "records with fields not declared become invalid", {{repo, kind, where_path + " has undeclared fields"}});
    } else if (o_closed && !n_closed) {
      Add(ChangeClass::kCompatible, subject, "additional properties allowed", "");
    }
    if (o.contains("items") && n.contains("items")) {
      CompareSchema(o["items"], n["items"], repo, kind, path + "[*]", depth + 1);
    }
  }

  // allOf entries (a figment's rules, a kind's extra keywords) compared as
  // a set, keyed by their title ("figment.rule") when they have one: a new
  // or changed entry may refuse stored bodies (the dry run of `migrate
  // apply` finds exactly which); a removed one refuses nothing.
  void CompareRules(const json& o, const json& n, const std::string& subject, const std::string& repo,
                    const std::string& kind) {
    auto entries = [](const json& s) {
      std::map<std::string, json> m;
      const json& all = s.contains("allOf") && s["allOf"].is_array() ? s["allOf"] : json::array();
      for (const json& e : all) {
        bool titled = e.is_object() && e.contains("title") && e["title"].is_string();
        m[titled ? "rule " + e["title"].get<std::string>() : "allOf entry " + e.dump()] = e;
      }
      return m;
    };
    const std::map<std::string, json> oe = entries(o), ne = entries(n);
    for (const auto& [key, entry] : ne) {
      auto it = oe.find(key);
      if (it != oe.end() && it->second == entry) continue;
      Add(ChangeClass::kDestructive, subject, it == oe.end() ? "rule added" : "rule changed",
          key + ": bodies that do not meet it become invalid", {{repo, kind, "fails " + key}});
    }
    for (const auto& [key, entry] : oe) {
      if (!ne.count(key)) Add(ChangeClass::kCompatible, subject, "rule removed", key + " no longer applies");
    }
  }

  void CompareBound(const json& o, const json& n, const char* key, bool is_max,
                    const std::string& subject, const std::string& repo, const std::string& kind,
                    const std::string& where_path, const std::string& op) {
    bool oh = o.contains(key) && o[key].is_number();
    bool nh = n.contains(key) && n[key].is_number();
    if (!oh && !nh) return;
    if (oh && nh && o[key].get<double>() == n[key].get<double>()) return;
    bool tighter = !oh || (nh && (is_max ? n[key].get<double>() < o[key].get<double>()
                                         : n[key].get<double>() > o[key].get<double>()));
    if (!nh) tighter = false;
    std::string desc = std::string(key) + " " + (oh ? o[key].dump() : "none") + " -> " +
                       (nh ? n[key].dump() : "none");
    if (tighter) {
      Add(ChangeClass::kDestructive, subject, "constraint tightened", desc,
          {{repo, kind, "not (" + where_path + " " + op + " " + n[key].dump() + ")"}});
    } else {
      Add(ChangeClass::kCompatible, subject, "constraint loosened", desc);
    }
  }

  void CompareNamed(const json& o, const json& n, const char* collection, const char* key,
                    const char* noun) {
    std::map<std::string, json> om, nm;
    for (const json& x : o.value(collection, json::array())) om[x.value(key, "")] = x;
    for (const json& x : n.value(collection, json::array())) nm[x.value(key, "")] = x;
    for (const auto& [name, x] : om) {
      if (!nm.count(name)) {
        Add(ChangeClass::kCompatible, std::string(noun) + " " + name, std::string(noun) + " removed",
            "no data is lost; callers of its operations get not_found");
      } else if (nm[name] != x) {
        Add(ChangeClass::kCompatible, std::string(noun) + " " + name, std::string(noun) + " changed",
            "stored data is unaffected");
      }
    }
    for (const auto& [name, x] : nm) {
      if (!om.count(name)) {
        Add(ChangeClass::kAdditive, std::string(noun) + " " + name, std::string(noun) + " added", "");
      }
    }
  }

  MigrationPlan plan;

 private:
  Loc loc_;
};

}  // namespace

namespace {

std::map<std::string, json> ById(const json& manifest, const char* collection, const char* key) {
  std::map<std::string, json> out;
  for (const json& x : manifest.value(collection, json::array())) out[x.value(key, "")] = x;
  return out;
}

// The first property name of a dotted path: "meta.owner" -> "meta".
std::string Head(const std::string& path) {
  return path.substr(0, path.find_first_of(".["));
}

// The figments ("id@version") a repo, and its kind when given, of `manifest` use.
std::vector<std::string> UsedRefs(const json& manifest, const std::string& repo, const std::string& kind) {
  std::vector<std::string> refs;
  for (const json& r : manifest.value("repos", json::array())) {
    if (r.value("namespace", "") + "/" + r.value("name", "") != repo) continue;
    refs = r.value("figments", std::vector<std::string>{});
    for (const json& k : r.value("kinds", json::array())) {
      if (!kind.empty() && k.value("name", "") == kind) {
        std::vector<std::string> more = k.value("figments", std::vector<std::string>{});
        refs.insert(refs.end(), more.begin(), more.end());
      }
    }
  }
  return refs;
}

// The ref of figment `id` when the repo (or kind) uses it.
std::string UsedRef(const json& manifest, const std::string& repo, const std::string& kind, const std::string& id) {
  for (const std::string& ref : UsedRefs(manifest, repo, kind)) {
    if (ref.substr(0, ref.find('@')) == id) return ref;
  }
  return "";
}

// The figment a repo (and kind) of `manifest` uses whose schema declares
// property `field`.
std::string FigmentOf(const json& manifest, const std::map<std::string, json>& figments,
                      const std::string& repo, const std::string& kind, const std::string& field) {
  for (const std::string& ref : UsedRefs(manifest, repo, kind)) {
    auto f = figments.find(ref.substr(0, ref.find('@')));
    if (f == figments.end()) continue;
    const json& props = f->second.value("/schema/properties"_json_pointer, json::object());
    if (props.contains(field)) return ref;
    // A renamed field: the new manifest's figment declares it under its new name.
    for (auto it = props.begin(); it != props.end(); ++it) {
      if (it.value().is_object() && it.value().value("x-bver-renamed-from", "") == field) return ref;
    }
  }
  return "";
}

std::string JoinList(const std::vector<std::string>& v) {
  std::string out;
  for (const std::string& s : v) out += (out.empty() ? "" : ", ") + s;
  return out.empty() ? "nothing" : out;
}

// Marks each repo change that comes from a figment, and lists each figment
// added, removed or changed once, naming its users.
void PlanFigments(MigrationPlan& plan, const json& o, const json& n) {
  const std::map<std::string, json> ofigs = ById(o, "figments", "id");
  const std::map<std::string, json> nfigs = ById(n, "figments", "id");
  std::map<std::string, std::vector<std::string>> touched;  // figment id -> subjects
  for (Change& c : plan.changes) {
    if (c.repo.empty()) continue;
    std::string ref;
    if (c.what.rfind("rule ", 0) == 0 && c.detail.rfind("rule ", 0) == 0) {
      // "rule audited.owner_named: ...": the figment is the title's first part.
      std::string id = c.detail.substr(5, c.detail.find('.') - 5);
      ref = UsedRef(n, c.repo, c.kind, id);
      if (ref.empty()) ref = UsedRef(o, c.repo, c.kind, id);
    } else if (!c.path.empty()) {
      ref = FigmentOf(n, nfigs, c.repo, c.kind, Head(c.path));
      if (ref.empty()) ref = FigmentOf(o, ofigs, c.repo, c.kind, Head(c.path));
    }
    if (ref.empty()) continue;
    c.figment = ref;
    c.detail += (c.detail.empty() ? "" : " ") + std::string("(from figment ") + ref + ")";
    std::string id = ref.substr(0, ref.find('@'));
    std::vector<std::string>& users = touched[id];
    std::string user = c.repo + (c.kind.empty() ? "" : "#" + c.kind);
    if (std::find(users.begin(), users.end(), user) == users.end()) users.push_back(user);
  }
  auto strip = [](json f) {
    f.erase("used_by");
    return f;
  };
  for (const auto& [id, nf] : nfigs) {
    std::vector<std::string> used_by = nf.value("used_by", std::vector<std::string>{});
    Change c;
    c.subject = "figment " + id;
    auto of = ofigs.find(id);
    if (of == ofigs.end()) {
      c.cls = ChangeClass::kAdditive;
      c.what = "figment added";
      c.detail = id + "@" + nf.value("version", "") + ", used by " + JoinList(used_by);
    } else if (strip(of->second) != strip(nf)) {
      c.cls = ChangeClass::kCompatible;
      c.what = "figment changed";
      std::string ov = of->second.value("version", ""), nv = nf.value("version", "");
      c.detail = id + " " + ov + " -> " + nv + ", used by " + JoinList(used_by) + "; what it changes in " +
                 JoinList(touched[id]) + " is listed under each, marked (from figment " + id + "@" + nv + ")";
      if (ov == nv) c.detail += "; its content changed but its version did not: bump it so users can pin one";
    } else {
      continue;
    }
    plan.changes.push_back(std::move(c));
  }
  for (const auto& [id, of] : ofigs) {
    if (nfigs.count(id)) continue;
    Change c;
    c.cls = ChangeClass::kCompatible;
    c.subject = "figment " + id;
    c.what = "figment removed";
    c.detail = "was used by " + JoinList(of.value("used_by", std::vector<std::string>{})) +
               "; what leaving it changes in each repo is listed under that repo";
    plan.changes.push_back(std::move(c));
  }
}

}  // namespace

const char* ChangeClassName(ChangeClass c) {
  switch (c) {
    case ChangeClass::kAdditive: return "additive";
    case ChangeClass::kCompatible: return "compatible";
    case ChangeClass::kDestructive: return "destructive";
  }
  return "destructive";
}

std::map<std::string, std::string> FieldRenames(const json& old_props, const json& new_props) {
  std::map<std::string, std::string> renamed;
  if (!old_props.is_object() || !new_props.is_object()) return renamed;
  for (auto it = new_props.begin(); it != new_props.end(); ++it) {
    if (!it.value().is_object() || !it.value().contains("x-bver-renamed-from")) continue;
    const json& from = it.value()["x-bver-renamed-from"];
    if (!from.is_string()) continue;
    std::string old_name = from.get<std::string>();
    if (old_props.contains(old_name) && !new_props.contains(old_name) && !old_props.contains(it.key())) {
      renamed[old_name] = it.key();
    }
  }
  return renamed;
}

std::map<std::string, std::string> KindRenames(const json& old_repo, const json& new_repo) {
  std::set<std::string> old_kinds, new_kinds;
  for (const json& k : old_repo.value("kinds", json::array())) old_kinds.insert(k.value("name", ""));
  for (const json& k : new_repo.value("kinds", json::array())) new_kinds.insert(k.value("name", ""));
  std::map<std::string, std::string> renamed;
  for (const json& k : new_repo.value("kinds", json::array())) {
    std::string from = k.value("renamed_from", "");
    std::string to = k.value("name", "");
    if (!from.empty() && old_kinds.count(from) && !new_kinds.count(from) && !old_kinds.count(to)) renamed[from] = to;
  }
  return renamed;
}

bool MigrationPlan::Rewrites() const {
  return std::any_of(changes.begin(), changes.end(), [](const Change& c) { return c.rewrites; });
}

int MigrationPlan::Count(ChangeClass c) const {
  return static_cast<int>(
      std::count_if(changes.begin(), changes.end(), [c](const Change& x) { return x.cls == c; }));
}

MigrationPlan PlanMigration(const json& o, const json& n) {
  Planner p;
  p.plan.from_version = o.value("/platform/version"_json_pointer, "");
  p.plan.to_version = n.value("/platform/version"_json_pointer, "");
  std::map<std::string, json> orepos, nrepos;
  for (const json& r : o.value("repos", json::array())) {
    orepos[r.value("namespace", "") + "/" + r.value("name", "")] = r;
  }
  for (const json& r : n.value("repos", json::array())) {
    nrepos[r.value("namespace", "") + "/" + r.value("name", "")] = r;
  }
  for (const auto& [name, r] : orepos) {
    p.At(name, "", "");
    if (!nrepos.count(name)) {
      p.Add(ChangeClass::kDestructive, name, "repo removed", "every reference of the repo and its history",
            {{name, "", "all"}});
      continue;
    }
    const json& nr = nrepos[name];
    p.CompareSchema(r["schema"], nr["schema"], name, "", "", 0);
    std::map<std::string, json> okinds, nkinds;
    for (const json& k : r.value("kinds", json::array())) okinds[k.value("name", "")] = k;
    for (const json& k : nr.value("kinds", json::array())) nkinds[k.value("name", "")] = k;
    const std::map<std::string, std::string> renamed = KindRenames(r, nr);
    std::set<std::string> rename_targets;
    for (const auto& [from, to] : renamed) rename_targets.insert(to);
    for (const auto& [kname, k] : okinds) {
      p.At(name, kname, "");
      if (auto rn = renamed.find(kname); rn != renamed.end()) {
        p.At(name, rn->second, "");
        p.Add(ChangeClass::kCompatible, name + "#" + rn->second, "kind renamed",
              kname + " -> " + rn->second + "; its references keep their ids and history", {}, true);
        p.CompareSchema(k["extension"], nkinds[rn->second]["extension"], name, rn->second, "", 0);
      } else if (!nkinds.count(kname)) {
        p.Add(ChangeClass::kDestructive, name + "#" + kname, "kind removed",
              "references of this kind lose their kind", {{name, kname, "all"}});
      } else {
        p.CompareSchema(k["extension"], nkinds[kname]["extension"], name, kname, "", 0);
      }
    }
    for (const auto& [kname, k] : nkinds) {
      p.At(name, kname, "");
      if (!okinds.count(kname) && !rename_targets.count(kname)) {
        p.Add(ChangeClass::kAdditive, name + "#" + kname, "kind added", "");
      }
    }
    p.At(name, "", "");
    if (r.value("scopes", json()) != nr.value("scopes", json())) {
      p.Add(ChangeClass::kCompatible, name, "scopes changed",
            r.value("scopes", json()).dump() + " -> " + nr.value("scopes", json()).dump() +
                "; API keys and tokens may need the new scopes");
    }
    if (!r.value("kind_required", false) && nr.value("kind_required", false)) {
      p.Add(ChangeClass::kDestructive, name, "kind made required", "references without a kind become invalid",
            {{name, "", "kind missing"}});
    }
  }
  for (const auto& [name, r] : nrepos) {
    p.At(name, "", "");
    if (!orepos.count(name)) p.Add(ChangeClass::kAdditive, name, "repo added", "");
  }
  // Declared transforms that run on this migration (from the old version).
  for (const json& t : n.value("migrations", json::array())) {
    if (t.value("from", "") != p.plan.from_version) continue;
    std::string repo = t.value("repo", ""), kind = t.value("kind", "");
    p.At(repo, kind, "");
    p.Add(ChangeClass::kCompatible, repo + (kind.empty() ? "" : "#" + kind), "transform",
          "migrations." + t.value("name", "") + ": " + std::to_string(t.value("steps", json::array()).size()) +
              " step(s) run on every stored body, checked on a dry run first",
          {}, true);
  }
  PlanFigments(p.plan, o, n);
  p.At("", "", "");
  p.CompareNamed(o, n, "capabilities", "id", "capability");
  p.CompareNamed(o, n, "jobs", "name", "job");
  p.CompareNamed(o, n, "orchestrators", "name", "orchestrator");
  p.CompareNamed(o, n, "triggers", "name", "trigger");
  // Destructive first, then compatible, then additive: what needs a decision leads.
  std::stable_sort(p.plan.changes.begin(), p.plan.changes.end(),
                   [](const Change& a, const Change& b) {
                     return static_cast<int>(a.cls) > static_cast<int>(b.cls);
                   });
  return std::move(p.plan);
}

json MigrationPlanToJson(const MigrationPlan& plan) {
  json changes = json::array();
  for (const Change& c : plan.changes) {
    json touches = json::array();
    for (const Touches& t : c.touches) {
      touches.push_back(json{{"repo", t.repo}, {"kind", t.kind}, {"where", t.where}});
    }
    changes.push_back(json{{"class", ChangeClassName(c.cls)},
                           {"subject", c.subject},
                           {"what", c.what},
                           {"detail", c.detail},
                           {"touches", touches},
                           {"repo", c.repo},
                           {"kind", c.kind},
                           {"path", c.path},
                           {"rewrites", c.rewrites}});
    if (!c.figment.empty()) changes.back()["figment"] = c.figment;
  }
  return json{{"from_version", plan.from_version},
              {"to_version", plan.to_version},
              {"rewrites", plan.Rewrites()},
              {"summary", json{{"additive", plan.Count(ChangeClass::kAdditive)},
                               {"compatible", plan.Count(ChangeClass::kCompatible)},
                               {"destructive", plan.Count(ChangeClass::kDestructive)}}},
              {"changes", changes}};
}

}  // namespace bver::domain
