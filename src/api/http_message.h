// An HTTP request and response as plain values: what the transport (net/)
// hands to a handler and gets back. No Beast type and no domain type, so
// api/ stays transport-free and net/ stays domain-free.
//
// Thread safety: plain values.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bver::api {

struct HttpRequest {
  std::string method;  // "GET", ...
  std::string target;  // origin form: "/v1/refs/sites/site?where=a%3D1"
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // Set instead of `body` when the transport spooled a large body to a file
  // (net::ServerOptions::on_header): the path of that file, which the
  // transport removes once the handler has answered.
  std::string body_file;
  std::string remote;  // peer address, for logs

  // The first header named `name` (case-insensitive), or empty.
  std::string_view Header(std::string_view name) const;
};

// Where a streamed response (HttpResponse::stream) writes its body. Each
// Write goes out at once as one chunk (Transfer-Encoding: chunked).
class StreamSink {
 public:
  virtual ~StreamSink() = default;
  // False once the client has gone or a write stalled past the server's
  // request timeout: the producer should return.
  virtual bool Write(std::string_view bytes) = 0;
  // True when the producer should return: the server is stopping or the
  // client has closed its side.
  virtual bool Done() = 0;
};

struct HttpResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;  // Content-Length is set by the transport
  std::string body;
  // When set, the transport sends this file's bytes as the body instead of
  // `body` (streamed, in bounded memory). The file must not change until
  // the response is written.
  std::string body_file;
  // When set, a long-lived response (Server-Sent Events): the transport
  // sends the status and headers, then calls `stream` on a thread of its
  // own with a sink for the body, and closes the connection when it
  // returns. `body` and `body_file` are ignored.
  std::function<void(StreamSink&)> stream;
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

// The small RFC 9457 problem the transport itself answers (limits, timeouts):
// {"type","title","status","detail","code"} as application/problem+json.
HttpResponse TransportProblem(int status, std::string_view code, std::string_view title, std::string_view detail);

}  // namespace bver::api
