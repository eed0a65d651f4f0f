#include "src/plugin/compat.h"

#include <algorithm>

namespace bver::plugin {

namespace {

std::string Join(const std::vector<std::string>& v) {
  if (v.empty()) return "nothing";
  std::string s;
  for (const std::string& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

bool Contains(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

}  // namespace

std::vector<Violation> CompatibilityProblems(const Manifest& m, const domain::Platform* platform,
                                             const std::vector<const Manifest*>& others) {
  std::vector<Violation> out;
  const std::string who = "plugin " + m.plugin_id + " " + m.version;
  if (kRuntimeApiLevel < m.runtime_api_min || kRuntimeApiLevel > m.runtime_api_max) {
    out.push_back({"runtime_api", "compat.runtime_api",
                   who + " supports runtime API levels " + std::to_string(m.runtime_api_min) + " to " +
                       std::to_string(m.runtime_api_max) + "; this runtime is at level " +
                       std::to_string(kRuntimeApiLevel)});
  }
  if (platform != nullptr) {
    for (const domain::Capability& want : platform->capabilities) {
      if (want.plugin != m.plugin_id) continue;
      const std::string where = "capabilities." + want.id;
      const CapabilitySpec* have = m.FindCapability(want.id);
      if (have == nullptr) {
        out.push_back({where, "compat.capability",
                       "bver.yaml declares capability " + want.id + " with plugin: " + m.plugin_id + ", but " +
                           who + " does not provide it"});
        continue;
      }
      if (have->primitive != want.primitive) {
        out.push_back({where, "compat.type",
                       "bver.yaml declares " + want.id + " as a " + domain::PrimitiveName(want.primitive) +
                           "; " + who + " provides it as a " + domain::PrimitiveName(have->primitive)});
      }
      auto w = ParseSemver(want.version);
      auto h = ParseSemver(have->version);
      if (w && h && (w->major != h->major || h->minor < w->minor)) {
        out.push_back({where, "compat.version",
                       "bver.yaml wants " + want.id + " " + want.version + "; " + who + " provides " +
                           have->version + " (compatible: major " + std::to_string(w->major) +
                           ", minor at least " + std::to_string(w->minor) + ")"});
      }
      std::vector<std::string> outside;
      for (const std::string& repo : have->writes) {
        if (!Contains(want.writes, repo)) outside.push_back(repo);
      }
      if (!outside.empty()) {
        out.push_back({where, "compat.writes",
                       who + " writes " + Join(outside) + " in " + want.id + ", but bver.yaml lets it write only " +
                           Join(want.writes)});
      }
    }
    for (const std::string& ns : m.owns_namespaces) {
      for (const domain::Namespace& n : platform->namespaces) {
        if (n.name == ns && n.owner != m.plugin_id) {
          out.push_back({"owns.namespaces", "compat.owner",
                         who + " claims namespace " + ns + ", which bver.yaml gives to " + n.owner});
        }
      }
    }
  }
  for (const Manifest* o : others) {
    if (o == nullptr || o->plugin_id == m.plugin_id) continue;
    // Named in a fixed order, so the pair reads the same from either side.
    const std::string pair = std::min(m.plugin_id, o->plugin_id) + " and " + std::max(m.plugin_id, o->plugin_id);
    for (const std::string& ns : m.owns_namespaces) {
      if (Contains(o->owns_namespaces, ns)) {
        out.push_back({"owns.namespaces", "compat.owner",
                       "namespace " + ns + " is owned by both " + pair});
      }
    }
    for (const std::string& k : m.owns_kinds) {
      if (Contains(o->owns_kinds, k)) {
        out.push_back({"owns.kinds", "compat.owner",
                       "kind " + k + " is owned by both " + pair});
      }
    }
  }
  return out;
}

Status CheckCompatibility(const Manifest& m, const domain::Platform* platform,
                          const std::vector<const Manifest*>& others) {
  std::vector<Violation> problems = CompatibilityProblems(m, platform, others);
  if (problems.empty()) return Status::Ok();
  // The message is built before the problems are moved into the Status.
  std::string message = "plugin " + m.plugin_id + " " + m.version + " is not compatible (" +
                        std::to_string(problems.size()) + " problem(s)); first: " + problems.front().message;
  return Status(StatusCode::kFailedPrecondition, std::move(message), std::move(problems));
}

Status CheckPlatformPlugins(const domain::Platform& platform, const std::vector<const Manifest*>& installed) {
  std::vector<Violation> problems;
  for (const domain::Capability& c : platform.capabilities) {
    bool found = std::any_of(installed.begin(), installed.end(),
                             [&](const Manifest* m) { return m != nullptr && m->plugin_id == c.plugin; });
    if (!found) {
      problems.push_back({"capabilities." + c.id, "compat.not_installed",
                          "capability " + c.id + " needs plugin " + c.plugin +
                              ", which is not installed (bver plugins install FOLDER)"});
    }
  }
  for (const Manifest* m : installed) {
    if (m == nullptr) continue;
    for (Violation& v : CompatibilityProblems(*m, &platform, installed)) {
      bool seen = std::any_of(problems.begin(), problems.end(), [&](const Violation& p) {
        return p.rule == v.rule && p.message == v.message;
      });
      if (seen) continue;  // a shared namespace or kind, found from both owners
      v.path = "plugins." + m->plugin_id + "." + v.path;
      problems.push_back(std::move(v));
    }
  }
  if (problems.empty()) return Status::Ok();
  std::string message = "the installed plugins do not fit platform " + platform.id + " (" +
                        std::to_string(problems.size()) + " problem(s)); first: " + problems.front().message;
  return Status(StatusCode::kFailedPrecondition, std::move(message), std::move(problems));
}

}  // namespace bver::plugin
