/* A native plugin built for an ABI the runtime does not speak: loading it
 * must be an error Status, never a crash. */
#include <stddef.h>

#include "bver/plugin/abi.h"

static int Invoke(const bver_host_v1* host, const char* req, size_t len, char** resp, size_t* resp_len) {
  (void)host;
  (void)req;
  (void)len;
  (void)resp;
  (void)resp_len;
  return 1;
}

static void FreeResponse(char* p) { (void)p; }

static const bver_plugin_v1 kDescriptor = {99u, sizeof(bver_plugin_v1), "bad-abi", "1.0.0", &Invoke,
                                           &FreeResponse};

/* Answers whatever host version it is asked for with a descriptor for ABI 99. */
__attribute__((visibility("default"))) const bver_plugin_v1* bver_plugin_entry(uint32_t host_abi_version) {
  (void)host_abi_version;
  return &kDescriptor;
}
