// MCP over Streamable HTTP (MCP 2025-11-25 basic/transports.mdx §Streamable
// HTTP) as a transport-free endpoint: an HTTP request for the MCP path in,
// the HTTP response out. `bver up` routes "/mcp" here (docs/mcp.md).
//
//   POST, a request        200 application/json with the one answer (or
//                          text/event-stream with one `message` event when
//                          the client accepts only that)
//   POST, a notification   202, empty body
//     or a response
//   GET, DELETE, others    405, Allow: POST (no server-initiated stream, no
//                          sessions: the server is stateless)
//
// Checked in this order, each refusal a JSON-RPC error body with id null:
//   Host         403 unless one of Options::allowed_hosts (skipped when that
//                list is empty); 400 when allowed_hosts is set and Host is
//                missing
//   Origin       403 when present and neither loopback (http[s]://localhost,
//                127.0.0.1, [::1], any port) nor one of allowed_origins
//   method       405
//   MCP-Protocol-Version   400 when present and not a supported revision;
//                absent means 2025-03-26 (the spec's rule)
//   X-Correlation-ID       400 when malformed; else used for tools/call
//                and resources/read (unless the message's _meta names
//                one; a new one when neither does) and echoed
//   Content-Type 415 unless application/json
//   Accept       406 when it allows neither application/json nor
//                text/event-stream
//   credentials  Authorization: Bearer / X-API-Key through the
//                Authenticator, as api::Rest: wrong ones are 401 with
//                WWW-Authenticate: Bearer; none at all run as
//                Principal::Local("mcp") with local_operator, else 401 (the
//                MCP authorization model: a protected server answers a
//                request without a token with 401)
//   body         400 with -32700 when not JSON, 400 with -32600 when not a
//                single JSON-RPC message
//
// Thread safety: Handle may be called from any number of threads.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "src/api/http_message.h"

namespace bver::auth {
class Authenticator;
}

namespace bver::mcp {

class Server;

class HttpEndpoint {
 public:
  struct Options {
    // Requests without credentials run as auth::Principal::Local("mcp"),
    // like api::Rest's local operator (a loopback server with auth off).
    bool local_operator = false;
    // Host header values accepted, "host" or "host:port", compared without
    // case. `bver up` on loopback fills in 127.0.0.1:PORT, localhost:PORT
    // and [::1]:PORT. Empty: Host is not checked (a server that requires
    // credentials on a non-loopback address).
    std::vector<std::string> allowed_hosts;
    // Origin values accepted besides the loopback ones, e.g.
    // "https://app.example.com" (scheme://host[:port], compared without case).
    std::vector<std::string> allowed_origins;
  };

  // `server` and `authenticator` (may be null: no credential is accepted)
  // must outlive this object.
  HttpEndpoint(const Server& server, const auth::Authenticator* authenticator, Options options);

  // Answers one request whose path is the MCP endpoint's. Never throws.
  api::HttpResponse Handle(const api::HttpRequest& request) const;

 private:
  const Server& server_;
  const auth::Authenticator* authenticator_;
  Options options_;
};

}  // namespace bver::mcp
