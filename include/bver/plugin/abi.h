/* The native plugin ABI: the one plain-C header between the BVER runtime and
 * a plugin shared object (.so).
 *
 * A native plugin exports exactly one symbol:
 *
 *   const bver_plugin_v1* bver_plugin_entry(uint32_t host_abi_version);
 *
 * The host calls it once after dlopen(RTLD_NOW | RTLD_LOCAL) with the ABI
 * version it speaks (BVER_PLUGIN_ABI_VERSION). The plugin returns its
 * descriptor, or NULL when it cannot serve that host version. The host checks
 * the descriptor's abi_version, plugin_id and version against the plugin's
 * manifest (bver_plugin.yaml); any mismatch is an error the host reports,
 * never a crash.
 *
 * Requests and responses are JSON texts, the same objects the exec protocol
 * sends on stdin and expects on stdout (docs/plugins.md):
 *   request:  {"bver_plugin_protocol":1, "capability", "version", "input",
 *              "resolved", "related", "job": {"id", "attempt"}}
 *   response: {"ok": true, "output": {...}}
 *          or {"ok": false, "error": {"code": "...", "message": "..."}}
 *
 * Rules of the boundary: only the C types below cross it; no exception may
 * leave a function of either side (a C++ plugin catches everything, which
 * include/bver/plugin/plugin.hpp does for you); memory is freed by the side
 * that allocated it (the plugin's response by free_response, the host's
 * resolve answers by host->free).
 *
 * Threads: the host may call invoke from several threads at once, each with
 * its own request; a plugin keeps no unsynchronized mutable state. The host
 * struct and its callbacks are valid only during the invoke call they are
 * passed to.
 *
 * A native plugin runs inside the runtime's process: it is trusted and fast,
 * and a crash in it takes the runtime down. Run untrusted code as an exec
 * plugin instead.
 */
#ifndef BVER_PLUGIN_ABI_H_
#define BVER_PLUGIN_ABI_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BVER_PLUGIN_ABI_VERSION 1u

/* The name of the one exported entry symbol. */
#define BVER_PLUGIN_ENTRY_SYMBOL "bver_plugin_entry"

/* Log levels of bver_host_v1.log. */
#define BVER_LOG_DEBUG 0
#define BVER_LOG_INFO 1
#define BVER_LOG_WARN 2
#define BVER_LOG_ERROR 3

typedef struct bver_host_v1 {
  /* BVER_PLUGIN_ABI_VERSION of the host. */
  uint32_t abi_version;
  /* sizeof(bver_host_v1) as the host compiled it: later versions only append. */
  uint32_t struct_size;
  /* Opaque; pass it back to the callbacks. */
  void* ctx;
  /* Records one log line (UTF-8, `len` bytes, not necessarily NUL-ended). */
  void (*log)(void* ctx, int level, const char* message, size_t len);
  /* Resolves a pointer ("bver://ns/repo/id", optionally "~N") among the
   * references the runtime pinned for this invocation. Returns 0 and sets
   * *json_out / *json_len to {"pointer": pinned, "kind": ..., "body": {...}}
   * (host-owned memory: release it with free), or a non-zero value with
   * *json_out set to an error message (also released with free) or NULL. */
  int (*resolve)(void* ctx, const char* pointer, size_t len, char** json_out, size_t* json_len);
  /* Frees memory the host handed out through resolve. */
  void (*free)(void* ctx, char* p);
} bver_host_v1;

typedef struct bver_plugin_v1 {
  /* Must be BVER_PLUGIN_ABI_VERSION as the plugin was compiled with. */
  uint32_t abi_version;
  /* sizeof(bver_plugin_v1) as the plugin compiled it. */
  uint32_t struct_size;
  /* NUL-terminated; must equal the manifest's plugin_id and version. */
  const char* plugin_id;
  const char* version;
  /* Runs one request. Returns 0 when *response_json / *response_len hold a
   * response (the plugin's memory, released by free_response), non-zero when
   * the plugin could not produce one at all. */
  int (*invoke)(const bver_host_v1* host, const char* request_json, size_t request_len,
                char** response_json, size_t* response_len);
  /* Frees a response returned by invoke. */
  void (*free_response)(char* response_json);
} bver_plugin_v1;

typedef const bver_plugin_v1* (*bver_plugin_entry_fn)(uint32_t host_abi_version);

#ifdef __cplusplus
}  /* extern "C" */
#endif

#endif  /* BVER_PLUGIN_ABI_H_ */
