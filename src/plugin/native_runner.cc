// The native runner: a .so behind the C ABI of include/bver/plugin/abi.h.
#include <dlfcn.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>

#include "bver/plugin/abi.h"
#include "src/plugin/runner.h"

namespace bver::plugin {

namespace fs = std::filesystem;
using nlohmann::json;

class NativeLibrary {
 public:
  NativeLibrary(void* handle, const bver_plugin_v1* plugin, std::string path)
      : handle_(handle), plugin_(plugin), path_(std::move(path)) {}
  ~NativeLibrary() {
    if (handle_ != nullptr) dlclose(handle_);
  }
  NativeLibrary(const NativeLibrary&) = delete;
  NativeLibrary& operator=(const NativeLibrary&) = delete;

  const bver_plugin_v1* plugin() const { return plugin_; }
  const std::string& path() const { return path_; }

 private:
  void* handle_;
  const bver_plugin_v1* plugin_;
  std::string path_;
};

namespace {

// dlerror() is not thread-safe in its message buffer on every libc; loading
// is rare, so it is serialized.
std::mutex& DlMutex() {
  static std::mutex mu;
  return mu;
}

std::string DlError() {
  const char* e = dlerror();
  return e != nullptr ? e : "unknown dynamic loader error";
}

// The host side of one invocation: what the plugin's callbacks reach.
struct HostContext {
  const Invocation* invocation = nullptr;
  std::string log_tail;  // last kStderrTailBytes of log lines
};

char* CopyOut(const std::string& s, std::size_t* len) {
  char* p = static_cast<char*>(std::malloc(s.size() + 1));
  if (p == nullptr) return nullptr;
  std::memcpy(p, s.data(), s.size());
  p[s.size()] = '\0';
  if (len != nullptr) *len = s.size();
  return p;
}

extern "C" void HostLog(void* ctx, int level, const char* message, size_t len) {
  auto* h = static_cast<HostContext*>(ctx);
  if (h == nullptr || message == nullptr) return;
  static const char* kLevels[] = {"debug", "info", "warn", "error"};
  const char* name = level >= 0 && level <= 3 ? kLevels[level] : "info";
  try {
    h->log_tail.append(name).append(": ").append(message, len).append("\n");
    if (h->log_tail.size() > 2 * kStderrTailBytes) {
      h->log_tail.erase(0, h->log_tail.size() - kStderrTailBytes);
    }
  } catch (...) {
    // Logging must never fail the plugin; a line lost to low memory is fine.
  }
}

// Answers from the references the runtime pinned for this invocation
// (`resolved` and `related`), so a native plugin sees exactly what an exec
// plugin sees and its result stays cacheable.
extern "C" int HostResolve(void* ctx, const char* pointer, size_t len, char** json_out, size_t* json_len) {
  if (json_out == nullptr) return 1;
  *json_out = nullptr;
  if (json_len != nullptr) *json_len = 0;
  auto* h = static_cast<HostContext*>(ctx);
  try {
    std::string wanted(pointer, len);
    auto strip = [](std::string p) {
      auto tilde = p.find('~');
      return tilde == std::string::npos ? p : p.substr(0, tilde);
    };
    const Invocation& inv = *h->invocation;
    auto matches = [&](const json& ref) {
      if (!ref.is_object() || !ref.contains("pointer") || !ref["pointer"].is_string()) return false;
      const std::string p = ref["pointer"].get<std::string>();
      return p == wanted || (wanted.find('~') == std::string::npos && strip(p) == wanted);
    };
    if (inv.resolved.is_object()) {
      if (auto it = inv.resolved.find(wanted); it != inv.resolved.end()) {
        *json_out = CopyOut(it->dump(), json_len);
        return *json_out != nullptr ? 0 : 1;
      }
      for (const json& ref : inv.resolved) {
        if (matches(ref)) {
          *json_out = CopyOut(ref.dump(), json_len);
          return *json_out != nullptr ? 0 : 1;
        }
      }
    }
    if (inv.related.is_object()) {
      for (const json& list : inv.related) {
        if (!list.is_array()) continue;
        for (const json& ref : list) {
          if (matches(ref)) {
            *json_out = CopyOut(ref.dump(), json_len);
            return *json_out != nullptr ? 0 : 1;
          }
        }
      }
    }
    *json_out = CopyOut("not_found: " + wanted + " is not among the references pinned for this job",
                        json_len);
    return 1;
  } catch (...) {
    return 1;
  }
}

extern "C" void HostFree(void* /*ctx*/, char* p) { std::free(p); }

class NativeRunner final : public Runner {
 public:
  NativeRunner(std::shared_ptr<NativeLibrary> lib, std::string plugin_id, std::string capability_id)
      : lib_(std::move(lib)), plugin_id_(std::move(plugin_id)), capability_id_(std::move(capability_id)) {}

  Result<json> Invoke(const Invocation& inv) override {
    std::string request;
    try {
      request = RequestText(inv);
    } catch (const json::exception& e) {
      return InvalidArgumentError("plugin " + plugin_id_ + ": the request cannot be encoded as JSON: " +
                                  e.what());
    }
    HostContext ctx;
    ctx.invocation = &inv;
    bver_host_v1 host{};
    host.abi_version = BVER_PLUGIN_ABI_VERSION;
    host.struct_size = sizeof(bver_host_v1);
    host.ctx = &ctx;
    host.log = &HostLog;
    host.resolve = &HostResolve;
    host.free = &HostFree;
    const bver_plugin_v1* p = lib_->plugin();
    char* response = nullptr;
    std::size_t response_len = 0;
    int rc = p->invoke(&host, request.data(), request.size(), &response, &response_len);
    std::string text;
    if (response != nullptr) {
      text.assign(response, response_len);
      if (p->free_response != nullptr) p->free_response(response);
    }
    std::vector<Violation> log;
    if (!ctx.log_tail.empty()) {
      if (ctx.log_tail.size() > kStderrTailBytes) ctx.log_tail.erase(0, ctx.log_tail.size() - kStderrTailBytes);
      log.push_back({"log", "plugin.log", ctx.log_tail});
    }
    if (rc != 0) {
      return Status(StatusCode::kInternal,
                    "plugin " + plugin_id_ + " (capability " + capability_id_ +
                        ") failed to produce a response (invoke returned " + std::to_string(rc) + ")",
                    log);
    }
    Result<json> parsed = ParseResponse(plugin_id_, text);
    if (!parsed.ok()) return Status(parsed.status().code(), parsed.status().message(), log);
    return parsed;
  }

 private:
  std::shared_ptr<NativeLibrary> lib_;
  std::string plugin_id_;
  std::string capability_id_;
};

}  // namespace

Result<std::shared_ptr<NativeLibrary>> LoadNativeLibrary(const Manifest& manifest) {
  if (manifest.kind != PluginKind::kNative || manifest.entry.size() != 1) {
    return FailedPreconditionError("plugin " + manifest.plugin_id + " is not a native plugin");
  }
  fs::path so = fs::path(manifest.folder) / manifest.entry[0];
  std::error_code ec;
  if (!fs::is_regular_file(so, ec)) {
    return FailedPreconditionError("plugin " + manifest.plugin_id + ": shared object " + so.string() +
                                   " does not exist (build the plugin first)");
  }
  std::lock_guard<std::mutex> lock(DlMutex());
  dlerror();
  void* handle = dlopen(so.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    return FailedPreconditionError("plugin " + manifest.plugin_id + ": cannot load " + so.string() +
                                   ": " + DlError());
  }
  auto fail = [&](const std::string& msg) -> Status {
    dlclose(handle);
    return FailedPreconditionError("plugin " + manifest.plugin_id + ": " + so.string() + ": " + msg);
  };
  dlerror();
  void* sym = dlsym(handle, BVER_PLUGIN_ENTRY_SYMBOL);
  if (sym == nullptr) {
    return fail(std::string("no exported symbol ") + BVER_PLUGIN_ENTRY_SYMBOL +
                " (declare the plugin with BVER_PLUGIN from bver/plugin/plugin.hpp, or export "
                "it with C linkage)");
  }
  auto entry = reinterpret_cast<bver_plugin_entry_fn>(sym);
  const bver_plugin_v1* p = entry(BVER_PLUGIN_ABI_VERSION);
  if (p == nullptr) {
    return fail("the plugin does not support plugin ABI version " +
                std::to_string(BVER_PLUGIN_ABI_VERSION) + " (rebuild it against this runtime's bver/plugin/abi.h)");
  }
  if (p->abi_version != BVER_PLUGIN_ABI_VERSION) {
    return fail("plugin ABI version mismatch: the plugin was built for ABI " +
                std::to_string(p->abi_version) + ", this runtime speaks ABI " +
                std::to_string(BVER_PLUGIN_ABI_VERSION));
  }
  if (p->struct_size < sizeof(bver_plugin_v1)) {
    return fail("plugin descriptor is " + std::to_string(p->struct_size) + " bytes, expected at least " +
                std::to_string(sizeof(bver_plugin_v1)));
  }
  if (p->invoke == nullptr || p->free_response == nullptr || p->plugin_id == nullptr ||
      p->version == nullptr) {
    return fail("plugin descriptor is incomplete (plugin_id, version, invoke and free_response are required)");
  }
  if (manifest.plugin_id != p->plugin_id || manifest.version != p->version) {
    return fail("the shared object is plugin " + std::string(p->plugin_id) + " " + p->version +
                " but the manifest declares " + manifest.plugin_id + " " + manifest.version);
  }
  return std::make_shared<NativeLibrary>(handle, p, so.string());
}

Result<std::unique_ptr<Runner>> MakeNativeRunner(std::shared_ptr<NativeLibrary> library,
                                                 const Manifest& manifest,
                                                 const std::string& capability_id) {
  if (library == nullptr) return FailedPreconditionError("no native library loaded");
  if (manifest.FindCapability(capability_id) == nullptr) {
    return NotFoundError("plugin " + manifest.plugin_id + " provides no capability " + capability_id);
  }
  return std::unique_ptr<Runner>(
      std::make_unique<NativeRunner>(std::move(library), manifest.plugin_id, capability_id));
}

}  // namespace bver::plugin
