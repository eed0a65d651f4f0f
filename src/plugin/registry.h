// The plugin registry: which plugins a project has installed.
//
// Installing checks the manifest and compatibility, copies the plugin folder
// to <project>/.bver/plugins/<id>/<version>/ (so the source folder may go
// away) and records {plugin_id, version, kind, capabilities, installed_at,
// folder, manifest digest} through a RegistryStorage -- in the project's
// store (records of kind "plugin"), or in memory for tests. One version of a
// plugin id is installed at a time.
//
// A Registry is safe to use from several threads when its storage is; two
// processes installing the same plugin at once may both copy (the last
// record wins).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bver/status.h"
#include "src/domain/platform.h"
#include "src/plugin/manifest.h"

namespace bver::plugin {

class Runner;

// Where registry records live: JSON texts by key (the plugin id).
class RegistryStorage {
 public:
  virtual ~RegistryStorage();
  virtual Result<std::optional<std::string>> Get(const std::string& key) = 0;
  virtual Status Put(const std::string& key, const std::string& json_text) = 0;
  // True when there was a record.
  virtual Result<bool> Delete(const std::string& key) = 0;
  // Every record, in key order.
  virtual Result<std::vector<std::pair<std::string, std::string>>> List() = 0;
};

// In memory (tests, and embedders that keep no store). Thread-safe.
class MemoryRegistryStorage final : public RegistryStorage {
 public:
  Result<std::optional<std::string>> Get(const std::string& key) override;
  Status Put(const std::string& key, const std::string& json_text) override;
  Result<bool> Delete(const std::string& key) override;
  Result<std::vector<std::pair<std::string, std::string>>> List() override;

 private:
  std::mutex mu_;
  std::map<std::string, std::string> records_;  // GUARDED_BY(mu_)
};

struct InstalledCapability {
  std::string id;
  std::string type;  // primitive name
  std::string version;
};

struct InstalledPlugin {
  std::string plugin_id;
  std::string version;
  PluginKind kind = PluginKind::kExec;
  std::vector<InstalledCapability> capabilities;
  std::string installed_at;     // RFC 3339
  std::string folder;           // the installed copy
  std::string manifest_digest;  // "sha256:<hex>" of bver_plugin.yaml

  // The manifest read back from `folder` when the record was loaded; empty
  // (with `damage` saying why) when the folder is gone or its manifest no
  // longer has the recorded digest.
  std::optional<Manifest> manifest;
  std::string damage;
};

class Registry {
 public:
  // `plugins_dir` is where installed copies go: <project>/.bver/plugins.
  Registry(RegistryStorage& storage, std::string plugins_dir);

  struct InstallOptions {
    bool replace = false;  // replace another installed version of the same plugin id
  };
  // Installs the plugin in `folder`, or in a bundle: a .tar.gz, .tgz or .tar
  // file holding the plugin folder (at its top, or as its one top-level
  // folder), unpacked with tar. Errors: the manifest's (NotFound,
  // InvalidArgument with file:line:column); FailedPrecondition listing every
  // compatibility problem with `platform` (may be null) and the other
  // installed plugins; AlreadyExists when another version or content of the
  // plugin is installed and !replace. Installing the same content again is
  // a no-op that answers the existing record; installing the same version
  // over a damaged copy repairs it.
  Result<InstalledPlugin> Install(const std::string& folder, const domain::Platform* platform,
                                  InstallOptions options);
  Result<InstalledPlugin> Install(const std::string& folder, const domain::Platform* platform) {
    return Install(folder, platform, InstallOptions{});
  }

  // Every installed plugin in id order, manifests loaded.
  Result<std::vector<InstalledPlugin>> List();
  // NotFound when `plugin_id` is not installed.
  Result<InstalledPlugin> Get(const std::string& plugin_id);
  // Deletes the record and the installed copy. NotFound when not installed.
  Status Remove(const std::string& plugin_id);

  // Compatibility of `plugin` with this runtime, `platform` (may be null)
  // and the other plugins in `all`: OK or FailedPrecondition listing every
  // problem (a damaged install is one).
  static Status Check(const InstalledPlugin& plugin, const domain::Platform* platform,
                      const std::vector<InstalledPlugin>& all);

  const std::string& plugins_dir() const { return plugins_dir_; }

 private:
  Result<InstalledPlugin> Decode(const std::string& key, const std::string& text) const;

  RegistryStorage& storage_;
  std::string plugins_dir_;
};

// JSON text of a registry record, and back (without manifest/damage).
std::string EncodeInstalled(const InstalledPlugin& p);
Result<InstalledPlugin> DecodeInstalled(const std::string& text);

// A runner for `capability_id` of an installed plugin: exec plugins get a
// fresh ExecRunner; native plugins share one dlopen handle per installed
// .so (cached for the life of the process). Errors: FailedPrecondition for a
// damaged install or a .so that does not load or match (never a crash);
// NotFound for a capability the plugin does not provide.
Result<std::unique_ptr<Runner>> OpenRunner(const InstalledPlugin& plugin, const std::string& capability_id);

}  // namespace bver::plugin
