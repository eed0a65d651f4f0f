#include "src/plugin/registry.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include <chrono>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "src/core/clock.h"
#include "src/plugin/compat.h"
#include "src/plugin/runner.h"

namespace bver::plugin {

namespace fs = std::filesystem;
using nlohmann::json;

RegistryStorage::~RegistryStorage() = default;

Result<std::optional<std::string>> MemoryRegistryStorage::Get(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = records_.find(key);
  if (it == records_.end()) return std::optional<std::string>();
  return std::optional<std::string>(it->second);
}

Status MemoryRegistryStorage::Put(const std::string& key, const std::string& json_text) {
  std::lock_guard<std::mutex> lock(mu_);
  records_[key] = json_text;
  return Status::Ok();
}

Result<bool> MemoryRegistryStorage::Delete(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  return records_.erase(key) > 0;
}

Result<std::vector<std::pair<std::string, std::string>>> MemoryRegistryStorage::List() {
  std::lock_guard<std::mutex> lock(mu_);
  return std::vector<std::pair<std::string, std::string>>(records_.begin(), records_.end());
}

std::string EncodeInstalled(const InstalledPlugin& p) {
  json caps = json::array();
  for (const InstalledCapability& c : p.capabilities) {
    caps.push_back({{"id", c.id}, {"type", c.type}, {"version", c.version}});
  }
  return json{{"plugin_id", p.plugin_id},
              {"version", p.version},
              {"kind", PluginKindName(p.kind)},
              {"capabilities", caps},
              {"installed_at", p.installed_at},
              {"folder", p.folder},
              {"manifest_digest", p.manifest_digest}}
      .dump();
}

Result<InstalledPlugin> DecodeInstalled(const std::string& text) {
  json j = json::parse(text, nullptr, false);
  auto str = [&](const char* k) -> std::optional<std::string> {
    if (!j.is_object() || !j.contains(k) || !j[k].is_string()) return std::nullopt;
    return j[k].get<std::string>();
  };
  auto id = str("plugin_id"), version = str("version"), kind = str("kind"), at = str("installed_at"),
       folder = str("folder"), digest = str("manifest_digest");
  if (!id || !version || !kind || !at || !folder || !digest || !j.contains("capabilities") ||
      !j["capabilities"].is_array()) {
    return DataLossError("a plugin registry record is damaged: " + text.substr(0, 200));
  }
  InstalledPlugin p;
  p.plugin_id = *id;
  p.version = *version;
  p.kind = *kind == "native" ? PluginKind::kNative : PluginKind::kExec;
  p.installed_at = *at;
  p.folder = *folder;
  p.manifest_digest = *digest;
  for (const json& c : j["capabilities"]) {
    if (!c.is_object()) continue;
    p.capabilities.push_back({c.value("id", ""), c.value("type", ""), c.value("version", "")});
  }
  return p;
}

Registry::Registry(RegistryStorage& storage, std::string plugins_dir)
    : storage_(storage), plugins_dir_(std::move(plugins_dir)) {}

Result<InstalledPlugin> Registry::Decode(const std::string& key, const std::string& text) const {
  BVER_ASSIGN_OR_RETURN(InstalledPlugin p, DecodeInstalled(text));
  if (p.plugin_id != key) {
    return DataLossError("plugin registry record " + key + " names plugin " + p.plugin_id);
  }
  Result<Manifest> m = LoadManifest(p.folder);
  if (!m.ok()) {
    p.damage = "the installed copy is damaged: " + m.status().message();
  } else if (m->digest != p.manifest_digest) {
    p.damage = "the installed copy's manifest changed since install (digest " + m->digest + ", recorded " +
               p.manifest_digest + "); install it again to repair it";
  } else {
    p.manifest = std::move(m).value();
  }
  return p;
}

Result<std::vector<InstalledPlugin>> Registry::List() {
  BVER_ASSIGN_OR_RETURN(auto records, storage_.List());
  std::vector<InstalledPlugin> out;
  for (const auto& [key, text] : records) {
    BVER_ASSIGN_OR_RETURN(InstalledPlugin p, Decode(key, text));
    out.push_back(std::move(p));
  }
  return out;
}

Result<InstalledPlugin> Registry::Get(const std::string& plugin_id) {
  BVER_ASSIGN_OR_RETURN(std::optional<std::string> text, storage_.Get(plugin_id));
  if (!text) return NotFoundError("plugin " + plugin_id + " is not installed");
  return Decode(plugin_id, *text);
}

namespace {

std::string Now() {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                std::chrono::system_clock::now().time_since_epoch())
                .count();
  return core::FormatTimestamp(us);
}

bool IsInside(const fs::path& child, const fs::path& parent) {
  std::error_code ec;
  fs::path c = fs::weakly_canonical(child, ec), p = fs::weakly_canonical(parent, ec);
  auto rel = c.lexically_relative(p);
  return !rel.empty() && *rel.begin() != ".." && rel != ".";
}

}  // namespace

namespace {

bool IsBundle(const std::string& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return false;
  for (const char* ext : {".tar.gz", ".tgz", ".tar"}) {
    std::string e = ext;
    if (path.size() > e.size() && path.compare(path.size() - e.size(), e.size(), e) == 0) return true;
  }
  return false;
}

// Extracts `bundle` into the fresh folder `into` with GNU tar, which refuses
// absolute names and ".." members. The plugin folder is `into` itself, or
// its one top-level folder.
Result<std::string> ExtractBundle(const std::string& bundle, const fs::path& into) {
  std::string in = fs::absolute(bundle).string(), out = into.string();
  std::vector<std::string> args = {"tar", "-xf", in, "-C", out, "--no-same-owner", "--no-same-permissions"};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  static char* const kNoEnv[] = {const_cast<char*>("PATH=/usr/local/bin:/usr/bin:/bin"), nullptr};
  // tar's own complaints would go to the runtime's terminal; our error says it.
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  int rc = posix_spawn(&pid, "/usr/bin/tar", &fa, nullptr, argv.data(), kNoEnv);
  if (rc != 0) rc = posix_spawn(&pid, "/bin/tar", &fa, nullptr, argv.data(), kNoEnv);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return FailedPreconditionError("cannot run tar to unpack bundle " + bundle);
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    return InvalidArgumentError("bundle " + bundle + " is not a readable tar archive (tar failed)");
  }
  std::error_code ec;
  if (fs::exists(into / kManifestFileName, ec)) return out;
  std::vector<fs::path> entries;
  for (const auto& e : fs::directory_iterator(into, ec)) entries.push_back(e.path());
  if (entries.size() == 1 && fs::is_directory(entries[0], ec) && fs::exists(entries[0] / kManifestFileName, ec)) {
    return entries[0].string();
  }
  return InvalidArgumentError("bundle " + bundle + " holds no " + kManifestFileName +
                              " at its top or in its one top-level folder");
}

}  // namespace

Result<InstalledPlugin> Registry::Install(const std::string& folder, const domain::Platform* platform,
                                          InstallOptions options) {
  if (IsBundle(folder)) {
    std::string tmpl = (fs::temp_directory_path() / "bver-bundle-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) return InternalError("cannot create a folder to unpack " + folder);
    struct Cleanup {
      std::string dir;
      ~Cleanup() {
        std::error_code ec;
        fs::remove_all(dir, ec);
      }
    } cleanup{tmpl};
    BVER_ASSIGN_OR_RETURN(std::string unpacked, ExtractBundle(folder, tmpl));
    return Install(unpacked, platform, options);
  }
  BVER_ASSIGN_OR_RETURN(Manifest source, LoadManifest(folder));
  BVER_ASSIGN_OR_RETURN(std::optional<std::string> existing_text, storage_.Get(source.plugin_id));
  std::optional<InstalledPlugin> existing;
  if (existing_text) {
    BVER_ASSIGN_OR_RETURN(InstalledPlugin e, Decode(source.plugin_id, *existing_text));
    if (e.version == source.version && e.manifest_digest == source.digest && e.damage.empty()) {
      return e;  // the same plugin again: nothing to do
    }
    // A damaged copy of the same version is repaired without --replace.
    bool repair = e.version == source.version && !e.damage.empty();
    if (!options.replace && !repair) {
      return AlreadyExistsError("plugin " + e.plugin_id + " " + e.version + " is already installed (" + e.folder +
                                "); remove it first or install " + source.version + " with --replace");
    }
    existing = std::move(e);
  }

  // Compatibility with the platform and with every other installed plugin.
  BVER_ASSIGN_OR_RETURN(std::vector<InstalledPlugin> all, List());
  std::vector<const Manifest*> others;
  for (const InstalledPlugin& p : all) {
    if (p.manifest && p.plugin_id != source.plugin_id) others.push_back(&*p.manifest);
  }
  BVER_RETURN_IF_ERROR(CheckCompatibility(source, platform, others));

  // Copy the folder (through a temporary name, so a failed copy leaves nothing behind).
  fs::path dest = fs::path(plugins_dir_) / source.plugin_id / source.version;
  std::error_code ec;
  fs::create_directories(dest.parent_path(), ec);
  if (ec) return InternalError("cannot create " + dest.parent_path().string() + ": " + ec.message());
  dest = fs::weakly_canonical(dest, ec);
  if (fs::weakly_canonical(source.folder, ec) != dest) {
    fs::path tmp = dest.string() + ".installing-" + std::to_string(getpid());
    fs::remove_all(tmp, ec);
    fs::copy(source.folder, tmp, fs::copy_options::recursive, ec);
    if (ec) {
      std::error_code ignored;
      fs::remove_all(tmp, ignored);
      return InternalError("cannot copy plugin " + source.plugin_id + " from " + source.folder + " to " +
                           tmp.string() + ": " + ec.message());
    }
    fs::remove_all(dest, ec);
    fs::rename(tmp, dest, ec);
    if (ec) {
      std::error_code ignored;
      fs::remove_all(tmp, ignored);
      return InternalError("cannot move the plugin copy into " + dest.string() + ": " + ec.message());
    }
  }
  BVER_ASSIGN_OR_RETURN(Manifest installed, LoadManifest(dest.string()));
  if (installed.digest != source.digest) {
    return DataLossError("the copy of plugin " + source.plugin_id + " in " + dest.string() +
                         " differs from its source (was the folder changing during install?)");
  }

  InstalledPlugin p;
  p.plugin_id = installed.plugin_id;
  p.version = installed.version;
  p.kind = installed.kind;
  for (const CapabilitySpec& c : installed.capabilities) {
    p.capabilities.push_back({c.id, domain::PrimitiveName(c.primitive), c.version});
  }
  p.installed_at = Now();
  p.folder = dest.string();
  p.manifest_digest = installed.digest;
  BVER_RETURN_IF_ERROR(storage_.Put(p.plugin_id, EncodeInstalled(p)));
  p.manifest = std::move(installed);
  // The replaced version's copy is no longer needed.
  if (existing && existing->folder != p.folder && IsInside(existing->folder, plugins_dir_)) {
    fs::remove_all(existing->folder, ec);
  }
  return p;
}

Status Registry::Remove(const std::string& plugin_id) {
  BVER_ASSIGN_OR_RETURN(std::optional<std::string> text, storage_.Get(plugin_id));
  if (!text) return NotFoundError("plugin " + plugin_id + " is not installed");
  BVER_ASSIGN_OR_RETURN(InstalledPlugin p, DecodeInstalled(*text));
  BVER_ASSIGN_OR_RETURN(bool deleted, storage_.Delete(plugin_id));
  if (!deleted) return NotFoundError("plugin " + plugin_id + " is not installed");
  // Only ever delete our own copies, never a folder a record points elsewhere.
  std::error_code ec;
  if (IsInside(p.folder, plugins_dir_)) {
    fs::remove_all(p.folder, ec);
    fs::path id_dir = fs::path(plugins_dir_) / plugin_id;
    if (fs::is_empty(id_dir, ec)) fs::remove(id_dir, ec);
  }
  return Status::Ok();
}

Status Registry::Check(const InstalledPlugin& plugin, const domain::Platform* platform,
                       const std::vector<InstalledPlugin>& all) {
  if (!plugin.manifest) {
    return FailedPreconditionError("plugin " + plugin.plugin_id + " " + plugin.version + ": " + plugin.damage);
  }
  std::vector<const Manifest*> others;
  for (const InstalledPlugin& p : all) {
    if (p.manifest) others.push_back(&*p.manifest);
  }
  return CheckCompatibility(*plugin.manifest, platform, others);
}

Result<std::unique_ptr<Runner>> OpenRunner(const InstalledPlugin& plugin, const std::string& capability_id) {
  if (!plugin.manifest) {
    return FailedPreconditionError("plugin " + plugin.plugin_id + " " + plugin.version + ": " + plugin.damage);
  }
  const Manifest& m = *plugin.manifest;
  if (m.kind == PluginKind::kExec) return MakeExecRunner(m, capability_id);
  if (m.FindCapability(capability_id) == nullptr) {
    return NotFoundError("plugin " + m.plugin_id + " provides no capability " + capability_id);
  }
  // One handle per installed .so for the life of the process: unloading code
  // that a runner on another thread may still be in is not worth the risk.
  static std::mutex mu;
  static std::map<std::string, std::shared_ptr<NativeLibrary>>* cache =
      new std::map<std::string, std::shared_ptr<NativeLibrary>>();  // GUARDED_BY(mu); never destroyed
  const std::string key = m.folder + "\n" + m.digest;
  std::shared_ptr<NativeLibrary> lib;
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = cache->find(key);
    if (it != cache->end()) {
      lib = it->second;
    } else {
      BVER_ASSIGN_OR_RETURN(lib, LoadNativeLibrary(m));
      (*cache)[key] = lib;
    }
  }
  return MakeNativeRunner(std::move(lib), m, capability_id);
}

}  // namespace bver::plugin
