// Running a capability of a plugin: the invocation protocol and the two
// runners behind one interface.
//
//   exec    a subprocess per invocation: one JSON request on stdin, one JSON
//           response on stdout (docs/plugins.md), with a timeout, rlimits, a
//           clean environment, its own process group and, unless the
//           capability declares `network: true`, no network.
//   native  a .so loaded once with dlopen(RTLD_LOCAL) through the C ABI of
//           include/bver/plugin/abi.h; runs in the runtime's process.
//
// Runners never write the store: they return the capability's output, which
// the caller checks with an OutputContract (contracts.h) and commits.
//
// Threads: a Runner may be used by several threads at once (each exec
// invocation is its own process; a native plugin must be thread-safe, as
// abi.h requires).
//
// This header includes nlohmann/json; include it only from src/plugin and
// src/jobs.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "bver/status.h"
#include "src/plugin/manifest.h"

namespace bver::plugin {

// The protocol version of requests (the "bver_plugin_protocol" field).
inline constexpr int kProtocolVersion = 1;
// An exec plugin's stdout beyond this is an error (ResourceExhausted).
inline constexpr std::size_t kMaxResponseBytes = 16u << 20;
// How much of a plugin's stderr (or native log) is kept for error messages.
inline constexpr std::size_t kStderrTailBytes = 4096;
// The whole environment of an exec plugin, besides HOME (a fresh temp dir).
inline constexpr const char* kPluginPath = "/usr/local/bin:/usr/bin:/bin";

// What the runtime sends a capability (also the exec stdin JSON).
struct Invocation {
  std::string capability_id, capability_version;
  nlohmann::json input;     // validated against the capability's input schema
  nlohmann::json resolved;  // {"<pointer as in input>": {"pointer": "<pinned bver://...~N>", "kind": ..., "body": {...}}}
  nlohmann::json related;   // {"<pointer>": [ {pointer (pinned), kind, body}, ... references pointing at it ]}
  nlohmann::json artifacts; // {"sha256:<hex>": "<readable file path>"} for stored artifacts the input names
  std::string job_id;
  int attempt = 1;
  // Optional: when set and it becomes true, an exec plugin is killed and the
  // invocation answers Cancelled (checked at least every 100 ms).
  const std::atomic<bool>* cancel = nullptr;
};

class Runner {
 public:
  virtual ~Runner();
  // The output object, or a Status saying exactly what went wrong:
  //   ok:false from the plugin          its code ("invalid_argument" → InvalidArgument) and message
  //   non-JSON / not a response         DataLoss "plugin X answered non-JSON: <first 200 bytes>"
  //   killed by a signal                Internal "plugin X crashed with SIGSEGV" (+ stderr tail)
  //   ran out of memory                 ResourceExhausted "... may have exceeded its memory limit of N MiB"
  //   no answer within the timeout      DeadlineExceeded (the process group is killed)
  //   more than 16 MiB on stdout        ResourceExhausted
  //   cancelled                         Cancelled
  //   cannot start                      FailedPrecondition / Internal naming the cause
  // The stderr tail (exec) or log tail (native) is attached as a Violation
  // with path "stderr" (or "log").
  virtual Result<nlohmann::json> Invoke(const Invocation& invocation) = 0;
};

// The request object of the protocol.
nlohmann::json RequestJson(const Invocation& invocation);
// RequestJson(invocation).dump(), without building the combined tree.
std::string RequestText(const Invocation& invocation);

// Interprets a response text from plugin `plugin_id` (see Runner::Invoke).
Result<nlohmann::json> ParseResponse(const std::string& plugin_id, std::string_view text);

// Whether exec plugins can be denied the network on this machine, how, and
// why not. Probed once (by forking a child that tries unshare), then cached.
struct NetworkIsolation {
  bool available = false;
  std::string method;  // "unshare(CLONE_NEWNET)" or "unshare(CLONE_NEWUSER|CLONE_NEWNET)"
  std::string reason;  // why it is unavailable; empty when available
};
const NetworkIsolation& NetworkIsolationStatus();
bool NetworkIsolationAvailable(std::string* reason = nullptr);

// Each exec plugin call runs with a fresh HOME under the temporary directory,
// named bver-plugin-<runtime pid>-XXXXXX and removed when the call returns.
// A runtime killed mid-call leaves its HOME behind; this removes those of
// runtimes no longer alive and returns how many. The first exec call of a
// process runs it.
int RemoveHomesOfDeadRuntimes();

// A runner for capability `capability_id` of exec plugin `manifest`.
// NotFound when the manifest has no such capability; FailedPrecondition when
// the manifest is not an exec plugin.
Result<std::unique_ptr<Runner>> MakeExecRunner(const Manifest& manifest,
                                               const std::string& capability_id);

// A native plugin's shared object, loaded and checked: the ABI version and
// its plugin_id/version against the manifest. Unloaded when the last runner
// using it is gone.
class NativeLibrary;
// Errors (never a crash): FailedPrecondition for a missing .so, a missing
// entry symbol, an ABI version the plugin does not speak, or a plugin_id /
// version that differs from the manifest.
Result<std::shared_ptr<NativeLibrary>> LoadNativeLibrary(const Manifest& manifest);
Result<std::unique_ptr<Runner>> MakeNativeRunner(std::shared_ptr<NativeLibrary> library,
                                                 const Manifest& manifest,
                                                 const std::string& capability_id);

}  // namespace bver::plugin
