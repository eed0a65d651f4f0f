#include "src/plugin/manifest.h"

#include <cstdio>
#include <filesystem>
#include <regex>

#include <nlohmann/json.hpp>

#include "src/core/digest.h"
#include "src/domain/reader.h"
#include "src/domain/schema_walk.h"
#include "src/schema/validator.h"

namespace bver::plugin {

namespace fs = std::filesystem;
using domain::Diagnostics;
using domain::ObjectReader;
using nlohmann::json;

const char* PluginKindName(PluginKind k) { return k == PluginKind::kNative ? "native" : "exec"; }

const CapabilitySpec* Manifest::FindCapability(const std::string& id) const {
  for (const CapabilitySpec& c : capabilities) {
    if (c.id == id) return &c;
  }
  return nullptr;
}

std::optional<Semver> ParseSemver(const std::string& s) {
  if (!domain::IsSemver(s)) return std::nullopt;
  Semver v;
  if (std::sscanf(s.c_str(), "%d.%d.%d", &v.major, &v.minor, &v.patch) != 3) return std::nullopt;
  return v;
}

namespace {

const std::regex& PluginIdPattern() {
  static const std::regex k(R"([a-z][a-z0-9-]{0,62})");
  return k;
}
const std::regex& DottedName() {
  static const std::regex k(R"([a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*)");
  return k;
}
const std::regex& RepoName() {
  static const std::regex k(R"([a-z][a-z0-9_-]{0,62}/[a-z][a-z0-9_-]{0,62})");
  return k;
}

std::optional<domain::Primitive> ParsePrimitive(const std::string& s) {
  using domain::Primitive;
  for (Primitive p : {Primitive::kInterpreter, Primitive::kResolver, Primitive::kGenerator,
                      Primitive::kValidator, Primitive::kSimulator, Primitive::kEvaluator}) {
    if (s == domain::PrimitiveName(p)) return p;
  }
  return std::nullopt;
}

// A relative path that stays inside the plugin folder.
bool IsContainedRelative(const std::string& p) {
  if (p.empty() || p[0] == '/') return false;
  for (const auto& part : fs::path(p)) {
    if (part == "..") return false;
  }
  return true;
}

class ManifestReader {
 public:
  explicit ManifestReader(const domain::SourceDocument& doc) : doc_(doc), diag_(doc) {}

  Result<Manifest> Read(const std::string& folder) {
    Manifest m;
    m.folder = folder;
    ObjectReader top(diag_, doc_.value(), AttributePath(),
                     {"plugin_id", "version", "description", "runtime_api_min", "runtime_api_max",
                      "kind", "entry", "capabilities", "scopes", "owns"});
    if (!top.valid()) return diag_.ToStatus();
    AttributePath root;

    m.plugin_id = top.String("plugin_id", true).value_or("");
    if (!m.plugin_id.empty() && !std::regex_match(m.plugin_id, PluginIdPattern())) {
      diag_.Error(root.Key("plugin_id"), "plugin.name",
                  "plugin id \"" + m.plugin_id + "\" must match [a-z][a-z0-9-]{0,62}");
    }
    m.version = top.String("version", true).value_or("");
    CheckSemver(m.version, root.Key("version"));
    top.String("description");

    bool have_min = top.Has("runtime_api_min"), have_max = top.Has("runtime_api_max");
    if (!have_min) diag_.Error(root, "plugin.required", "missing required key \"runtime_api_min\"");
    if (!have_max) diag_.Error(root, "plugin.required", "missing required key \"runtime_api_max\"");
    auto mn = top.Integer("runtime_api_min", 1, 1000000);
    auto mx = top.Integer("runtime_api_max", 1, 1000000);
    if (mn) m.runtime_api_min = static_cast<int>(*mn);
    if (mx) m.runtime_api_max = static_cast<int>(*mx);
    if (mn && mx && *mn > *mx) {
      diag_.Error(root.Key("runtime_api_max"), "plugin.range",
                  "runtime_api_max (" + std::to_string(*mx) + ") is below runtime_api_min (" +
                      std::to_string(*mn) + ")");
    }

    if (auto k = top.String("kind", true)) {
      if (*k == "native") {
        m.kind = PluginKind::kNative;
      } else if (*k == "exec") {
        m.kind = PluginKind::kExec;
      } else {
        diag_.Error(root.Key("kind"), "plugin.enum",
                    "unknown kind \"" + *k + "\"; expected native or exec");
      }
    }
    ReadEntry(top, m);

    const json* caps = top.Get("capabilities");
    if (caps == nullptr) {
      diag_.Error(root, "plugin.required", "missing required key \"capabilities\"");
    } else if (!caps->is_array() || caps->empty()) {
      diag_.Error(root.Key("capabilities"), "plugin.type",
                  "expected a non-empty list of capabilities");
    } else {
      for (std::size_t i = 0; i < caps->size(); ++i) {
        ReadCapability((*caps)[i], root.Key("capabilities").Index(i), m);
      }
    }
    m.scopes = top.StringList("scopes");
    if (const json* owns = top.Object("owns")) {
      ObjectReader o(diag_, *owns, root.Key("owns"), {"namespaces", "kinds"});
      m.owns_namespaces = o.StringList("namespaces");
      m.owns_kinds = o.StringList("kinds");
      for (std::size_t i = 0; i < m.owns_kinds.size(); ++i) {
        if (!std::regex_match(m.owns_kinds[i], DottedName())) {
          diag_.Error(root.Key("owns").Key("kinds").Index(i), "plugin.name",
                      "kind \"" + m.owns_kinds[i] + "\" must be dotted lower-case words");
        }
      }
    }
    if (!diag_.ok()) return diag_.ToStatus();
    return m;
  }

 private:
  void CheckSemver(const std::string& v, const AttributePath& path) {
    if (!v.empty() && !domain::IsSemver(v)) {
      diag_.Error(path, "plugin.semver",
                  "\"" + v + "\" is not a semantic version (MAJOR.MINOR.PATCH)");
    }
  }

  void ReadEntry(ObjectReader& top, Manifest& m) {
    AttributePath path = AttributePath().Key("entry");
    if (!top.Has("entry")) {
      diag_.Error(AttributePath(), "plugin.required", "missing required key \"entry\"");
      return;
    }
    m.entry = top.StringList("entry");
    if (m.entry.empty()) {
      diag_.Error(path, "plugin.value", "the entry must name what to run");
      return;
    }
    if (m.kind == PluginKind::kNative) {
      if (m.entry.size() != 1) {
        diag_.Error(path, "plugin.value",
                    "a native plugin's entry is one path: the .so relative to the plugin folder");
      } else if (!IsContainedRelative(m.entry[0]) || fs::path(m.entry[0]).extension() != ".so") {
        diag_.Error(path, "plugin.value",
                    "\"" + m.entry[0] +
                        "\" must be a .so path relative to the plugin folder, without \"..\"");
      }
    } else {
      const std::string& prog = m.entry[0];
      bool bare = prog.find('/') == std::string::npos;
      if (prog.empty() || (!bare && !IsContainedRelative(prog))) {
        diag_.Error(path.Index(0), "plugin.value",
                    "\"" + prog +
                        "\" must be a path relative to the plugin folder (without \"..\") or a "
                        "program name looked up on PATH");
      }
    }
  }

  domain::JsonPtr ReadSchema(const json* value, const AttributePath& path) {
    if (value == nullptr) return nullptr;
    if (!value->is_object()) {
      diag_.Error(path, "plugin.schema", "a contract must be a JSON Schema mapping");
      return nullptr;
    }
    domain::SchemaWalkResult walked = domain::WalkSchema(*value, path, diag_);
    json s = walked.expanded;
    if (!s.contains("type")) s["type"] = "object";
    if (s["type"] != "object") {
      diag_.Error(path.Key("type"), "plugin.schema",
                  "contracts are JSON objects: the root type must be \"object\"");
    }
    auto compiled = schema::Validator::Compile(s);
    if (!compiled.ok()) {
      diag_.Error(path, "plugin.schema", "invalid JSON Schema: " + compiled.status().message());
    }
    return std::make_shared<const json>(std::move(s));
  }

  void ReadLimits(const json* value, const AttributePath& path, Limits& l) {
    if (value == nullptr) return;
    ObjectReader r(diag_, *value, path,
                   {"timeout_seconds", "memory_mb", "cpu_seconds", "open_files", "processes"});
    l.timeout_seconds = r.Integer("timeout_seconds", 1, 7 * 24 * 3600).value_or(l.timeout_seconds);
    l.memory_mb = r.Integer("memory_mb", 16, 1 << 20).value_or(l.memory_mb);
    l.cpu_seconds = r.Integer("cpu_seconds", 1, 7 * 24 * 3600).value_or(l.cpu_seconds);
    l.open_files = r.Integer("open_files", 16, 1 << 20).value_or(l.open_files);
    l.processes = r.Integer("processes", 1, 1 << 16).value_or(l.processes);
  }

  void ReadCapability(const json& value, const AttributePath& path, Manifest& m) {
    ObjectReader r(diag_, value, path,
                   {"id", "type", "version", "description", "deterministic", "input", "output",
                    "writes", "network", "labels", "limits", "trust"});
    if (!r.valid()) return;
    CapabilitySpec c;
    c.id = r.String("id", true).value_or("");
    if (!c.id.empty() && !std::regex_match(c.id, DottedName())) {
      diag_.Error(path.Key("id"), "plugin.name",
                  "capability id \"" + c.id + "\" must be dotted lower-case words");
    }
    for (const CapabilitySpec& other : m.capabilities) {
      if (!c.id.empty() && other.id == c.id) {
        diag_.Error(path.Key("id"), "plugin.duplicate",
                    "capability \"" + c.id + "\" is declared twice");
      }
    }
    if (auto t = r.String("type", true)) {
      if (auto p = ParsePrimitive(*t)) {
        c.primitive = *p;
      } else {
        diag_.Error(path.Key("type"), "plugin.enum",
                    "unknown primitive \"" + *t +
                        "\"; expected one of: interpreter, resolver, generator, validator, "
                        "simulator, evaluator");
      }
    }
    c.version = r.String("version", true).value_or("");
    CheckSemver(c.version, path.Key("version"));
    r.String("description");
    c.deterministic = r.Bool("deterministic").value_or(true);
    if (!r.Has("input")) {
      diag_.Error(path, "plugin.required", "missing required key \"input\"");
    }
    c.input_schema = ReadSchema(r.Get("input"), path.Key("input"));
    c.output_schema = ReadSchema(r.Get("output"), path.Key("output"));
    c.writes = r.StringList("writes");
    for (std::size_t i = 0; i < c.writes.size(); ++i) {
      if (!std::regex_match(c.writes[i], RepoName())) {
        diag_.Error(path.Key("writes").Index(i), "plugin.value",
                    "\"" + c.writes[i] + "\" is not a repo written as ns/repo");
      }
    }
    if (!c.writes.empty() && c.primitive != domain::Primitive::kGenerator &&
        c.primitive != domain::Primitive::kInterpreter && c.primitive != domain::Primitive::kSimulator) {
      diag_.Error(path.Key("writes"), "plugin.value",
                  std::string("only generators, interpreters and simulators write; a ") +
                      domain::PrimitiveName(c.primitive) + " returns its output and changes nothing");
    }
    c.network = r.Bool("network").value_or(false);
    if (const json* labels = r.Object("labels")) {
      for (auto it = labels->begin(); it != labels->end(); ++it) {
        if (!it.value().is_string()) {
          diag_.Error(path.Key("labels").Key(it.key()), "plugin.type",
                      "a label's required value is a string");
          continue;
        }
        c.labels[it.key()] = it.value().get<std::string>();
      }
    }
    ReadLimits(r.Object("limits"), path.Key("limits"), c.limits);
    if (const json* trust = r.Object("trust")) {
      ObjectReader t(diag_, *trust, path.Key("trust"), {"runs", "agree"});
      Trust tr;
      if (!t.Has("runs")) diag_.Error(path.Key("trust"), "plugin.required", "missing required key \"runs\"");
      if (!t.Has("agree")) diag_.Error(path.Key("trust"), "plugin.required", "missing required key \"agree\"");
      tr.runs = static_cast<int>(t.Integer("runs", 1, 16).value_or(1));
      tr.agree = static_cast<int>(t.Integer("agree", 1, 16).value_or(1));
      if (tr.agree > tr.runs) {
        diag_.Error(path.Key("trust").Key("agree"), "plugin.range",
                    "agree (" + std::to_string(tr.agree) + ") cannot exceed runs (" +
                        std::to_string(tr.runs) + ")");
      } else if (2 * tr.agree <= tr.runs) {
        diag_.Error(path.Key("trust").Key("agree"), "plugin.range",
                    "agree must be a majority of runs, or two disagreeing groups could both win");
      }
      c.trust = tr;
    }
    m.capabilities.push_back(std::move(c));
  }

  const domain::SourceDocument& doc_;
  Diagnostics diag_;
};

}  // namespace

Result<Manifest> ParseManifest(const domain::SourceDocument& doc, const std::string& folder) {
  return ManifestReader(doc).Read(folder);
}

Result<Manifest> LoadManifest(const std::string& folder) {
  std::error_code ec;
  fs::path dir = fs::absolute(folder, ec);
  if (ec || !fs::is_directory(dir, ec)) {
    return NotFoundError("plugin folder " + folder + " does not exist or is not a folder");
  }
  dir = fs::weakly_canonical(dir, ec);
  fs::path file = dir / kManifestFileName;
  if (!fs::exists(file, ec)) {
    return NotFoundError("no " + std::string(kManifestFileName) + " in plugin folder " + folder);
  }
  BVER_ASSIGN_OR_RETURN(std::string text, domain::ReadFileToString(file.string()));
  BVER_ASSIGN_OR_RETURN(domain::SourceDocument doc, domain::ParseYaml(text, file.string()));
  BVER_ASSIGN_OR_RETURN(Manifest m, ParseManifest(doc, dir.string()));
  m.digest = "sha256:" + core::Sha256Hex(text);
  // The entry must be in the folder (a bare exec program is found on PATH at run time).
  const std::string& prog = m.entry[0];
  bool in_folder = m.kind == PluginKind::kNative || prog.find('/') != std::string::npos;
  if (in_folder && !fs::is_regular_file(dir / prog, ec)) {
    return NotFoundError(file.string() + ": entry \"" + prog + "\" is not a file in " +
                         dir.string() +
                         (m.kind == PluginKind::kNative ? " (build the plugin first)" : ""));
  }
  return m;
}

}  // namespace bver::plugin
