// The plugin manifest, bver_plugin.yaml: what a plugin is, which runtime API
// levels it supports, how to run it, and the capabilities it provides.
// The format is described in docs/plugins.md.
//
// ParseManifest reads strictly: unknown keys, wrong types, missing keys and
// invalid values are Violations located at file:line:column, all reported
// in one InvalidArgument. A Manifest is an immutable value once parsed; any
// number of threads may read it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "bver/status.h"
#include "src/domain/platform.h"
#include "src/domain/source.h"

namespace bver::plugin {

// The API level this runtime offers plugins; a plugin runs only when it lies
// in the plugin's [runtime_api_min, runtime_api_max].
inline constexpr int kRuntimeApiLevel = domain::kRuntimeApiLevel;

// The file name of a manifest inside a plugin folder.
inline constexpr const char* kManifestFileName = "bver_plugin.yaml";

enum class PluginKind { kNative, kExec };
const char* PluginKindName(PluginKind k);  // "native" | "exec"

// Resource limits of one run of a capability (exec plugins; native plugins
// share the runtime's process and only get the timeout reported).
struct Limits {
  std::int64_t timeout_seconds = 60;
  std::int64_t memory_mb = 1024;  // RLIMIT_AS
  std::int64_t cpu_seconds = 60;  // RLIMIT_CPU
  std::int64_t open_files = 256;  // RLIMIT_NOFILE
  std::int64_t processes = 64;    // RLIMIT_NPROC (per user; not enforced for root)
};

// k-of-n redundant runs: success when `agree` of `runs` runs give the same output.
struct Trust {
  int runs = 1;
  int agree = 1;
};

struct CapabilitySpec {
  std::string id;  // "substation.skeleton"
  domain::Primitive primitive = domain::Primitive::kGenerator;
  std::string version;  // semver
  bool deterministic = true;
  domain::JsonPtr input_schema;   // object root
  domain::JsonPtr output_schema;  // null: the primitive's standard contract (contracts.h)
  std::vector<std::string> writes;  // "ns/repo"; generators only
  bool network = false;
  std::map<std::string, std::string> labels;  // required worker labels
  Limits limits;
  std::optional<Trust> trust;
};

struct Manifest {
  std::string plugin_id;
  std::string version;  // semver
  int runtime_api_min = 1;
  int runtime_api_max = 1;
  PluginKind kind = PluginKind::kExec;
  // native: {path of the .so relative to the folder}; exec: argv.
  std::vector<std::string> entry;
  std::vector<CapabilitySpec> capabilities;
  std::vector<std::string> scopes;
  std::vector<std::string> owns_namespaces;
  std::vector<std::string> owns_kinds;

  // Where it was read from (not part of the file): the plugin folder
  // (absolute) and "sha256:<hex>" of the manifest file's bytes.
  std::string folder;
  std::string digest;

  const CapabilitySpec* FindCapability(const std::string& id) const;
};

// Parses a manifest document. `folder` is recorded as Manifest::folder.
// InvalidArgument listing every problem (path "file:line:column").
Result<Manifest> ParseManifest(const domain::SourceDocument& doc, const std::string& folder);

// Reads FOLDER/bver_plugin.yaml, parses it and checks that the entry exists
// in the folder (native: the .so; exec: a relative program). NotFound when
// the folder or the manifest is missing.
Result<Manifest> LoadManifest(const std::string& folder);

// Semantic versions: the numbers of "MAJOR.MINOR.PATCH[-pre][+build]".
struct Semver {
  int major = 0, minor = 0, patch = 0;
};
std::optional<Semver> ParseSemver(const std::string& s);

}  // namespace bver::plugin
