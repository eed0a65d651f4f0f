// A header-only helper for writing a native BVER plugin in C++ on top of the
// plain-C ABI (bver/plugin/abi.h). Write one function from the request to the
// capability's output and declare the plugin with BVER_PLUGIN:
//
//   #include "bver/plugin/plugin.hpp"
//
//   static nlohmann::json Run(const nlohmann::json& request) {
//     if (request["capability"] != "my.capability")
//       throw bver::plugin::Error("not_found", "unknown capability");
//     return {{"metrics", {{"score", 1}}}};   // the output object
//   }
//   BVER_PLUGIN("my-plugin", "1.0.0", Run)
//
// The helper parses the request, calls the function, and answers
// {"ok": true, "output": <returned value>}. Every exception is caught at the
// boundary: a bver::plugin::Error becomes {"ok": false, "error": {code,
// message}} with its code, anything else "internal" with what() as the
// message. Nothing crosses the C boundary but C types.
//
// During the call, bver::plugin::Log() and bver::plugin::Resolve() reach the
// host (they are thread-local to the invoking thread). The function may be
// called from several threads at once.
//
// Build the plugin as a MODULE library with -fvisibility=hidden; the macro
// exports only bver_plugin_entry.
#pragma once

#include <cstdlib>
#include <cstring>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "bver/plugin/abi.h"

namespace bver::plugin {

// Thrown by a handler to answer {"ok": false, "error": {code, message}}. Use a
// canonical code name ("invalid_argument", "not_found", "failed_precondition").
class Error : public std::runtime_error {
 public:
  Error(std::string code, const std::string& message)
      : std::runtime_error(message), code_(std::move(code)) {}
  const std::string& code() const { return code_; }

 private:
  std::string code_;
};

namespace internal {
inline thread_local const bver_host_v1* current_host = nullptr;

inline char* CopyOut(const std::string& s, std::size_t* len) {
  char* p = static_cast<char*>(std::malloc(s.size() + 1));
  if (p == nullptr) return nullptr;
  std::memcpy(p, s.data(), s.size());
  p[s.size()] = '\0';
  *len = s.size();
  return p;
}

inline std::string ErrorResponse(const std::string& code, const std::string& message) {
  nlohmann::json r = {{"ok", false}, {"error", {{"code", code}, {"message", message}}}};
  // Replace invalid UTF-8 rather than throw while reporting an error.
  return r.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

template <typename Handler>
int Invoke(Handler& handler, const bver_host_v1* host, const char* request, std::size_t len,
           char** response, std::size_t* response_len) noexcept {
  if (response == nullptr || response_len == nullptr) return 1;
  *response = nullptr;
  *response_len = 0;
  std::string text;
  try {
    current_host = host;
    nlohmann::json req = nlohmann::json::parse(request, request + len);
    nlohmann::json output = handler(static_cast<const nlohmann::json&>(req));
    nlohmann::json r = {{"ok", true}, {"output", std::move(output)}};
    text = r.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } catch (const Error& e) {
    text = ErrorResponse(e.code(), e.what());
  } catch (const std::exception& e) {
    text = ErrorResponse("internal", e.what());
  } catch (...) {
    text = ErrorResponse("internal", "the plugin threw a non-standard exception");
  }
  current_host = nullptr;
  try {
    *response = CopyOut(text, response_len);
  } catch (...) {
    return 1;
  }
  return *response == nullptr ? 1 : 0;
}
}  // namespace internal

// Logs one line through the host (no-op outside an invocation).
inline void Log(int level, const std::string& message) {
  const bver_host_v1* h = internal::current_host;
  if (h != nullptr && h->log != nullptr) h->log(h->ctx, level, message.data(), message.size());
}

// Resolves a pointer among the references pinned for this invocation:
// {"pointer": pinned, "kind": ..., "body": {...}}, or nullopt when the host
// cannot (the reason goes to *error when given).
inline std::optional<nlohmann::json> Resolve(const std::string& pointer, std::string* error = nullptr) {
  const bver_host_v1* h = internal::current_host;
  if (h == nullptr || h->resolve == nullptr) {
    if (error != nullptr) *error = "no host callback available";
    return std::nullopt;
  }
  char* out = nullptr;
  std::size_t out_len = 0;
  int rc = h->resolve(h->ctx, pointer.data(), pointer.size(), &out, &out_len);
  std::string text = out != nullptr ? std::string(out, out_len) : std::string();
  if (out != nullptr) h->free(h->ctx, out);
  if (rc != 0) {
    if (error != nullptr) *error = text;
    return std::nullopt;
  }
  nlohmann::json v = nlohmann::json::parse(text, nullptr, false);
  if (v.is_discarded()) {
    if (error != nullptr) *error = "host answered non-JSON";
    return std::nullopt;
  }
  return v;
}

}  // namespace bver::plugin

// Defines the exported entry point for plugin `id` at `version` whose
// requests `handler` (nlohmann::json(const nlohmann::json&)) answers.
#define BVER_PLUGIN(id, version, handler)                                                      \
  namespace {                                                                                  \
  int BverPluginInvoke_(const bver_host_v1* host, const char* req, size_t len, char** resp,    \
                        size_t* resp_len) {                                                    \
    return ::bver::plugin::internal::Invoke(handler, host, req, len, resp, resp_len);          \
  }                                                                                            \
  void BverPluginFree_(char* p) { std::free(p); }                                              \
  const bver_plugin_v1 kBverPluginDescriptor_ = {                                              \
      BVER_PLUGIN_ABI_VERSION, sizeof(bver_plugin_v1), id, version, &BverPluginInvoke_,        \
      &BverPluginFree_};                                                                       \
  }                                                                                            \
  extern "C" __attribute__((visibility("default"))) const bver_plugin_v1* bver_plugin_entry(   \
      uint32_t host_abi_version) {                                                             \
    return host_abi_version == BVER_PLUGIN_ABI_VERSION ? &kBverPluginDescriptor_ : nullptr;    \
  }
