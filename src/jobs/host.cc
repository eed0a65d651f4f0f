// The plugin registry as the engine's CapabilityHost, and worker labels.
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <sstream>

#include "src/jobs/engine.h"
#include "src/plugin/registry.h"
#include "src/plugin/runner.h"
#include "src/store/artifact_store.h"

namespace bver::jobs {
namespace {

using nlohmann::json;

class RegistryHost final : public CapabilityHost {
 public:
  explicit RegistryHost(plugin::Registry& registry) : registry_(registry) {}

  // One runner per capability for the life of the engine: a plugin
  // reinstalled while it runs is picked up by restarting the server or the
  // workers (docs/jobs.md).
  Result<BoundCapability> Bind(const domain::Capability& cap) override {
    {
      std::lock_guard<std::mutex> l(mu_);
      if (auto it = bound_.find(cap.id); it != bound_.end()) return it->second;
    }
    Result<plugin::InstalledPlugin> p = registry_.Get(cap.plugin);
    if (!p.ok()) {
      if (p.status().code() == StatusCode::kNotFound) {
        return FailedPreconditionError("capability " + cap.id + " needs plugin " + cap.plugin +
                                       ", which is not installed (bver plugins install FOLDER)");
      }
      return p.status();
    }
    if (!p->manifest) {
      return FailedPreconditionError("plugin " + cap.plugin + " is damaged: " + p->damage);
    }
    BVER_ASSIGN_OR_RETURN(std::vector<plugin::InstalledPlugin> all, registry_.List());
    if (Status s = plugin::Registry::Check(*p, &platform_of(cap), all); !s.ok()) {
      return s.WithPrefix("plugin " + cap.plugin + " cannot run here");
    }
    const plugin::CapabilitySpec* spec = p->manifest->FindCapability(cap.id);
    if (spec == nullptr) return NotFoundError("plugin " + cap.plugin + " does not provide capability " + cap.id);
    BVER_ASSIGN_OR_RETURN(std::unique_ptr<plugin::Runner> runner, plugin::OpenRunner(*p, cap.id));
    BoundCapability b;
    b.runner = std::shared_ptr<plugin::Runner>(std::move(runner));
    b.labels = spec->labels;
    if (spec->output_schema) b.declared_outputs.push_back(spec->output_schema);
    b.plugin_id = p->plugin_id;
    if (spec->trust) {
      b.trust_runs = spec->trust->runs;
      b.trust_agree = spec->trust->agree;
    }
    std::lock_guard<std::mutex> l(mu_);
    bound_.emplace(cap.id, b);
    return b;
  }

  void SetPlatform(const domain::Platform* platform) { platform_ = platform; }

 private:
  const domain::Platform& platform_of(const domain::Capability&) const { return *platform_; }

  plugin::Registry& registry_;
  const domain::Platform* platform_ = nullptr;
  std::mutex mu_;
  std::map<std::string, BoundCapability> bound_;  // GUARDED_BY(mu_)
};

bool OnPath(const std::string& tool) {
  const char* path = std::getenv("PATH");
  if (path == nullptr) return false;
  std::stringstream ss(path);
  std::string dir;
  while (std::getline(ss, dir, ':')) {
    if (dir.empty()) continue;
    std::string f = dir + "/" + tool;
    if (::access(f.c_str(), X_OK) == 0) return true;
  }
  return false;
}

}  // namespace

std::unique_ptr<CapabilityHost> MakeRegistryHost(plugin::Registry& registry, const domain::Platform& platform) {
  auto h = std::make_unique<RegistryHost>(registry);
  h->SetPlatform(&platform);
  return h;
}

void UseArtifactStore(EngineOptions& options, store::ArtifactStore& artifacts) {
  store::ArtifactStore* a = &artifacts;
  options.artifact_path = [a](const std::string& digest) -> std::optional<std::string> {
    if (!a->Stat(digest).ok()) return std::nullopt;
    return a->PathFor(digest.substr(digest.find(':') + 1));  // "sha256:" + hex
  };
  options.put_artifact = [a](const std::string& content) -> Result<std::string> {
    std::istringstream in(content);
    BVER_ASSIGN_OR_RETURN(store::ArtifactInfo info, a->Put(in));
    return info.digest;
  };
}

json DetectLabels() {
  json l = json::object();
  struct utsname u;
  if (::uname(&u) == 0) {
    std::string os = u.sysname;
    std::transform(os.begin(), os.end(), os.begin(), [](unsigned char c) { return std::tolower(c); });
    l["os"] = os;
    l["arch"] = std::string(u.machine);
  }
  for (const char* tool : {"python3", "node", "java", "gcc", "g++", "git", "sh", "bash"}) {
    if (OnPath(tool)) l[tool] = "true";
  }
  return l;
}

Result<json> ParseLabels(const std::string& text) {
  json l = json::object();
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.empty()) continue;
    std::size_t eq = item.find('=');
    std::string k = item.substr(0, eq);
    std::string v = eq == std::string::npos ? "true" : item.substr(eq + 1);
    if (k.empty()) {
      return InvalidArgumentError("bad label \"" + item + "\": expected key=value",
                                  {{"labels", "labels.syntax", "expected key=value[,key=value...]"}});
    }
    l[k] = v;
  }
  return l;
}

}  // namespace bver::jobs
