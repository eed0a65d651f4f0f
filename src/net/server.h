// An HTTP/1.1 server on Boost.Beast: a listener, keep-alive sessions, a pool
// of threads, and limits with clean answers. It knows no domain type: every
// request that passes the limits goes to one plain function,
// api::HttpRequest -> api::HttpResponse (api/http_message.h).
//
// Limits (each answered with a small problem+json, then the connection is closed):
//   body larger than body_limit           413
//   header block larger than header_limit 431
//   request not complete in request_timeout (slow headers or body)  408
//   more than max_connections open        503 to the extra connection
//   unparseable request                   400
// An idle keep-alive connection is closed after idle_timeout.
//
// Beast stays in server.cc: this header includes none of it.
//
// Thread safety: Start, then Run on one thread; Stop may be called from any
// thread (and SIGINT/SIGTERM stop it when handle_signals is set). The handler
// is called from the pool's threads concurrently.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "bver/status.h"
#include "src/api/http_message.h"

namespace bver::net {

struct ServerOptions {
  std::string address = "127.0.0.1";
  std::uint16_t port = 0;  // 0: the kernel picks a free port
  unsigned threads = 0;    // I/O threads; 0: std::thread::hardware_concurrency()
  // Threads that run the handlers of requests that may wait on the disk
  // (methods other than GET, HEAD, OPTIONS: writes waiting for their
  // commit), so that they neither hold the I/O threads nor cap how many
  // writes can share one group commit. 0: handlers run on the I/O threads.
  unsigned handler_threads = 0;
  std::size_t body_limit = 8u << 20;
  std::size_t header_limit = 16u << 10;
  std::chrono::milliseconds request_timeout{10000};
  std::chrono::milliseconds idle_timeout{60000};
  std::size_t max_connections = 1024;
  // Streamed responses (Server-Sent Events) open at once; 503 beyond.
  std::size_t max_streams = 256;
  bool handle_signals = true;  // SIGINT and SIGTERM call Stop

  // Called when a request's header has arrived, before any of its body is
  // read (`head.body` is empty). Answer a response to refuse the request
  // at once, without reading the body (say, 401 for a large upload without
  // credentials); or nullopt to go on, setting *spool to have the body read
  // into a file under spool_dir (HttpRequest::body_file, removed after the
  // handler answers) with spool_body_limit instead of body_limit. A client
  // that sent "Expect: 100-continue" is told to continue only then.
  std::function<std::optional<api::HttpResponse>(const api::HttpRequest& head, bool* spool)> on_header;
  std::string spool_dir = "/tmp";
  std::uint64_t spool_body_limit = std::uint64_t{4} << 30;
};

class Server {
 public:
  Server(ServerOptions options, api::HttpHandler handler);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and listens. InvalidArgument for an address that does not parse,
  // Unavailable when the port cannot be bound.
  Status Start();
  // The bound port (after Start).
  std::uint16_t port() const;
  // Serves until Stop (or a signal): stops accepting, lets in-flight
  // requests finish (bounded by request_timeout), then returns.
  void Run();
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace bver::net
