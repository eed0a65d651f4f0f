// The HTTP front door of a runtime: one listener for REST (with OpenAPI and
// /docs), MCP over Streamable HTTP at /mcp, artifacts, Server-Sent Events,
// health and metrics, with the authentication every route shares (API keys
// from the store, JWTs when .bver/auth.yaml configures them). `bver up` is
// this plus a status file (src/cli/serve_commands.cc).
//
// Routing, in order: /mcp, /v1/artifacts..., /v1/events/stream..., then REST
// (operation routes, /v1/ops/{id}, /healthz, /readyz, /metrics, /docs, /).
//
// Thread safety: Create, Start, then Run on one thread; Stop from any.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "bver/status.h"

namespace bver::api {
class Metrics;
}

namespace bver::server {

struct Runtime;

struct HttpFrontOptions {
  std::string host = "127.0.0.1";  // "localhost" means 127.0.0.1
  std::uint16_t port = 0;          // 0: the kernel picks one
  unsigned threads = 0;            // I/O threads (0: one per core)
  unsigned handler_threads = 16;   // threads for handlers that may wait on a commit
  long request_timeout_ms = 10000;
  std::size_t max_connections = 1024;
};

class HttpFront {
 public:
  // Builds every endpoint over `rt` (which, with `metrics`, must outlive
  // the front door). FailedPrecondition for a non-loopback host with auth
  // off: anyone who could reach it would act as admin.
  static Result<std::unique_ptr<HttpFront>> Create(Runtime& rt, api::Metrics& metrics, HttpFrontOptions options);
  ~HttpFront();

  // Binds the port. After it: port(), url().
  Status Start();
  // Serves until Stop (or SIGINT/SIGTERM), then returns once the requests
  // being handled have finished.
  void Run();
  void Stop();

  std::uint16_t port() const;
  std::string url() const;  // http://127.0.0.1:PORT
  // API keys or JWTs are configured: callers must authenticate. Without,
  // on loopback, callers act as the local operator.
  bool auth_configured() const;

 private:
  struct Impl;
  explicit HttpFront(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Whether `host` is a loopback address (127.0.0.0/8, ::1).
bool IsLoopback(const std::string& host);

}  // namespace bver::server
